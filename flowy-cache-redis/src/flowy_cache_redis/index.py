"""The ``redis`` cache index: cache entries shared by every machine that reaches one Redis.

Each entry is one Redis string holding the entry and the full records of its
outputs (URI, checksum, size, materializer), so a machine whose metadata store
never saw those artifacts can serve the hit from the shared artifact store;
the engine records them in its own store with the cached step. A lookup is one
``GET``; a publish, the hits of a run, an eviction are each one Lua script
(:mod:`flowy_cache_redis.scripts`), atomic on the server.

Limits (``flowy cache limits``) are kept in Redis too, so every machine applies
the same: the ttl becomes the entry's Redis expiry, and a publish evicts the
least recently used entries of its pipeline beyond the size budget.

Every call has a short socket timeout (option ``timeout``): when Redis is down
a call fails within it, and the engine turns that into a cache miss and one
warning (:mod:`flowy.run.shared_cache`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic
from flowy.kernel.cache_index import CacheHit, CacheIndex, CacheLimits, Evicted
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import ArtifactRef, CacheEntry
from flowy.kernel.redact import mask_text

from flowy_cache_redis import scripts

if TYPE_CHECKING:
    import redis

FORMAT = "flowy.cache-entry/1"
SCHEMES = ("redis://", "rediss://", "unix://")


class RedisUnavailableError(FlowyError):
    """Redis did not answer (refused, timed out, closed); a run turns this into a miss."""


class RedisIndexOptions(pydantic.BaseModel):
    """The options of a stack's ``cache_index`` of type ``redis``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    url: str = "redis://127.0.0.1:6379/0"
    """Where Redis listens: ``redis://[:password@]host:port/db``, ``rediss://`` (TLS),
    ``unix:///path/to/socket``."""
    prefix: str = pydantic.Field("flowy", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    """Prefix of every key, so several projects can share one Redis database."""
    timeout: float = pydantic.Field(1.0, gt=0, le=60)
    """Seconds to connect and for each reply before a call counts as failed."""

    @pydantic.field_validator("url")
    @classmethod
    def _redis_url(cls, url: str) -> str:
        if not url.startswith(SCHEMES):
            raise ValueError(
                f"{mask_text(url)!r} is not a Redis URL; write it as redis://HOST:PORT/DB "
                "(rediss:// for TLS, unix:///PATH for a socket)"
            )
        return url


class RedisCacheIndex(CacheIndex):
    """Cache entries, hits and limits in Redis (see the module docstring)."""

    Options: ClassVar[Any] = RedisIndexOptions
    shared = True

    def __init__(self, **options: Any) -> None:
        opts = RedisIndexOptions(**options)
        self.url, self.prefix, self.timeout = opts.url, opts.prefix, opts.timeout
        self.client = _client(opts.url, opts.timeout)
        self._scripts: dict[str, Any] = {}

    # -- plumbing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """Redis's connection errors as one clear :class:`RedisUnavailableError`."""
        import redis

        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise RedisUnavailableError(
                f"Redis at {mask_text(self.url)} did not answer within {self.timeout:g} s "
                f"({str(exc).rstrip('.')}); check that the server runs and is reachable, "
                "and the url option of the stack's cache_index."
            ) from exc

    def _run(self, name: str, *args: Any) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(getattr(scripts, name))
        with self._answering():
            return script(args=[self.prefix, *args])

    def describe(self) -> str:
        return f"redis at {mask_text(self.url)}, prefix {self.prefix!r}"

    def close(self) -> None:
        self.client.close()

    # -- the contract --------------------------------------------------------------------

    def lookup(self, key: str) -> CacheHit | None:
        with self._answering():
            raw: Any = self.client.get(f"{self.prefix}:e:{key}")
        return None if raw is None else _decode(raw)

    def publish(self, entry: CacheEntry, refs: Mapping[str, ArtifactRef]) -> None:
        now = time.time()
        outputs = {name: refs[name] for name in entry.outputs if name in refs}
        size = sum(ref.size for ref in outputs.values())
        created = entry.created_at or now
        payload = {
            "format": FORMAT,
            "entry": _entry_json(entry, created),
            "refs": {name: _ref_json(ref) for name, ref in outputs.items()},
        }
        uris = json.dumps(sorted({ref.uri for ref in outputs.values()}))
        self._run("PUBLISH", entry.key, entry.pipeline, json.dumps(payload), size, repr(created),
                  uris, repr(now), repr(now))  # fmt: skip

    def record_hits(self, keys: Sequence[str], at: float | None = None) -> None:
        if keys:
            self._run("RECORD_HITS", repr(time.time() if at is None else at), *keys)

    def limits(self) -> dict[str, CacheLimits]:
        with self._answering():
            found: dict[bytes, bytes] = self.client.hgetall(f"{self.prefix}:limits")  # type: ignore[assignment]
        return {name.decode(): CacheLimits(**json.loads(raw)) for name, raw in found.items()}

    def set_limits(self, pipeline: str, limits: CacheLimits | None) -> None:
        with self._answering():
            if limits is None or limits.empty:
                self.client.hdel(f"{self.prefix}:limits", pipeline)
            else:
                self.client.hset(f"{self.prefix}:limits", pipeline, json.dumps(limits.to_json()))

    def evict(self, pipeline: str | None = None, now: float | None = None) -> list[Evicted]:
        args = [repr(time.time() if now is None else now)]
        if pipeline is not None:
            args.append(pipeline)
        rows = self._run("EVICT", *args)
        return [
            Evicted(_text(key), _text(pl), "", _text(reason), int(size))
            for pl, key, reason, size in rows
        ]

    def live_uris(self) -> set[str]:
        uris: set[str] = set()
        for _pl, _n, _bytes, lists in self._run("LIVE"):
            for raw in lists:
                uris.update(json.loads(raw))
        return uris

    def stats(self) -> dict[str, Any]:
        live = self._run("LIVE")
        with self._answering():
            hits: Any = self.client.hget(f"{self.prefix}:stats", "hits")
        return {
            "entries": sum(int(n) for _, n, _, _ in live),
            "hits": int(hits or 0),
            "bytes": sum(int(b) for _, _, b, _ in live),
            "pipelines": {_text(pl): int(n) for pl, n, _, _ in sorted(live) if int(n)},
        }

    def clear(self, pipeline: str | None = None, step: str | None = None) -> int:
        with self._answering():
            doomed = self._matching(pipeline, step)
        return int(self._run("DROP", *doomed)) if doomed else 0

    def _matching(self, pipeline: str | None, step: str | None) -> list[str]:
        if pipeline is None:
            members: Any = self.client.smembers(f"{self.prefix}:pipelines")
            pipelines = [_text(p) for p in members]
        else:
            pipelines = [pipeline]
        doomed: list[str] = []
        for name in pipelines:
            ranked: Any = self.client.zrange(f"{self.prefix}:lru:{name}", 0, -1)
            keys = [_text(k) for k in ranked]
            if step is None:
                doomed += keys
                continue
            raws: Any = self.client.mget([f"{self.prefix}:e:{k}" for k in keys]) if keys else []
            doomed += [
                k for k, raw in zip(keys, raws, strict=True)
                if raw is not None and json.loads(raw)["entry"]["step"] == step
            ]  # fmt: skip
        return doomed


def _client(url: str, timeout: float) -> redis.Redis:
    """A client for ``url`` (nothing is connected yet); a malformed URL is a clear error."""
    import redis

    try:
        return redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
    except ValueError as exc:
        raise ValueError(
            f"the Redis URL {mask_text(url)!r} cannot be used ({exc}); write it as "
            "redis://HOST:PORT/DB (rediss:// for TLS, unix:///PATH for a socket)"
        ) from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_json(entry: CacheEntry, created: float) -> dict[str, Any]:
    return {
        "key": entry.key,
        "pipeline": entry.pipeline,
        "step": entry.step,
        "run_id": entry.run_id,
        "components": dict(entry.components),
        "outputs": dict(entry.outputs),
        "created_at": created,
    }


def _ref_json(ref: ArtifactRef) -> dict[str, Any]:
    return {
        "name": ref.name,
        "uri": ref.uri,
        "checksum": ref.checksum,
        "size": ref.size,
        "materializer": ref.materializer,
        "materializer_version": ref.materializer_version,
        "type_name": ref.type_name,
        "metadata": ref.metadata,
        "artifact_id": ref.artifact_id,
    }


def _decode(raw: bytes) -> CacheHit | None:
    """An entry from its JSON; None (a miss) for one this version cannot read."""
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            return None
        entry = CacheEntry(**data["entry"])
        refs = {name: ArtifactRef(**ref) for name, ref in data["refs"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return entry, refs
