"""The run-deletion part of the metadata store contract, as tests.

Mixed into :class:`flowy.testing.metadata_store.MetadataStoreContract`, so
every store that runs the contract is checked for what ``flowy runs delete``
and ``flowy gc`` rely on: :meth:`~flowy.kernel.contracts.MetadataStore.delete_runs`
deletes a run's rows all at once, refuses (deleting nothing) while another
run, a registered model version or another run's cache entry uses its
artifacts unless forced, never deletes a running run, and deletes nothing on a
dry run; :meth:`~flowy.kernel.contracts.MetadataStore.artifact_uris` names every
recorded artifact's URI and run.

A store that does not implement deletion fails these tests: a store that
cannot delete cannot be collected, and users should know before they install it.
"""

from __future__ import annotations

import pytest

from flowy.kernel.catalog import Catalog
from flowy.kernel.contracts import MetadataStore
from flowy.kernel.deletion import USED_BY_CACHE, USED_BY_MODEL, USED_BY_RUN, ArtifactsInUseError
from flowy.kernel.errors import ArtifactNotFoundError, FlowyError, RunNotFoundError
from flowy.kernel.records import ArtifactRef, CacheEntry, MetricRecord, RunRecord, StepRunRecord


def _run(
    store: MetadataStore, run_id: str, started_at: float, status: str = "completed"
) -> RunRecord:
    run = RunRecord(run_id=run_id, pipeline="train", status=status, started_at=started_at)
    store.create_run(run)
    return run


def _art(run_id: str, name: str) -> ArtifactRef:
    return ArtifactRef(
        name=name,
        uri=f"/store/{run_id}/fit/{name}",
        checksum="ab" * 32,
        size=10,
        materializer="json",
        materializer_version="1",
        type_name="builtins.dict",
        artifact_id=f"{run_id}-{name}",
    )


def _produce(store: MetadataStore, run: RunRecord, name: str = "model") -> tuple[ArtifactRef, str]:
    """A completed step of ``run`` writing ``name`` with its cache entry; (artifact, key)."""
    art = _art(run.run_id, name)
    key = f"key-{run.run_id}-{name}"
    entry = CacheEntry(key, run.pipeline, "fit", run.run_id, {"code": "c"}, {name: art.artifact_id})
    step = StepRunRecord(
        run.run_id,
        "fit",
        "completed",
        run.started_at,
        run.started_at + 1,
        cache_key=key,
        outputs={name: art.artifact_id},
    )
    store.record_step(step, [art], [MetricRecord("loss", 0.1, 0, 1.0)], entry)
    return art, key


def _reuse(store: MetadataStore, run: RunRecord, art: ArtifactRef, key: str) -> None:
    """A cached step of ``run`` re-using ``art`` (what a cache hit records)."""
    step = StepRunRecord(
        run.run_id,
        "fit",
        "cached",
        run.started_at,
        run.started_at,
        cache_key=key,
        outputs={art.name: art.artifact_id},
    )
    store.record_step(step)


class RunDeletionContract:
    """``delete_runs`` and ``artifact_uris``; the ``store`` fixture comes from the suite."""

    def test_artifact_uris_name_every_recorded_artifact(self, store: MetadataStore) -> None:
        run = _run(store, "r1aaaaaa", 100.0)
        art, _ = _produce(store, run)
        assert store.artifact_uris() == {art.uri: run.run_id}
        assert store.has_runs()

    def test_delete_removes_every_row_of_the_run(self, store: MetadataStore) -> None:
        keep = _run(store, "r0keep00", 50.0)
        kept_art, kept_key = _produce(store, keep, "data")
        run = _run(store, "r1gone00", 100.0)
        art, key = _produce(store, run)
        result = store.delete_runs([run.run_id])
        assert result.run_ids == [run.run_id]
        assert [a.uri for a in result.artifacts] == [art.uri]
        with pytest.raises(RunNotFoundError):
            store.get_run(run.run_id)
        with pytest.raises(ArtifactNotFoundError):
            store.get_artifact(art.artifact_id)
        assert store.lookup_cache(key) is None
        assert store.get_step_runs(run.run_id) == []
        assert store.get_metrics(run.run_id) == []
        assert store.artifact_uris() == {kept_art.uri: keep.run_id}
        assert store.lookup_cache(kept_key) is not None

    def test_refused_while_another_run_reuses_an_artifact(self, store: MetadataStore) -> None:
        first = _run(store, "r1first0", 100.0)
        art, key = _produce(store, first)
        second = _run(store, "r2second", 200.0)
        _reuse(store, second, art, key)
        with pytest.raises(ArtifactsInUseError) as caught:
            store.delete_runs([first.run_id])
        assert [u.used_by for u in caught.value.uses] == [USED_BY_RUN]
        assert "r2second"[:8] in str(caught.value)
        assert store.get_artifact(art.artifact_id) == art  # nothing was deleted
        assert store.lookup_cache(key) is not None
        # Deleting both is fine: the use goes with them.
        result = store.delete_runs([first.run_id, second.run_id])
        assert sorted(result.run_ids) == [first.run_id, second.run_id]
        assert not store.has_runs()

    def test_force_deletes_the_uses_too(self, store: MetadataStore) -> None:
        first = _run(store, "r1first0", 100.0)
        art, key = _produce(store, first)
        second = _run(store, "r2second", 200.0)
        _reuse(store, second, art, key)
        result = store.delete_runs([first.run_id], force=True)
        assert [u.used_by for u in result.uses_dropped] == [USED_BY_RUN]
        assert store.get_run(second.run_id).run_id == second.run_id
        with pytest.raises(ArtifactNotFoundError):
            store.get_artifact(art.artifact_id)

    def test_another_runs_cache_entry_is_a_use(self, store: MetadataStore) -> None:
        first = _run(store, "r1first0", 100.0)
        art, _ = _produce(store, first)
        second = _run(store, "r2second", 200.0)
        entry = CacheEntry(
            "k-second", "train", "fit", second.run_id, {}, {"model": art.artifact_id}
        )
        step = StepRunRecord(second.run_id, "other", "completed", 200.0, 201.0)
        store.record_step(step, [], [], entry)
        with pytest.raises(ArtifactsInUseError) as caught:
            store.delete_runs([first.run_id])
        assert [u.used_by for u in caught.value.uses] == [USED_BY_CACHE]
        store.delete_runs([first.run_id], force=True)
        assert store.lookup_cache("k-second") is None

    def test_registered_model_is_a_use(self, store: MetadataStore) -> None:
        if not isinstance(store, Catalog):
            pytest.skip("this store has no model registry")
        run = _run(store, "r1model0", 100.0)
        art, _ = _produce(store, run)
        store.register_model_version("clf", art.artifact_id, user="me")
        with pytest.raises(ArtifactsInUseError) as caught:
            store.delete_runs([run.run_id])
        assert [u.used_by for u in caught.value.uses] == [USED_BY_MODEL]
        assert store.get_artifact(art.artifact_id) == art
        store.delete_runs([run.run_id], force=True)
        assert store.model_versions("clf") == []

    def test_running_runs_are_never_deleted(self, store: MetadataStore) -> None:
        run = _run(store, "r1runnin", 100.0, status="running")
        with pytest.raises(FlowyError, match="still running"):
            store.delete_runs([run.run_id], force=True)
        assert store.get_run(run.run_id).status == "running"

    def test_dry_run_deletes_nothing(self, store: MetadataStore) -> None:
        run = _run(store, "r1dryrun", 100.0)
        art, _ = _produce(store, run)
        result = store.delete_runs([run.run_id], dry_run=True)
        assert [a.artifact_id for a in result.artifacts] == [art.artifact_id]
        assert store.get_artifact(art.artifact_id) == art
        assert store.get_run(run.run_id).run_id == run.run_id

    def test_unknown_run_is_an_error(self, store: MetadataStore) -> None:
        with pytest.raises(RunNotFoundError):
            store.delete_runs(["nosuchrun"])
