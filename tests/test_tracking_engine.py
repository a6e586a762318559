"""The tracking API in the engine, in process: log_artifact, batched metrics, experiments, facts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from blake3 import blake3
from flowy import Context, Pipeline, hookimpl, step
from flowy.kernel.errors import FlowyError
from flowy.run.engine import run_pipeline
from flowy.tracking.client import Client


def test_log_artifact_stores_the_file_and_keeps_the_cache_exact(project, plugins, tmp_path):
    import flowy

    report = tmp_path / "report file.html"

    @step
    def make(n):
        report.write_text(f"<p>{n}</p>")
        flowy.log_artifact(report)
        flowy.log_artifact(report)  # the same name again: made unique
        report.unlink()  # stored already: the original may go
        return n

    @step
    def after(make):
        return make + 1

    p = Pipeline("files", [make, after], context=Context(n=1))
    first = run_pipeline(p, plugins=plugins)
    assert first.ok and first["after"] == 2
    assert set(first.artifacts) == {"make", "after"}  # logged files are not outputs
    outputs = first.steps["make"].outputs
    assert set(outputs) == {"make", "report_file.html", "report_file-2.html"}
    with Client(plugins=plugins) as client:
        ref = client.artifact(outputs["report_file.html"])
        assert ref.materializer == "file" and ref.metadata["filename"] == "report file.html"
        assert ref.metadata["media_type"] == "text/html"
        assert client.load(ref) == b"<p>1</p>"
        assert ref.checksum == "blake3:" + blake3(b"<p>1</p>").hexdigest()
        assert ref.uri.endswith("/make/logged/report_file.html")

    second = run_pipeline(p, plugins=plugins)
    assert {s: r.status for s, r in second.steps.items()} == {"make": "cached", "after": "cached"}


def test_log_artifact_errors_say_what_to_do(project, plugins, tmp_path):
    import flowy

    with pytest.raises(FlowyError, match="outside a running step"):
        flowy.log_artifact(tmp_path / "x.txt")

    @step
    def missing():
        flowy.log_artifact(tmp_path / "nope.txt")

    result = run_pipeline(Pipeline("missing", [missing]), plugins=plugins)
    assert result.status == "failed"
    assert "is not a file" in (result.steps["missing"].error or "")


def test_resume_reuses_a_step_that_logged_a_file(project, plugins, tmp_path):
    import flowy

    flag = tmp_path / "fail"
    flag.touch()

    @step
    def first():
        (tmp_path / "a.txt").write_text("a")
        flowy.log_artifact(tmp_path / "a.txt")
        return 1

    @step(cache=False)
    def second(first):
        if flag.exists():
            raise RuntimeError("not yet")
        return first + 1

    p = Pipeline("resumable", [first, second])
    failed = run_pipeline(p, plugins=plugins, no_cache=True)
    assert failed.status == "failed"
    flag.unlink()
    resumed = run_pipeline(p, plugins=plugins, resume=failed.run_id)
    assert resumed.ok and resumed.steps["first"].status == "cached" and resumed["second"] == 2


def test_ten_thousand_metrics_are_one_batch_and_hooks_see_them(project, plugins):
    import flowy

    seen = []

    class Listener:
        @hookimpl
        def flowy_metric_logged(self, run, step, name, value, index):
            seen.append(index)

    @step(cache=False)
    def train():
        for i in range(10_000):
            flowy.log_metric("loss", 1 / (i + 1), step=i)
        flowy.log_params({"optimizer": "sgd"})
        return 0

    started = time.perf_counter()
    result = run_pipeline(Pipeline("many", [train]), plugins=plugins)
    took = time.perf_counter() - started
    assert result.ok and took < 5  # the benchmark's figure is ~0.1 s; this only catches a cliff
    with Client(plugins=plugins) as client:
        metrics = client.metrics(result.run_id)
        assert len(metrics) == 10_000 and metrics[-1][1].step == 9_999
        assert client.steps(result.run_id)[0].params == {"optimizer": "sgd"}

    plugins.register(Listener(), "listener")
    run_pipeline(Pipeline("many", [train]), plugins=plugins)
    assert seen == list(range(10_000))


def test_experiment_option_and_summaries(project, plugins):
    import flowy
    from flowy.tracking import experiments

    @step
    def score(lr):
        flowy.log_metric("accuracy", lr * 2)
        return lr

    p = Pipeline("scored", [score], context=Context(lr=0.1), experiment="named")
    a = run_pipeline(p, plugins=plugins, params={"lr": 0.1})
    b = run_pipeline(p, plugins=plugins, params={"lr": 0.4})
    c = run_pipeline(p, plugins=plugins, params={"lr": 0.4}, experiment="other")
    with Client(plugins=plugins) as client:
        store = client.store
        assert {r["name"]: r["runs"] for r in experiments.list_experiments(store)} == {
            "named": 2,
            "other": 1,
        }
        best, ranked = experiments.best_run(store, "named", "accuracy")
        assert best.run_id == b.run_id and [s.run_id for s in ranked] == [b.run_id, a.run_id]
        (other,) = experiments.summarize(store, experiments.experiment_runs(store, "other"))
        assert other.run_id == c.run_id and other.inherited == {"accuracy": b.run_id}
        with pytest.raises(experiments.ExperimentNotFoundError, match=r"named, other|other, named"):
            experiments.experiment_runs(store, "missing")


def test_environment_cache_is_keyed_by_the_interpreter_environment(monkeypatch, tmp_path):
    import os
    import sys

    from flowy.run import facts

    def install(site: Path, name: str, version: str) -> None:
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        later = time.time_ns() + 10**9 * (len(scans) + 1)  # mtime resolution: be sure it moves
        os.utime(site, ns=(later, later))

    # A private environment, so installs elsewhere on this machine cannot interfere.
    site = tmp_path / "lib" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(site)])
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(facts, "_memo", {})
    scans: list[int] = []
    real = facts._scan_distributions
    monkeypatch.setattr(facts, "_scan_distributions", lambda: scans.append(1) or real())
    install(site, "demo_pkg", "1.0")

    first = facts.environment_facts()
    facts._memo.clear()
    again = facts.environment_facts()  # from the file in FLOWY_HOME/cache
    assert len(scans) == 1 and first["installed"] == again["installed"] == {"demo_pkg": "1.0"}
    install(site, "other", "2.0")  # an install changes the folder's mtime: scanned again
    assert facts.environment_facts()["installed"] == {"demo_pkg": "1.0", "other": "2.0"}
    assert len(scans) == 2
    (tmp_path / "not-a-package-folder").mkdir()
    monkeypatch.setattr(sys, "path", [str(site), str(tmp_path / "not-a-package-folder")])
    facts.environment_facts()  # source folders and the working directory are not in the key
    assert len(scans) == 2


def test_requirements_text_pins_and_keeps_sources():
    from flowy.run.facts import requirements_text

    text = requirements_text(
        {
            "python": "3.11.7",
            "installed": {"numpy": "2.1.0", "mylib": "0.3", "tool": "1.0"},
            "sources": {"mylib": "-e file:///src/mylib", "tool": "git+https://x/tool@abc"},
        },
        header="run r1",
    )
    lines = text.splitlines()
    assert lines[0] == "# run r1" and lines[1].startswith("# Python 3.11.7")
    assert lines[2:] == ["-e file:///src/mylib", "numpy==2.1.0", "tool @ git+https://x/tool@abc"]


def test_the_html_report_escapes_and_charts(project, plugins):
    import flowy
    from flowy.tracking.experiment_report import build_report, render

    @step
    def s(note):
        flowy.log_metric("m", len(note))
        return note

    for note in ("<script>alert(1)</script>", "ok"):
        run_pipeline(Pipeline("esc", [s], Context(note="")), plugins=plugins, params={"note": note})
    with Client(plugins=plugins) as client:
        page = render(build_report(client.store, "esc"), "html")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count('class="point"') == 2 and "<polyline" in page
    Path(project / "r.html").write_text(page)
