"""The naming and history-row rules of flowy_wandb.mapping, and that discovery stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flowy.kernel.records import MetricRecord
from flowy_wandb.mapping import (
    artifact_name,
    config_value,
    metric_rows,
    project_name,
    reference_uri,
)


def test_a_series_keeps_its_index_on_the_steps_own_axis() -> None:
    metrics = [MetricRecord("loss", 1.0 / (i + 1), step=i) for i in range(3)]
    assert list(metric_rows("train", metrics)) == [
        {"train/_step": 0, "train/loss": 1.0},
        {"train/_step": 1, "train/loss": 0.5},
        {"train/_step": 2, "train/loss": 1.0 / 3},
    ]


def test_values_at_the_same_index_share_a_row_and_a_repeated_name_starts_another() -> None:
    metrics = [
        MetricRecord("loss", 0.9, step=0),
        MetricRecord("acc", 0.1, step=0),
        MetricRecord("loss", 0.8, step=0),  # logged twice at one index: both kept, in order
        MetricRecord("loss", 0.7, step=1),
    ]
    assert list(metric_rows("fit", metrics)) == [
        {"fit/_step": 0, "fit/loss": 0.9, "fit/acc": 0.1},
        {"fit/_step": 0, "fit/loss": 0.8},
        {"fit/_step": 1, "fit/loss": 0.7},
    ]


def test_values_without_an_index_are_numbered_in_order_per_name() -> None:
    metrics = [MetricRecord("acc", 0.5), MetricRecord("f1", 0.4), MetricRecord("acc", 0.6)]
    assert list(metric_rows("eval", metrics)) == [
        {"eval/_step": 0, "eval/acc": 0.5, "eval/f1": 0.4},
        {"eval/_step": 1, "eval/acc": 0.6},
    ]


def test_nan_and_infinity_pass_as_floats() -> None:
    metrics = [MetricRecord("x", float("nan")), MetricRecord("y", float("inf"))]
    rows = list(metric_rows("s", metrics))
    assert rows[0]["s/x"] != rows[0]["s/x"] and rows[0]["s/y"] == float("inf")


def test_project_names_lose_what_wandb_refuses() -> None:
    assert project_name("churn model: v2/eu?") == "churn-model--v2-eu-"
    assert project_name("x" * 300) == "x" * 128
    assert project_name("  ") == "flowy"


def test_artifact_names_are_valid_and_bounded() -> None:
    assert artifact_name("mlpipe", "sub.train") == "mlpipe-sub.train"
    long = artifact_name("p" * 128, "s" * 128)
    assert len(long) == 128 and long != artifact_name("p" * 128, "s" * 127 + "t")


def test_local_paths_become_file_uris_and_store_uris_stay() -> None:
    assert reference_uri("/data/a b.json") == Path("/data/a b.json").as_uri()
    assert reference_uri("s3://bucket/key.json") == "s3://bucket/key.json"


def test_config_values_stay_native_unless_json_cannot_hold_them() -> None:
    assert config_value({"a": [1, 2.5, None]}) == {"a": [1, 2.5, None]}
    assert config_value({1, 2}) == "{1, 2}"


def test_discovering_the_plugin_never_imports_wandb() -> None:
    code = (
        "import sys, flowy_wandb.plugin, flowy_wandb.tracker;"
        "from flowy_wandb.tracker import WandbTracker; WandbTracker(mode='offline');"
        "assert 'wandb' not in sys.modules, 'wandb imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_lost_service_is_told_from_other_errors_through_the_cause_chain() -> None:
    from flowy_wandb.service import service_gone

    class MailboxClosedError(Exception):  # as wandb names it, in an internal module
        pass

    try:
        try:
            raise ConnectionResetError("Connection lost")
        except ConnectionResetError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert service_gone(wrapped)
    assert service_gone(MailboxClosedError())
    assert not service_gone(ValueError("Path 'file:///x' must be a valid file"))
