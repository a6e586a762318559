"""The safetensors format, written and read through a stream, one tensor at a time.

The ``safetensors`` library builds the whole file in memory (``save``) or
needs a path it can memory-map (``save_file``/``load_file``). Flowy writes
through the store's forward-only file handle, so this module implements the
(small, data-only) format directly: an 8-byte little-endian header length, a
JSON header mapping each name to ``dtype``, ``shape`` and ``data_offsets``
(plus a ``__metadata__`` map of strings), then the raw little-endian bytes.
Files are byte-compatible with the library in both directions (tested), each
tensor is copied straight from its storage into the file and read straight
back into a freshly allocated tensor, and nothing in a file is executed: a
malformed header is an error, never code.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.kernel.errors import FlowyError

if TYPE_CHECKING:
    import torch

MAX_HEADER = 100 << 20
_CODES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
    "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8",
    "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    "complex64": "C64",
}  # fmt: skip


class SafetensorsError(FlowyError):
    """A file is not valid safetensors (truncated, inconsistent offsets, unknown dtype)."""


def _code(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    try:
        return _CODES[name]
    except KeyError:
        raise FlowyError(f"safetensors cannot store tensors of dtype {name}") from None


def _dtype(code: str) -> torch.dtype:
    import torch

    for name, c in _CODES.items():
        if c == code:
            return getattr(torch, name)  # type: ignore[no-any-return]
    raise SafetensorsError(f"unknown safetensors dtype {code!r}")


def _bytes_view(t: torch.Tensor) -> memoryview:
    """The bytes of a contiguous CPU tensor, without copying."""
    import torch

    return memoryview(t.reshape(-1).view(torch.uint8).numpy())  # type: ignore[arg-type]


def write(tensors: Mapping[str, torch.Tensor], file: BinaryIO, metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` (any device, any layout) to ``file`` as safetensors."""
    if sys.byteorder != "little":  # pragma: no cover - every supported platform is
        raise FlowyError("safetensors files are little-endian; this platform is not")
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    names = sorted(tensors)
    for name in names:
        t = tensors[name]
        nbytes = t.numel() * t.element_size()
        header[name] = {
            "dtype": _code(t.dtype),
            "shape": list(t.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as the library does
    file.write(struct.pack("<Q", len(raw)))
    file.write(raw)
    for name in names:
        # One tensor at a time: a non-contiguous or GPU tensor is copied alone.
        t = tensors[name].detach().to("cpu").contiguous()
        if t.numel():
            file.write(_bytes_view(t))


def _read_exact(file: BinaryIO, n: int) -> bytes:
    data = file.read(n)
    if len(data) != n:
        raise SafetensorsError(f"the file ends early (wanted {n} bytes, got {len(data)})")
    return data


def read_header(file: BinaryIO) -> tuple[dict[str, str], list[tuple[str, dict[str, Any]]]]:
    """The ``__metadata__`` map and the tensor entries in file order, validated."""
    first = _read_exact(file, 8)
    (size,) = struct.unpack("<Q", first)
    if size > MAX_HEADER and first.startswith((b"PK\x03\x04", b"\x80")):
        raise SafetensorsError(
            "This is not a safetensors file: it looks like a torch.save (pickle) file, and "
            "loading one can run code, so Flowy does not. Re-save the tensors with Flowy "
            "(return them from a step). If you trust the file, store and load it with the "
            "pickle materializer under the opt-in (`@step(allow_pickle=True)`)."
        )
    if size > MAX_HEADER:
        raise SafetensorsError(f"header of {size} bytes is larger than {MAX_HEADER}")
    try:
        header = json.loads(_read_exact(file, size))
    except ValueError as exc:
        raise SafetensorsError(f"the header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise SafetensorsError("the header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    try:
        entries = sorted(header.items(), key=lambda kv: int(kv[1]["data_offsets"][0]))
        spans = [(name, *map(int, info["data_offsets"])) for name, info in entries]
        for _, info in entries:
            _dtype(info["dtype"]), [int(d) for d in info["shape"]]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SafetensorsError(f"malformed header entry: {exc!r}") from exc
    position = 0
    for name, start, end in spans:
        if start != position or end < start:
            raise SafetensorsError(
                f"tensor {name!r} has offsets {start}..{end}; expected it to start at {position}"
            )
        position = end
    return meta, entries


def read(file: BinaryIO) -> tuple[dict[str, str], Iterator[tuple[str, torch.Tensor]]]:
    """The file's metadata and an iterator of ``(name, tensor)`` read in file order."""
    meta, entries = read_header(file)

    def tensors() -> Iterator[tuple[str, torch.Tensor]]:
        import torch

        for name, info in entries:
            start, end = info["data_offsets"]
            t = torch.empty(info["shape"], dtype=_dtype(info["dtype"]))
            if t.numel() * t.element_size() != end - start:
                raise SafetensorsError(f"tensor {name!r}: shape and byte size disagree")
            if t.numel():
                view = _bytes_view(t)
                filled = 0
                while filled < len(view):
                    n = file.readinto(view[filled:])  # type: ignore[attr-defined]
                    if not n:
                        raise SafetensorsError(f"the file ends inside tensor {name!r}")
                    filled += n
            yield name, t

    return meta, tensors()
