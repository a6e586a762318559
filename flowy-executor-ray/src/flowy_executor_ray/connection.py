"""Reaching Ray: start a local instance, connect to a cluster, or use this process's.

Ray allows one cluster per process (``ray.init``). The executor therefore:

* uses the connection this process already has (a notebook that called
  ``ray.init()``, a driver submitted with ``ray job submit``), and leaves it open;
* else connects to ``address`` and disconnects after the run;
* else starts a local instance for the run and stops it after. That instance is
  private to the run, so it listens on 127.0.0.1 only, and usage statistics are
  off unless the user turned them on (``RAY_USAGE_STATS_ENABLED``). Its workers run
  at the priority of the run itself (``RAY_worker_niceness=0``), as the local
  executor's do: Ray's default, 15, lets any other busy program on the machine
  starve the steps.

Ray is imported here, lazily: nothing of this module runs at plugin discovery.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from flowy.kernel.contracts import ArtifactStore
from flowy.kernel.errors import FlowyError

#: Seconds to wait for a cluster's address to accept a connection before saying it cannot.
CONNECT_TIMEOUT = 10.0

#: Set before Ray is first imported when the executor starts a local instance: Ray then
#: binds its servers to 127.0.0.1 instead of every interface (its single-machine mode).
_CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LOCAL_ONLY = {_CLUSTER_SWITCH: "0", "RAY_USAGE_STATS_ENABLED": "0"}
#: Ray's workers' nice value (its default 15); see the module.
_NICENESS = "RAY_worker_niceness"


@attrs.define
class Connection:
    """This process's link to Ray for one executor: how it was made decides how it ends."""

    ray: Any
    #: ``started``: a local instance started here; ``connected``: ray.init(address) here;
    #: ``reused``: the process was connected before the executor came.
    how: str
    address: str

    def close(self) -> None:
        """Stop the local instance or disconnect; leave a connection found open alone."""
        if self.how in ("started", "connected"):
            with contextlib.suppress(Exception):
                self.ray.shutdown()


def import_ray(local_instance: bool) -> Any:
    """Import Ray; for a local instance (or a cluster on 127.0.0.1), keep it on loopback
    unless the user chose otherwise.

    Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` once, when first imported (a
    pipeline file may have imported it already), and its workers read it again:
    so the variable is set for them, and Ray's constant follows it.
    """
    import sys

    if local_instance:
        for name, value in _LOCAL_ONLY.items():
            os.environ.setdefault(name, value)
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - a dependency of this distribution
        raise FlowyError(
            "The ray executor needs Ray, which is not installed or does not import: "
            f"{exc}. Install it with `pip install flowy-executor-ray`."
        ) from exc
    if local_instance and not ray.is_initialized():
        constants = sys.modules.get("ray._private.ray_constants")
        if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
            setattr(constants, "ENABLE_RAY_CLUSTER", os.environ[_CLUSTER_SWITCH] != "0")  # noqa: B010
    return ray


def connect(
    address: str | None,
    num_cpus: int | None,
    num_gpus: int | None,
    init_options: Mapping[str, Any],
) -> Connection:
    """Reach Ray as the module says; a cluster that cannot be reached is a clear FlowyError."""
    if address and address.startswith("ray://"):
        raise FlowyError(
            f"The ray executor's address {address!r} is a Ray Client address, which it does "
            "not support. Give the cluster's own address (the head node's host:6379), or run "
            "`flowy run` on the cluster as a Ray job (`ray job submit -- flowy run ...`) with "
            'address = "auto".'
        )
    # A cluster on 127.0.0.1 is on this machine: the driver stays on loopback too (Ray
    # would otherwise rewrite 127.0.0.1 to this machine's address, where such a cluster
    # does not listen, and wait for it for minutes).
    on_loopback = address not in (None, "", "auto") and _is_loopback(split_address(address)[0])
    ray = import_ray(local_instance=not address or on_loopback)
    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if address and address != "auto" and not same_address(address, current):
            raise FlowyError(
                f"This process is already connected to the Ray cluster at {current}, but the "
                f"ray executor's address is {address}. Ray allows one cluster per process: "
                "drop the address option to use the connected cluster, or run the pipeline "
                "in a fresh process."
            )
        return Connection(ray, "reused", current)
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        if address != "auto":
            probe(address)
        try:
            ray.init(address=address, **{**quiet, **init_options})
        except Exception as exc:
            fix = (
                "The cluster asks for a token: set RAY_AUTH_MODE=token and make the cluster's "
                "token available (~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN)."
                if _about_authentication(exc)
                else "Check that the cluster is running (`ray status` on its head node) and "
                "that the address is its head node's GCS address (host:6379 by default)."
            )
            raise FlowyError(
                f"Could not connect to the Ray cluster at {address}: "
                f"{type(exc).__name__}: {_first_line(exc)}. {fix}"
            ) from exc
        return Connection(ray, "connected", ray.get_runtime_context().gcs_address)
    os.environ.setdefault(_NICENESS, "0")  # read by the raylet this starts
    try:
        ray.init(
            address="local",  # a new instance, never one `ray start` left on this machine
            num_cpus=num_cpus or os.cpu_count() or 1,
            num_gpus=num_gpus,
            include_dashboard=False,
            **{**quiet, **init_options},
        )
    except Exception as exc:
        raise FlowyError(
            f"Could not start a local Ray instance: {type(exc).__name__}: {exc}. Another "
            "Ray instance may be starting on this machine, or its temporary folder "
            "(/tmp/ray) may be full or not writable; see `ray status`."
        ) from exc
    return Connection(ray, "started", ray.get_runtime_context().gcs_address)


def _about_authentication(exc: BaseException) -> bool:
    """Whether a failed ``ray.init`` failed for a missing or wrong token (anywhere in the chain)."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (optionally ``scheme://``) as a host and a port (Ray's default 6379)."""
    parts = urlsplit(address if "://" in address else f"ray-gcs://{address}")
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise FlowyError(
            f"The ray executor's address {address!r} is not host:port ({exc})."
        ) from exc
    if not parts.hostname:
        raise FlowyError(f"The ray executor's address {address!r} is not host:port.")
    return parts.hostname, port


def probe(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast, with the fix, when nothing listens at ``address``.

    Ray itself would retry for a long time and then raise a message about its
    GCS; a refused or silent port is the usual mistake (a typo, a stopped
    cluster, a firewall), and this says so within ``timeout`` seconds.
    """
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise FlowyError(
            f"Cannot reach the Ray cluster at {address}: connecting to {host}:{port} failed "
            f"({reason}). Check the address (the head node's GCS address, host:6379 by "
            "default, as `ray start --head` prints it), that the cluster is running "
            "(`ray status` on its head node), and that this machine may connect to that port; "
            "or leave out the address option to start a local Ray instance for the run."
        ) from exc


def same_address(a: str, b: str) -> bool:
    """Whether two GCS addresses name the same server (``localhost`` = ``127.0.0.1`` = us)."""
    try:
        (host_a, port_a), (host_b, port_b) = split_address(a), split_address(b)
    except FlowyError:
        return False
    if port_a != port_b:
        return False
    return host_a == host_b or (is_this_machine(host_a) and is_this_machine(host_b))


def this_machine() -> set[str]:
    """Names and addresses of this machine."""
    names = {"localhost", "127.0.0.1", "::1", "0.0.0.0", socket.gethostname().lower()}
    with contextlib.suppress(OSError):
        names.add(socket.gethostbyname(socket.gethostname()))
    return names


def _is_loopback(host: str) -> bool:
    return host.lower() in ("localhost", "::1") or host.startswith("127.")


def is_this_machine(host: str) -> bool:
    host = host.lower()
    return host in this_machine() or host.startswith("127.")


def is_local_store(store: ArtifactStore) -> bool:
    """Whether the store's URIs are plain paths on this machine (no remote scheme)."""
    uri = store.uri_for("flowy-probe")
    return "://" not in uri or uri.startswith("file://")


def check_shared_store(
    node_addresses: Iterable[str],
    store: ArtifactStore,
    shared_filesystem: bool,
    here: str = "127.0.0.1",
) -> None:
    """Refuse a cluster with nodes on other machines and a store they cannot reach.

    ``here`` is this machine's address as Ray knows it (``ray.util.get_node_ip_address``).
    """
    elsewhere = sorted({a for a in node_addresses if a != here and not is_this_machine(a)})
    if elsewhere and is_local_store(store) and not shared_filesystem:
        where = store.describe().get("path") or store.uri_for("flowy-probe").rsplit("/", 1)[0]
        raise FlowyError(
            f"The Ray cluster has nodes on other machines ({', '.join(elsewhere)}), but the "
            f"stack's artifact store is a local folder ({where}) that their workers cannot "
            "read or write. Use a shared artifact store such as s3 (`pip install flowy-aws`, "
            'artifact_store type "s3"), or, if that folder is on a filesystem every node '
            "mounts at the same path, set the executor option shared_filesystem = true."
        )


def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    """The cluster's alive nodes as ``ray.nodes()`` describes them."""
    return [n for n in ray.nodes() if n.get("Alive", True)]
