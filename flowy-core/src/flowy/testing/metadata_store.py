"""The contract every :class:`~flowy.kernel.contracts.MetadataStore` must meet, as tests.

Subclass :class:`MetadataStoreContract` in a class whose name starts with
``Test`` and provide a ``store`` fixture returning a fresh, empty store::

    class TestMyStore(MetadataStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            s = MyStore(tmp_path / "meta")
            yield s
            s.close()

What the engine and the CLI rely on: runs newest first and filterable;
``record_step`` writing step run, artifacts, lineage, metrics and cache entry
all or nothing; id lookups by unique prefix (4+ characters) with
``RunNotFoundError`` / ``ArtifactNotFoundError`` naming what was searched; and
the cache queries behind ``flowy cache``. ``cache_stats`` returns at least
``{"entries": int, "hits": int, "pipelines": {pipeline: entries}}``.

The change feed, running steps and cancel requests (``flowy ui``'s live views,
``flowy runs cancel``) are optional: a store that keeps the defaults skips
those tests, and the UI falls back to polling it.
"""

from __future__ import annotations

import pytest

from flowy.kernel.contracts import MetadataStore
from flowy.kernel.errors import ArtifactNotFoundError, FlowyError, RunNotFoundError
from flowy.kernel.records import CacheEntry, MetricRecord, StepRunRecord
from flowy.testing.metadata_cache import CacheRecordsContract
from flowy.testing.records_factory import make_artifact, make_entry, make_run, make_step
from flowy.testing.run_deletion import RunDeletionContract
from flowy.testing.run_search import RunSearchContract

__all__ = ["MetadataStoreContract", "make_artifact", "make_entry", "make_run", "make_step"]


class MetadataStoreContract(CacheRecordsContract, RunDeletionContract, RunSearchContract):
    """Behaviour tests for a metadata store; subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> MetadataStore:
        raise NotImplementedError("subclasses of MetadataStoreContract provide a `store` fixture")

    # -- runs ----------------------------------------------------------------

    def test_create_and_get_run(self, store: MetadataStore) -> None:
        run = make_run(
            params={"lr": 0.1, "layers": [1, 2], "name": "x"},
            stack={"executor": {"type": "local"}},
            git={"commit": "abc", "dirty": False},
            environment={"python": "3.11"},
            experiment="exp1",
            pid=1234,
            host="box",
        )
        store.create_run(run)
        got = store.get_run(run.run_id)
        assert got == run

    def test_list_runs_newest_first_and_filters(self, store: MetadataStore) -> None:
        a = make_run("train", 100.0)
        b = make_run("train", 300.0)
        c = make_run("eval", 200.0)
        for r in (a, b, c):
            store.create_run(r)
        store.finish_run(a.run_id, "failed", 150.0)
        ids = [r.run_id for r in store.list_runs()]
        assert ids == [b.run_id, c.run_id, a.run_id]
        assert [r.run_id for r in store.list_runs(pipeline="train")] == [b.run_id, a.run_id]
        assert [r.run_id for r in store.list_runs(status="failed")] == [a.run_id]
        assert [r.run_id for r in store.list_runs(pipeline="eval", status="failed")] == []
        assert [r.run_id for r in store.list_runs(limit=1)] == [b.run_id]
        assert [r.run_id for r in store.iter_runs()] == ids

    def test_finish_run(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        store.finish_run(run.run_id, "completed", 2000.0)
        got = store.get_run(run.run_id)
        assert (got.status, got.finished_at) == ("completed", 2000.0)

    def test_unknown_run(self, store: MetadataStore) -> None:
        with pytest.raises(RunNotFoundError) as info:
            store.get_run("deadbeef" * 4)
        assert "deadbeef" in str(info.value)

    # -- record_step ---------------------------------------------------------

    def test_record_step_round_trip(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        art, entry = self.record_producer(store, run, "prepare", "data")
        model = make_artifact("model")
        rec = make_step(
            run,
            "fit",
            attempts=2,
            cache_key="k-fit",
            code_hash="c0de",
            logs="epoch 1\nepoch 2\n",
            params={"lr": 0.1},
            inputs={"data": art.artifact_id},
            outputs={"model": model.artifact_id},
        )
        metrics = [MetricRecord("acc", 0.9, 0, 10.0), MetricRecord("acc", 0.95, 1, 11.0)]
        store.record_step(rec, [model], metrics)

        steps = store.get_step_runs(run.run_id)
        assert [s.step for s in steps] == ["prepare", "fit"]
        assert steps[1] == rec
        assert store.get_artifact(model.artifact_id) == model
        assert store.get_artifact(art.artifact_id) == art
        assert store.list_artifacts(run_id=run.run_id, name="model") == [model]
        assert {a.artifact_id for a in store.list_artifacts(run_id=run.run_id)} == {
            art.artifact_id,
            model.artifact_id,
        }
        got = store.get_metrics(run.run_id)
        assert got == [("prepare", MetricRecord("loss", 0.5, 1, 5.0))] + [
            ("fit", m) for m in metrics
        ]
        assert store.lookup_cache(entry.key) == entry

    def test_step_tags_round_trip(self, store: MetadataStore) -> None:
        """A step's tags come back as recorded (the run page groups its DAG by them)."""
        run = make_run()
        store.create_run(run)
        tagged = make_step(run, "fit", tags=["model", "train"])
        plain = make_step(run, "eval")
        cached = make_step(run, "report", status="cached", tags=["report"])
        store.record_step(tagged)
        store.record_step(plain)
        store.record_steps([cached])
        got = {s.step: s.tags for s in store.get_step_runs(run.run_id)}
        assert got == {"fit": ["model", "train"], "eval": [], "report": ["report"]}

    def test_nonfinite_metric_values_round_trip(self, store: MetadataStore) -> None:
        """NaN and ±inf are real metric values (a diverged loss): stored and read back."""
        import math

        run = make_run()
        store.create_run(run)
        values = [math.nan, math.inf, -math.inf, 0.5]
        metrics = [MetricRecord("loss", v, i, 10.0 + i) for i, v in enumerate(values)]
        store.record_step(make_step(run), [], metrics)
        got = [m.value for _, m in store.get_metrics(run.run_id)]
        assert math.isnan(got[0]) and got[1:] == values[1:]

    def test_failed_step_without_outputs(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        rec = make_step(
            run, status="failed", error="boom", error_type="ValueError", traceback="Traceback ..."
        )
        store.record_step(rec)
        assert store.get_step_runs(run.run_id) == [rec]

    def test_cached_step_reuses_artifacts(self, store: MetadataStore) -> None:
        first = make_run(started_at=100.0)
        second = make_run(started_at=200.0)
        store.create_run(first)
        store.create_run(second)
        art, entry = self.record_producer(store, first)
        cached = make_step(
            second,
            status="cached",
            attempts=0,
            cache_key=entry.key,
            outputs={"model": art.artifact_id},
        )
        store.record_step(cached)  # no new artifacts: the outputs already exist
        assert store.get_step_runs(second.run_id) == [cached]
        assert store.list_artifacts(run_id=second.run_id) == []
        assert store.get_artifact(art.artifact_id) == art

    def test_record_steps_records_a_batch_in_order_and_counts_hits(
        self, store: MetadataStore
    ) -> None:
        first = make_run(started_at=100.0)
        second = make_run(started_at=200.0)
        store.create_run(first)
        store.create_run(second)
        data, data_entry = self.record_producer(store, first, "prep", "data")
        model, model_entry = self.record_producer(store, first, "fit", "model")

        def cached(name: str, entry: CacheEntry, **artifacts: dict[str, str]) -> StepRunRecord:
            """A step of ``second`` re-used from ``entry``, as the engine records it."""
            return make_step(
                second, name, status="cached", attempts=0, cache_key=entry.key, **artifacts
            )

        batch = [
            cached("prep", data_entry, outputs={"data": data.artifact_id}),
            cached(
                "fit",
                model_entry,
                inputs={"data": data.artifact_id},
                outputs={"model": model.artifact_id},
            ),
            make_step(second, "report", status="skipped", error="skipped: its `when` is false"),
        ]
        store.record_steps(batch)
        store.record_steps([])  # an empty batch writes nothing
        assert store.get_step_runs(second.run_id) == batch
        assert store.list_artifacts(run_id=second.run_id) == []
        assert store.cache_stats()["hits"] == 2  # each cached run counts its hit

    def test_record_step_batch_records_each_with_its_artifacts_metrics_and_entry(
        self, store: MetadataStore
    ) -> None:
        run = make_run()
        store.create_run(run)
        batch = []
        for i in range(3):
            art = make_artifact("doubled")
            # Elements 0 and 1 had equal content: the same cache key, the later entry stays.
            entry = make_entry(
                run, f"double[{i}]", {"doubled": art.artifact_id}, key=f"k{min(i, 1)}"
            )
            rec = make_step(
                run, f"double[{i}]", outputs={"doubled": art.artifact_id}, cache_key=entry.key
            )
            batch.append((rec, [art], [MetricRecord("m", float(i))], entry))
        store.record_step_batch(batch)
        store.record_step_batch([])  # an empty batch writes nothing
        assert store.get_step_runs(run.run_id) == [rec for rec, *_ in batch]
        assert {a.artifact_id for a in store.list_artifacts(run_id=run.run_id)} == {
            arts[0].artifact_id for _, arts, _, _ in batch
        }
        assert sorted(m.value for _, m in store.get_metrics(run.run_id)) == [0.0, 1.0, 2.0]
        k1 = store.lookup_cache("k1")
        assert k1 is not None and k1.step == "double[2]"
        assert store.cache_stats()["entries"] == 2

    def test_record_step_is_atomic(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        dup = make_artifact("a")
        twin = make_artifact("b", artifact_id=dup.artifact_id)  # same id: must fail
        entry = make_entry(run, "fit", {"a": dup.artifact_id})
        rec = make_step(run, outputs={"a": dup.artifact_id}, cache_key=entry.key)
        with pytest.raises(Exception):  # noqa: B017 - the backend's integrity error
            store.record_step(rec, [dup, twin], [MetricRecord("m", 1.0)], entry)
        assert store.get_step_runs(run.run_id) == []
        assert store.list_artifacts(run_id=run.run_id) == []
        assert store.get_metrics(run.run_id) == []
        assert store.lookup_cache(entry.key) is None
        assert store.cache_stats()["entries"] == 0
        # The store is still usable after the failed transaction.
        art, _ = self.record_producer(store, run)
        assert store.get_artifact(art.artifact_id) == art

    def test_record_step_existing_artifact_id_is_atomic(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        art, _ = self.record_producer(store, run, "first")
        rec = make_step(run, "second", outputs={"model": art.artifact_id})
        with pytest.raises(Exception):  # noqa: B017
            store.record_step(rec, [make_artifact("other"), art])
        assert [s.step for s in store.get_step_runs(run.run_id)] == ["first"]
        assert len(store.list_artifacts(run_id=run.run_id)) == 1

    # -- id prefixes ---------------------------------------------------------

    def test_run_prefix_lookup(self, store: MetadataStore) -> None:
        a = make_run(run_id="abcd1111" + "0" * 24)
        b = make_run(run_id="abcd2222" + "0" * 24)
        store.create_run(a)
        store.create_run(b)
        assert store.get_run("abcd1").run_id == a.run_id
        assert store.get_run(b.run_id).run_id == b.run_id
        with pytest.raises(RunNotFoundError) as ambiguous:
            store.get_run("abcd")
        assert "abcd" in str(ambiguous.value)
        with pytest.raises(RunNotFoundError):
            store.get_run("abc")  # too short to be a prefix
        with pytest.raises(RunNotFoundError):
            store.get_run("ffff")

    def test_artifact_prefix_lookup(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        x = make_artifact("x", artifact_id="beef0001" + "0" * 24)
        y = make_artifact("y", artifact_id="beef0002" + "0" * 24)
        store.record_step(make_step(run, outputs={"x": x.artifact_id, "y": y.artifact_id}), [x, y])
        assert store.get_artifact("beef0001") == x
        with pytest.raises(ArtifactNotFoundError) as ambiguous:
            store.get_artifact("beef")
        assert "beef" in str(ambiguous.value)
        with pytest.raises(ArtifactNotFoundError):
            store.get_artifact("bee")
        with pytest.raises(ArtifactNotFoundError):
            store.get_artifact("0000aaaa")

    def test_prefix_is_not_a_pattern(self, store: MetadataStore) -> None:
        run = make_run(run_id="a_b%" + "1" * 28)
        store.create_run(run)
        store.create_run(make_run(run_id="axbx" + "1" * 28))
        assert store.get_run("a_b%1").run_id == run.run_id
        with pytest.raises(RunNotFoundError):
            store.get_run("a%%%")

    # -- the change feed, running steps, cancelling (optional) ------------------

    @staticmethod
    def _needs(store: MetadataStore, method: str) -> None:
        if getattr(type(store), method) is getattr(MetadataStore, method):
            pytest.skip(f"{type(store).__name__} keeps the default {method} (optional)")

    def test_change_feed_in_order_and_resumable(self, store: MetadataStore) -> None:
        self._needs(store, "changes_since")
        start = store.latest_change()
        run = make_run()
        store.create_run(run)
        store.record_step_started(run.run_id, "load", run.started_at + 1)
        store.record_step(make_step(run, "load"))
        cached = make_step(run, "fit", status="cached", cache_key="k1")
        store.record_steps([cached])
        store.finish_run(run.run_id, "completed", run.started_at + 9)
        changes = store.changes_since(start)
        seen = [(c.kind, c.step, c.status) for c in changes]
        assert seen == [
            ("run", None, "running"),
            ("step", "load", "running"),
            ("step", "load", "completed"),
            ("step", "fit", "cached"),
            ("run", None, "completed"),
        ]
        seqs = [c.seq for c in changes]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] > start
        assert {c.run_id for c in changes} == {run.run_id}
        assert changes[-1].at == run.started_at + 9
        assert store.latest_change() == seqs[-1]
        # Resuming from any seen seq gives exactly what followed it; limit caps the answer.
        assert store.changes_since(seqs[1]) == changes[2:]
        assert store.changes_since(seqs[0], limit=2) == changes[1:3]
        assert store.changes_since(seqs[-1]) == []

    def test_unknown_run_finished_adds_no_change(self, store: MetadataStore) -> None:
        self._needs(store, "changes_since")
        before = store.latest_change()
        with pytest.raises(RunNotFoundError):
            store.finish_run("nope" * 8, "completed", 1.0)
        assert store.changes_since(before) == []

    def test_running_steps_until_recorded(self, store: MetadataStore) -> None:
        self._needs(store, "running_steps")
        run = make_run()
        store.create_run(run)
        assert store.running_steps(run.run_id) == []
        store.record_step_started(run.run_id, "a", 1001.0)
        store.record_step_started(run.run_id, "b", 1002.0)
        assert store.running_steps(run.run_id) == [("a", 1001.0), ("b", 1002.0)]
        store.record_step(make_step(run, "a"))
        assert store.running_steps(run.run_id) == [("b", 1002.0)]
        other = make_run()
        store.create_run(other)
        assert store.running_steps(other.run_id) == []

    def test_step_output_is_a_running_steps_tail(self, store: MetadataStore) -> None:
        self._needs(store, "append_step_output")
        run, other = make_run(), make_run()
        store.create_run(run)
        store.create_run(other)
        store.record_step_started(run.run_id, "a", 1001.0)
        assert store.step_output(run.run_id, "a") == ""
        before = store.latest_change()
        store.append_step_output(run.run_id, "a", "first line\n")
        store.append_step_output(run.run_id, "a", "second ")
        store.append_step_output(run.run_id, "a", "ünïcode line\n")
        store.append_step_output(other.run_id, "a", "another run\n")
        assert store.step_output(run.run_id, "a") == "first line\nsecond ünïcode line\n"
        assert store.step_output(run.run_id, "b") == ""
        assert store.step_output(other.run_id, "a") == "another run\n"
        changes = store.changes_since(before)
        outputs = [(c.run_id, c.kind, c.step) for c in changes[:3]]
        assert outputs == [(run.run_id, "output", "a")] * 3
        # A step's output is not a start: running_steps and the change feed's steps stay.
        assert store.running_steps(run.run_id) == [("a", 1001.0)]
        # Its record (holding the full log) drops the tail, in its own transaction.
        store.record_step(make_step(run, "a"))
        assert store.step_output(run.run_id, "a") == ""
        # Output arriving after the record is never shown.
        store.append_step_output(run.run_id, "a", "late\n")
        assert store.step_output(run.run_id, "a") == ""
        assert store.step_output(other.run_id, "a") == "another run\n"

    def test_step_output_goes_with_its_run(self, store: MetadataStore) -> None:
        self._needs(store, "append_step_output")
        run = make_run()
        store.create_run(run)
        store.append_step_output(run.run_id, "a", "printed\n")
        store.finish_run(run.run_id, "failed", 1009.0)
        try:
            store.delete_runs([run.run_id])
        except NotImplementedError:
            pytest.skip(f"{type(store).__name__} cannot delete runs")
        store.create_run(run)  # the same id again: nothing of the old run's output is left
        assert store.step_output(run.run_id, "a") == ""

    def test_cancel_request_round_trip(self, store: MetadataStore) -> None:
        self._needs(store, "request_cancel")
        run, done = make_run(), make_run()
        store.create_run(run)
        store.create_run(done)
        store.finish_run(done.run_id, "completed", 1005.0)
        before = store.latest_change()
        assert store.cancel_requested(run.run_id) is False
        assert store.request_cancel(run.run_id[:8], "alice") is True  # a prefix is enough
        assert store.cancel_requested(run.run_id) is True
        assert store.request_cancel(run.run_id, "bob") is False  # asked already
        assert [(c.run_id, c.kind, c.status) for c in store.changes_since(before)] == [
            (run.run_id, "run", "cancelling")
        ]
        with pytest.raises(FlowyError, match="completed, not running"):
            store.request_cancel(done.run_id, "alice")
        with pytest.raises(RunNotFoundError):
            store.request_cancel("f" * 32, "alice")
        assert store.cancel_requested(done.run_id) is False

    def test_deleting_runs_deletes_their_changes(self, store: MetadataStore) -> None:
        self._needs(store, "changes_since")
        keep, gone = make_run(), make_run()
        for run in (keep, gone):
            store.create_run(run)
            store.record_step(make_step(run, "a"))
            store.finish_run(run.run_id, "completed", 1009.0)
        try:
            store.delete_runs([gone.run_id])
        except NotImplementedError:
            pytest.skip(f"{type(store).__name__} cannot delete runs")
        assert {c.run_id for c in store.changes_since(0)} == {keep.run_id}
