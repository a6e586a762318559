"""``flowy model predict``: files predicted in batches, recorded as runs with lineage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serve_support import run_flowy

pytestmark = pytest.mark.slow


def _rows(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n),
         "region": rng.choice(["north", "south", "east"], size=n)}
    )  # fmt: skip


def _expected(project: Path, env: dict[str, str], frame: pd.DataFrame, method: str) -> Any:
    """What the registered model predicts in process (loaded the documented way)."""
    import os

    from flowy.tracking import Client

    old = {k: os.environ.get(k) for k in ("FLOWY_HOME",)}
    os.environ["FLOWY_HOME"] = env["FLOWY_HOME"]
    try:
        with Client(project=project) as client:
            model = client.models.load("churn", version=1)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    frame = frame.assign(region=frame["region"].astype("category"))
    return getattr(model, method)(frame)


def test_parquet_and_csv_are_predicted_in_batches_as_a_recorded_run(
    trained: Any, tmp_path: Path
) -> None:
    project, env = trained("sklearn", "churn")
    frame = _rows(1000)
    frame.to_parquet(tmp_path / "rows.parquet", row_group_size=300)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "out" / "preds.parquet"
    done = run_flowy(
        project, env, "model", "predict", "churn", "--input", str(tmp_path / "rows.parquet"),
        "--output", str(out), "--batch-rows", "128", "--json",
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["rows"] == 1000 and result["version"] == 1
    assert done.stderr.count("rows predicted") == 8  # 1000 rows, 128 at a time
    predicted = pd.read_parquet(out)["prediction"].to_numpy()
    np.testing.assert_array_equal(predicted, _expected(project, env, frame, "predict"))

    proba_out = tmp_path / "proba.parquet"
    run_flowy(
        project, env, "model", "predict", "churn@production", "-i", str(tmp_path / "rows.csv"),
        "-o", str(proba_out), "--method", "predict_proba",
    )  # fmt: skip
    proba = pd.read_parquet(proba_out)
    assert list(proba.columns) == ["proba_0", "proba_1"]
    np.testing.assert_allclose(proba.to_numpy(), _expected(project, env, frame, "predict_proba"))

    runs = json.loads(run_flowy(project, env, "runs", "list", "--json").stdout)
    mine = next(r for r in runs if r["run_id"] == result["run_id"])
    assert mine["pipeline"] == "predict-churn" and mine["status"] == "completed"
    lineage = json.loads(
        run_flowy(
            project, env, "artifacts", "lineage", result["predictions"], "--upstream", "--json"
        ).stdout
    )
    model_id = json.loads(run_flowy(project, env, "model", "show", "churn", "--json").stdout)[
        "artifact_id"
    ]
    ancestors = {a["artifact_id"] if isinstance(a, dict) else a for a in lineage["upstream"]}
    assert model_id in ancestors
    names = {info["name"] for info in lineage["artifacts"].values()}
    assert {"data", "train", "train_set", "generate"} <= names


def test_bad_rows_fail_with_the_rows_named_and_no_output(trained: Any, tmp_path: Path) -> None:
    project, env = trained("sklearn", "churn")
    _rows(50).drop(columns="x2").to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "preds.parquet"
    done = run_flowy(
        project, env, "model", "predict", "churn", "-i", str(tmp_path / "rows.csv"),
        "-o", str(out), code=1,
    )  # fmt: skip
    assert "rows.csv, rows 0-" in done.stderr and "missing column(s) 'x2'" in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "rows.csv"]
    runs = json.loads(run_flowy(project, env, "runs", "list", "--json").stdout)
    assert any(r["pipeline"] == "predict-churn" and r["status"] == "failed" for r in runs)
    wrong = run_flowy(
        project, env, "model", "predict", "churn", "-i", str(tmp_path / "rows.csv"),
        "-o", str(tmp_path / "p.csv"), code=1,
    )  # fmt: skip
    assert "*.parquet" in wrong.stderr


def test_an_npy_file_feeds_an_array_model(trained: Any, tmp_path: Path) -> None:
    project, env = trained("pytorch", "regressor")
    np.save(tmp_path / "rows.npy", np.random.default_rng(0).normal(size=(300, 4)))
    out = tmp_path / "preds.parquet"
    run_flowy(
        project, env, "model", "predict", "regressor", "-i", str(tmp_path / "rows.npy"),
        "-o", str(out), "--batch-rows", "100",
    )  # fmt: skip
    assert pd.read_parquet(out).shape == (300, 1)
