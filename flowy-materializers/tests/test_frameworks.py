"""Framework-specific behaviour beyond the contract: refusals, metadata, interop."""

from __future__ import annotations

import importlib
import io
from pathlib import Path
from typing import Any

import pytest
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.store_io import read_artifact, write_artifact
from flowy.kernel.errors import FlowyError, MaterializerNotFoundError
from flowy.kernel.plugins import create_plugin_manager


@pytest.fixture
def registry() -> MaterializerRegistry:
    plugin = importlib.import_module("flowy_materializers.plugin")
    manager = create_plugin_manager(entrypoints=False, plugins=[("flowy-materializers", plugin)])
    return MaterializerRegistry(manager.registry)


@pytest.fixture
def roundtrip(tmp_path: Path, registry: MaterializerRegistry):
    from flowy_store_sqlite.local_store import LocalArtifactStore

    store = LocalArtifactStore(str(tmp_path / "artifacts"))

    def run(obj: Any) -> tuple[Any, Any]:
        ref = write_artifact(store, "r/s/o", "o", obj, registry)
        return ref, read_artifact(store, ref, registry)

    return run


def test_numpy_metadata_is_json_even_with_nan(roundtrip):
    import numpy as np

    ref, _ = roundtrip(np.array([np.nan, 1.0, 3.0]))
    assert ref.metadata["min"] == 1.0 and ref.metadata["mean"] == 2.0
    ref, _ = roundtrip(np.array([np.inf, 1.0]))
    assert ref.metadata["max"] == "inf"


def test_numpy_reads_files_written_by_np_save(roundtrip, tmp_path):
    import numpy as np
    from flowy_materializers.numpy_materializer import read_npy

    buffer = io.BytesIO()
    np.save(buffer, np.arange(10).reshape(2, 5))
    buffer.seek(0)
    np.testing.assert_array_equal(read_npy(buffer), np.arange(10).reshape(2, 5))


def test_truncated_npy_is_a_clear_error():
    import numpy as np
    from flowy_materializers.numpy_materializer import read_npy

    buffer = io.BytesIO()
    np.save(buffer, np.arange(100.0))
    with pytest.raises(FlowyError, match="truncated"):
        read_npy(io.BytesIO(buffer.getvalue()[:-8]))


def test_frame_with_duplicate_columns_is_refused(registry):
    import pandas as pd

    with pytest.raises(MaterializerNotFoundError, match="'pandas' materializer refused"):
        registry.resolve(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_large_frame_is_written_in_several_row_groups(roundtrip, monkeypatch):
    import numpy as np
    import pandas as pd
    from flowy_materializers import _parquet

    monkeypatch.setattr(_parquet, "SLICE_BYTES", 1 << 16)
    frame = pd.DataFrame({"a": np.arange(20_000.0), "c": pd.Categorical(["x", "y"] * 10_000)})
    ref, back = roundtrip(frame)
    pd.testing.assert_frame_equal(back, frame)
    assert ref.metadata["summary"]["c"] == {"dtype": "category", "nulls": 0, "categories": 2,
                                            "ordered": False}  # fmt: skip


@pytest.mark.parametrize("slice_bytes", [1 << 30, 1 << 12])  # one row group, many
def test_loaded_frames_can_be_modified_in_place(roundtrip, monkeypatch, slice_bytes):
    """A step may change the frame it was given: no column is a read-only view of Arrow."""
    import numpy as np
    import pandas as pd
    from flowy_materializers import _parquet

    monkeypatch.setattr(_parquet, "SLICE_BYTES", slice_bytes)
    n = 2_000
    frame = pd.DataFrame(
        {
            "f": np.arange(n, dtype=float),
            "i": np.arange(n),
            "nullable": pd.array([None, *range(n - 1)], dtype="Int64"),
            "t": pd.date_range("2024-01-01", periods=n, freq="min", tz="Europe/Paris"),
            "c": pd.Categorical(["a", "b"] * (n // 2)),
            "s": ["x", "y"] * (n // 2),
        }
    )
    _, back = roundtrip(frame)
    pd.testing.assert_frame_equal(back, frame)
    for column in back.columns:
        back.loc[0, column] = back[column].iloc[2]
    back["f"] *= 2
    back.iloc[1, 0] = -1.0
    assert back["f"].iloc[1] == -1.0 and back["f"].iloc[0] == 4.0
    assert back.loc[0, "t"] == frame.loc[2, "t"] and back.loc[0, "c"] == "a"
    _, series = roundtrip(frame["f"])
    series.iloc[0] = 7.0
    assert series.iloc[0] == 7.0


def test_frame_statistics_gathered_while_writing_match_pandas(roundtrip, monkeypatch):
    """Numeric summaries come from each written slice; they must equal pandas' own."""
    import numpy as np
    import pandas as pd
    from flowy_materializers import _parquet

    monkeypatch.setattr(_parquet, "SLICE_BYTES", 1 << 14)  # many slices
    n = 5_000
    rng = np.random.default_rng(3)
    floats = rng.normal(size=n)
    floats[::7] = np.nan
    frame = pd.DataFrame(
        {
            "f": floats,
            "i": pd.array([None if k % 11 == 0 else k - 900 for k in range(n)], dtype="Int64"),
            "u": np.arange(n, dtype=np.uint64) + np.uint64(2**63),
            "inf": np.where(np.arange(n) == 4_000, np.inf, 1.0),
            "empty": np.full(n, np.nan),
            "half": np.ones(n, dtype=np.float16),
            "b": np.arange(n) % 2 == 0,
            "s": ["x", None] * (n // 2),
        }
    )
    ref, back = roundtrip(frame)
    pd.testing.assert_frame_equal(back, frame)
    summary = ref.metadata["summary"]
    for col in ("f", "i", "u", "half"):
        values = frame[col].astype("float64")
        assert summary[col]["nulls"] == int(values.isna().sum()), col
        assert summary[col]["min"] == pytest.approx(values.min()), col
        assert summary[col]["max"] == pytest.approx(values.max()), col
        assert summary[col]["mean"] == pytest.approx(values.mean(), rel=1e-12), col
    assert summary["inf"]["max"] == "inf" and summary["inf"]["min"] == 1.0
    assert summary["empty"] == {"dtype": "float64", "nulls": n}
    assert summary["b"] == {"dtype": "bool", "nulls": 0}
    assert summary["s"] == {"dtype": str(frame["s"].dtype), "nulls": n // 2}
    assert ref.metadata["null_counts"]["f"] == int(np.isnan(floats).sum())


def test_dictionary_encoding_only_for_repetitive_columns(roundtrip):
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    n = 100_000
    frame = pd.DataFrame(
        {
            "measured": np.random.default_rng(0).random(n),
            "label": np.array(["low", "mid", "high"])[np.arange(n) % 3],
            "bucket": np.arange(n) % 10,
            "cat": pd.Categorical(["a", "b"] * (n // 2)),
        }
    )
    ref, back = roundtrip(frame)
    pd.testing.assert_frame_equal(back, frame)
    group = pq.ParquetFile(ref.uri).metadata.row_group(0)
    encodings = {
        group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)
    }
    assert "RLE_DICTIONARY" not in encodings["measured"]
    for repetitive in ("label", "bucket", "cat"):
        assert "RLE_DICTIONARY" in encodings[repetitive], repetitive


def test_numpy_statistics_are_exact_across_blocks(roundtrip):
    import numpy as np
    from flowy_materializers.numpy_materializer import STATS_BLOCK

    rng = np.random.default_rng(1)
    values = rng.normal(size=3 * STATS_BLOCK + 17)
    ref, back = roundtrip(values)
    np.testing.assert_array_equal(back, values)
    assert ref.metadata["min"] == values.min() and ref.metadata["max"] == values.max()
    assert ref.metadata["mean"] == pytest.approx(values.mean(), rel=1e-12)
    values[STATS_BLOCK + 5] = np.nan
    ref, _ = roundtrip(values)
    assert ref.metadata["min"] == np.nanmin(values) and ref.metadata["max"] == np.nanmax(values)
    assert ref.metadata["mean"] == pytest.approx(np.nanmean(values), rel=1e-12)
    ints = np.arange(2 * STATS_BLOCK + 3, dtype=np.int64).reshape(-1, 1)[::-1]
    ref, _ = roundtrip(np.asfortranarray(ints))
    assert ref.metadata["mean"] == ints.mean() and ref.metadata["max"] == ints.max()
    ref, _ = roundtrip(ints[::2])  # strided: reduced in place, not block by block
    assert ref.metadata["mean"] == ints[::2].mean()


@pytest.mark.slow
def test_torch_module_without_recorded_arguments_is_refused(roundtrip):
    import fm_models

    with pytest.raises(FlowyError, match="flowy_init_args"):
        roundtrip(fm_models.NoDefaults(3))
    ref, back = roundtrip(fm_models.Defaults())
    assert ref.metadata["init_args"] == {} and isinstance(back, fm_models.Defaults)


@pytest.mark.slow
def test_torch_module_defined_in_a_function_is_refused(roundtrip):
    import torch

    class Local(torch.nn.Module):
        pass

    with pytest.raises(FlowyError, match="importable"):
        roundtrip(Local())


@pytest.mark.slow
def test_safetensors_files_are_interoperable():
    import safetensors.torch
    import torch
    from flowy_materializers import _safetensors

    tensors = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2, dtype=torch.int64)}
    buffer = io.BytesIO()
    _safetensors.write(tensors, buffer, {"k": "v"})
    theirs = safetensors.torch.load(buffer.getvalue())
    assert all(torch.equal(theirs[k], tensors[k]) for k in tensors)
    meta, read = _safetensors.read(io.BytesIO(safetensors.torch.save(tensors, {"m": "1"})))
    ours = dict(read)
    assert meta == {"m": "1"} and all(torch.equal(ours[k], tensors[k]) for k in tensors)


@pytest.mark.slow
def test_malformed_safetensors_header_is_refused():
    import struct

    from flowy_materializers import _safetensors

    header = b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
    data = struct.pack("<Q", len(header)) + header + bytes(12)
    with pytest.raises(_safetensors.SafetensorsError, match="expected it to start at 0"):
        _safetensors.read_header(io.BytesIO(data))


@pytest.mark.slow
def test_plain_dict_with_tensors_and_other_values_is_not_a_state_dict(registry):
    import torch

    assert registry.resolve({"w": torch.ones(1)})[0].name == "torch"
    with pytest.raises(MaterializerNotFoundError):
        registry.resolve({"w": torch.ones(1), "n": 3})  # JSON cannot hold the tensor either
