"""PyTorch tensors, state_dicts and modules as safetensors, never ``torch.load``.

``torch.save``/``torch.load`` are pickle: a planted ``.pt`` runs code. Flowy
stores tensors as safetensors (see :mod:`flowy_materializers._safetensors`).

A module is stored as its ``state_dict`` plus what it takes to rebuild it:
the importable class path and the constructor arguments. Arguments are
captured in this order:

1. ``module.flowy_init_args``, a JSON-serializable mapping the module sets in
   its ``__init__`` (``self.flowy_init_args = {"hidden": hidden}``), or that
   the :func:`record_init_args` class decorator sets from the call;
2. nothing, when every ``__init__`` parameter has a default.

Anything else is refused on save, with a message that says how to fix it:
guessing arguments from attributes would silently rebuild the wrong shape.
A class defined in a pipeline file is recorded under the file's
project-relative module path (``pipeline:Regressor``), never the internal
name Flowy imports the file under. Loading finds the class again from the
project (:func:`flowy.run.loader.import_recorded`: the project's file, or an
installed package; it must be a subclass of ``torch.nn.Module``), calls it
with the recorded arguments, loads the weights strictly and restores
train/eval mode.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, TypeVar

from flowy.kernel.contracts import Materializer
from flowy.kernel.errors import FlowyError
from flowy.run import import_recorded, importable_name

from flowy_materializers import _safetensors

T = TypeVar("T")
_TENSOR = "torch.Tensor"
_SINGLE = "tensor"


def _is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor, judged by type names (imports no torch)."""
    return any(f"{k.__module__}.{k.__qualname__}" == _TENSOR for k in type(value).__mro__)


def record_init_args(cls: type[T]) -> type[T]:
    """Class decorator: remember the arguments ``__init__`` was called with.

    Sets ``self.flowy_init_args`` to the bound arguments (defaults applied)
    when an instance of exactly this class is built, so the module
    materializer can rebuild it. The arguments must be JSON-serializable.
    """
    original = cls.__init__
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if type(self) is cls:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            for name, param in signature.parameters.items():
                if param.kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(arguments.pop(name, {}))
            self.flowy_init_args = arguments  # type: ignore[attr-defined]

    cls.__init__ = __init__  # type: ignore[misc,method-assign]
    return cls


def _init_args(module: Any) -> dict[str, Any]:
    cls = type(module)
    args = getattr(module, "flowy_init_args", None)
    if args is None:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        required = [
            p.name
            for p in params
            if p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        if required:
            raise FlowyError(
                f"Cannot store {cls.__qualname__}: rebuilding it needs constructor arguments "
                f"({', '.join(required)}) that were not recorded. Set "
                f"`self.flowy_init_args = {{{', '.join(f'{r!r}: {r}' for r in required)}}}` in "
                "its __init__, or decorate the class with "
                "`flowy_materializers.torch_materializer.record_init_args`."
            )
        args = {}
    try:
        return dict(json.loads(json.dumps(dict(args))))
    except (TypeError, ValueError) as exc:
        raise FlowyError(
            f"Cannot store {cls.__qualname__}: flowy_init_args must be JSON-serializable ({exc})."
        ) from exc


def _class_path(cls: type) -> str:
    if "<locals>" in cls.__qualname__ or cls.__module__ == "__main__":
        where = "inside a function" if "<locals>" in cls.__qualname__ else "in __main__"
        raise FlowyError(
            f"Cannot store {cls.__qualname__}: its class must be importable to rebuild it, but "
            f"it is defined {where}. "
            "Define it at the top level of a module (your pipeline file is fine)."
        )
    # A pipeline file's module has an internal name; record its project-relative path.
    return f"{importable_name(cls.__module__)}:{cls.__qualname__}"


def _import_module_class(path: str) -> Any:
    import torch

    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = import_recorded(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        where = module_name.replace(".", "/")
        raise FlowyError(
            f"Cannot rebuild the torch module {path}: {exc}. Load it from the project folder "
            f"that holds {where}.py (or set FLOWY_PROJECT to it), or install the package "
            f"that provides {module_name!r}."
        ) from exc
    if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
        raise FlowyError(f"{path} is not a torch.nn.Module subclass; refusing to call it.")
    return obj


def _tensor_summary(tensors: Mapping[str, Any]) -> dict[str, Any]:
    items = list(tensors.items())
    return {
        "parameter_count": int(sum(t.numel() for _, t in items)),
        "n_tensors": len(items),
        "shapes": {k: list(t.shape) for k, t in items[:200]},
        "dtypes": sorted({str(t.dtype).removeprefix("torch.") for _, t in items}),
    }


class TorchTensorMaterializer(Materializer):
    """``torch.Tensor`` and dicts of tensors (state_dicts) as safetensors."""

    name = "torch"
    version = "1"
    extension = ".safetensors"

    def accepts(self, obj: Any) -> bool:
        if isinstance(obj, dict):
            return bool(obj) and all(isinstance(k, str) and _is_tensor(v) for k, v in obj.items())
        return not getattr(obj, "is_sparse", False)

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        if isinstance(obj, dict):
            _safetensors.write(obj, file, {"format": "pt"})
            meta = _tensor_summary(obj)
            meta.update(kind="dict", container=type(obj).__name__)
            return meta
        _safetensors.write({_SINGLE: obj}, file, {"format": "pt"})
        return {
            "kind": "tensor",
            "shape": list(obj.shape),
            "dtype": str(obj.dtype).removeprefix("torch."),
            "parameter_count": int(obj.numel()),
            "requires_grad": bool(obj.requires_grad),
            "parameter": type(obj).__name__ == "Parameter",
            "device": str(obj.device),
        }

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        _, tensors = _safetensors.read(file)
        data = dict(tensors)
        if metadata.get("kind") != "tensor":
            if metadata.get("container") == "OrderedDict":
                from collections import OrderedDict

                return OrderedDict(sorted(data.items()))
            return data
        t = data[_SINGLE]
        if metadata.get("parameter"):
            import torch

            return torch.nn.Parameter(t, requires_grad=bool(metadata.get("requires_grad")))
        return t.requires_grad_(bool(metadata.get("requires_grad")))


class TorchModuleMaterializer(Materializer):
    """``torch.nn.Module``: state_dict as safetensors, rebuilt from class and init args."""

    name = "torch_module"
    version = "1"
    extension = ".safetensors"

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        cls = type(obj)
        path = _class_path(cls)
        args = _init_args(obj)
        state = obj.state_dict()
        _safetensors.write(
            state, file, {"format": "pt", "class": path, "init_args": json.dumps(args)}
        )
        meta = _tensor_summary(state)
        meta.update(
            kind="module",
            module_class=path,
            init_args=args,
            training=bool(obj.training),
            parameter_count=int(sum(p.numel() for p in obj.parameters())),
            trainable_parameter_count=int(
                sum(p.numel() for p in obj.parameters() if p.requires_grad)
            ),
        )
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        header, tensors = _safetensors.read(file)
        path = metadata.get("module_class") or header.get("class", "")
        args = metadata.get("init_args")
        if args is None:
            args = json.loads(header.get("init_args", "{}"))
        cls = _import_module_class(str(path))
        state = dict(tensors)
        build: Callable[..., Any] = cls
        module = build(**args)
        module.load_state_dict(state, strict=True)
        module.train(bool(metadata.get("training", False)))
        return module
