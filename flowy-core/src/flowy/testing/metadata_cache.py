"""The cache part of the metadata store contract, as tests.

Mixed into :class:`flowy.testing.metadata_store.MetadataStoreContract`: what the cache
strategies and ``flowy cache`` rely on of a store: an entry is looked up by key and replaced
by a newer one, returned with its outputs only while they are all recorded artifacts, the
newest entry per step is a correct hint, hits are counted, and entries are listed, deleted
and counted per pipeline.
"""

from __future__ import annotations

import uuid

from flowy.kernel.contracts import MetadataStore
from flowy.kernel.records import ArtifactRef, CacheEntry, MetricRecord, RunRecord
from flowy.testing.records_factory import make_artifact, make_entry, make_run, make_step


class CacheRecordsContract:
    """Cache behaviour tests; the ``store`` fixture comes from the suite that mixes this in."""

    def record_producer(
        self, store: MetadataStore, run: RunRecord, step: str = "fit", name: str = "model"
    ) -> tuple[ArtifactRef, CacheEntry]:
        """Record a completed step producing one artifact with a cache entry."""
        art = make_artifact(name)
        entry = make_entry(run, step, {name: art.artifact_id})
        rec = make_step(run, step, outputs={name: art.artifact_id}, cache_key=entry.key)
        store.record_step(rec, [art], [MetricRecord("loss", 0.5, 1, 5.0)], entry)
        return art, entry

    def test_cache_lookup_and_replace(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        assert store.lookup_cache("nope") is None
        _, entry = self.record_producer(store, run)
        assert store.lookup_cache(entry.key) == entry
        newer = make_artifact("model")
        replaced = make_entry(
            run,
            "fit",
            {"model": newer.artifact_id},
            key=entry.key,
            created_at=entry.created_at + 10,
        )
        store.record_step(
            make_step(run, outputs={"model": newer.artifact_id}), [newer], [], replaced
        )
        assert store.lookup_cache(entry.key) == replaced
        assert store.cache_stats()["entries"] == 1

    def test_cache_lookup_with_outputs(self, store: MetadataStore) -> None:
        """``lookup_cache_outputs``: the entry and its outputs' records, or None."""
        run = make_run()
        store.create_run(run)
        assert store.lookup_cache_outputs("nope") is None
        art, entry = self.record_producer(store, run)
        extra = make_artifact("metrics")
        both = make_entry(run, "eval", {"model": art.artifact_id, "metrics": extra.artifact_id})
        store.record_step(
            make_step(run, "eval", outputs={"metrics": extra.artifact_id}), [extra], [], both
        )
        assert store.lookup_cache_outputs(entry.key) == (entry, {"model": art})
        assert store.lookup_cache_outputs(both.key) == (both, {"model": art, "metrics": extra})
        # An entry whose output has no artifact record can serve no hit.
        ghost = make_entry(run, "ghost", {"out": uuid.uuid4().hex})
        store.record_step(make_step(run, "ghost"), [], [], ghost)
        assert store.lookup_cache_outputs(ghost.key) is None
        nothing = make_entry(run, "sink", {})
        store.record_step(make_step(run, "sink"), [], [], nothing)
        assert store.lookup_cache_outputs(nothing.key) == (nothing, {})
        assert store.cache_stats()["hits"] == 0  # a pure read

    def test_latest_cache_outputs_is_a_correct_hint(self, store: MetadataStore) -> None:
        """Any step it returns maps to that step's newest entry and its outputs' records."""
        run = make_run()
        store.create_run(run)
        old_art, _old = self.record_producer(store, run)
        new_art = make_artifact("model")
        newer = make_entry(
            run, "fit", {"model": new_art.artifact_id}, created_at=run.started_at + 50
        )
        store.record_step(
            make_step(run, "fit", outputs={"model": new_art.artifact_id}), [new_art], [], newer
        )
        other_art, other = self.record_producer(store, run, step="eval", name="score")
        ghost = make_entry(run, "ghost", {"out": uuid.uuid4().hex})
        store.record_step(make_step(run, "ghost"), [], [], ghost)
        hint = store.latest_cache_outputs(run.pipeline, ["fit", "eval", "ghost", "none"])
        expected = {"fit": (newer, {"model": new_art}), "eval": (other, {"score": other_art})}
        assert set(hint) <= set(expected)  # a hint may leave steps out, never add wrong ones
        for step_name, found in hint.items():
            assert found == expected[step_name]
        assert store.latest_cache_outputs("another-pipeline", ["fit"]) == {}
        assert old_art.artifact_id != new_art.artifact_id

    def test_hits_are_counted(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        _, entry = self.record_producer(store, run)
        assert store.cache_stats()["hits"] == 0
        assert store.lookup_cache(entry.key) == entry
        assert store.cache_stats()["hits"] == 0  # a lookup is a pure read
        store.record_cache_hit(entry.key)
        store.record_cache_hit(entry.key)
        store.record_cache_hit("missing")
        assert store.cache_stats()["hits"] == 2
        rerun = make_run()
        store.create_run(rerun)
        cached = make_step(rerun, status="cached", cache_key=entry.key, outputs=dict(entry.outputs))
        store.record_step(cached)  # a cached step run counts its hit in the same transaction
        assert store.cache_stats()["hits"] == 3

    def test_last_cache_entry(self, store: MetadataStore) -> None:
        run = make_run()
        store.create_run(run)
        assert store.last_cache_entry(run.pipeline, "fit") is None
        old = make_entry(run, "fit", {}, created_at=10.0)
        new = make_entry(run, "fit", {}, created_at=20.0)
        other = make_entry(run, "prep", {}, created_at=30.0)
        for e in (new, old, other):
            store.record_step(make_step(run, e.step, cache_key=e.key), [], [], e)
        assert store.last_cache_entry(run.pipeline, "fit") == new
        assert store.last_cache_entry("other-pipeline", "fit") is None

    def test_delete_cache_and_stats(self, store: MetadataStore) -> None:
        train = make_run("train")
        evaluate = make_run("eval")
        store.create_run(train)
        store.create_run(evaluate)
        for run, step in ((train, "a"), (train, "b"), (train, "b"), (evaluate, "a")):
            e = make_entry(run, step, {})
            store.record_step(make_step(run, step, cache_key=e.key), [], [], e)
        stats = store.cache_stats()
        assert stats["entries"] == 4
        assert stats["pipelines"] == {"train": 3, "eval": 1}
        assert store.delete_cache("train", "b") == 2
        assert store.delete_cache(step="a") == 2
        assert store.delete_cache() == 0
        assert store.cache_stats()["entries"] == 0
        assert store.cache_stats()["pipelines"] == {}
