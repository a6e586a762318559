"""Step resources in Ray's terms: ``num_cpus``, ``num_gpus``, ``memory`` and custom resources.

A step asks with Flowy's names (``@step(resources={"cpu": 2, "gpu": 1, "memory": "4GB"})``);
Ray schedules a task by ``num_cpus``, ``num_gpus``, ``memory`` (bytes) and any custom
resource a node declares. This module translates, checks the request against what the
cluster's nodes offer (a task no node can hold would wait forever: it fails at once
instead), and needs no Ray: it works on plain dictionaries, so it is tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from flowy.kernel.errors import FlowyError

#: Flowy's names (and Ray's own) for the resources Ray schedules by keyword.
CPU_NAMES = frozenset({"cpu", "cpus", "CPU"})
GPU_NAMES = frozenset({"gpu", "gpus", "GPU"})
MEMORY_NAMES = frozenset({"memory"})

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")
#: A bare number below this is surely not meant as bytes (``memory = 4`` meant 4 GB).
_SMALLEST_BARE_MEMORY = 1024**2


@attrs.frozen
class RayRequest:
    """What one step task asks Ray for: the keywords of ``remote_fn.options(...)``."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory: int = 0
    custom: dict[str, float] = attrs.field(factory=dict)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``.options()`` (zero amounts left out)."""
        opts: dict[str, Any] = {"num_cpus": self.num_cpus}
        if self.num_gpus:
            opts["num_gpus"] = self.num_gpus
        if self.memory:
            opts["memory"] = self.memory
        if self.custom:
            opts["resources"] = dict(self.custom)
        return opts

    def as_node_resources(self) -> dict[str, float]:
        """The same request under the names nodes report (``CPU``, ``GPU``, ``memory``)."""
        wanted = {"CPU": self.num_cpus, "GPU": self.num_gpus, "memory": float(self.memory)}
        wanted.update(self.custom)
        return {name: amount for name, amount in wanted.items() if amount > 0}


def parse_memory(value: Any, step: str) -> int:
    """Bytes from a number of bytes or a size with a unit (``"4GB"``, ``"512MiB"``)."""
    if isinstance(value, bool):
        raise _bad_memory(value, step)
    if isinstance(value, int | float):
        if 0 < value < _SMALLEST_BARE_MEMORY:
            raise FlowyError(
                f"Step {step!r} asks for memory={value!r}, which Ray reads as {value:g} bytes. "
                f'Give a size with a unit, e.g. resources={{"memory": "{value:g}GB"}}, or a '
                "number of bytes."
            )
        return int(value)
    match = _SIZE.match(str(value))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise _bad_memory(value, step)
    return int(float(match.group(1)) * _UNITS[unit])


def _bad_memory(value: Any, step: str) -> FlowyError:
    return FlowyError(
        f"Step {step!r} asks for memory={value!r}, which is not a size. Give a number of "
        'bytes or a size with a unit such as "512MB", "4GB" or "2GiB".'
    )


def ray_request(
    step: str, resources: Mapping[str, Any], renames: Mapping[str, str] | None = None
) -> RayRequest:
    """Translate a step's resources; ``renames`` maps a step's name to a Ray resource name.

    ``cpu`` defaults to 1, as on every executor. Values that are not numbers
    (``instance_type = "ml.m5.xlarge"``, meant for a job executor) are not
    something Ray schedules by, and are left out; ``memory`` also takes sizes.
    """
    renames = renames or {}
    cpus, gpus, memory = 1.0, 0.0, 0
    custom: dict[str, float] = {}
    for name, amount in resources.items():
        target = renames.get(name, name)
        if target in MEMORY_NAMES:
            memory = parse_memory(amount, step)
            continue
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            continue
        if amount < 0:
            raise FlowyError(f"Step {step!r} asks for {name}={amount!r}; amounts cannot be < 0.")
        if target in CPU_NAMES:
            cpus = float(amount)
        elif target in GPU_NAMES:
            gpus = float(amount)
        else:
            custom[target] = float(amount)
    return RayRequest(num_cpus=cpus, num_gpus=gpus, memory=memory, custom=custom)


def largest_offer(nodes: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The most of each resource one alive node offers (from ``ray.nodes()``)."""
    offered: dict[str, float] = {}
    for node in nodes:
        if not node.get("Alive", True):
            continue
        for name, amount in (node.get("Resources") or {}).items():
            offered[name] = max(offered.get(name, 0.0), float(amount))
    return offered


def unmet(request: RayRequest, nodes: Iterable[Mapping[str, Any]]) -> str | None:
    """Why no single node can run ``request``, or None when one can.

    A task runs on one node, so the request must fit one node as a whole: a
    node with the GPU and another with the memory do not add up.
    """
    wanted = request.as_node_resources()
    alive = [dict(n.get("Resources") or {}) for n in nodes if n.get("Alive", True)]
    if any(all(float(res.get(k, 0.0)) >= v for k, v in wanted.items()) for res in alive):
        return None
    offered = largest_offer(nodes)
    shown = ", ".join(f"{_shown(k, v)}" for k, v in sorted(offered.items()) if _public(k))
    asked = ", ".join(_shown(k, v) for k, v in sorted(wanted.items()))
    short = [_shown(k, v) for k, v in sorted(wanted.items()) if offered.get(k, 0.0) < v]
    what = (
        f"{', '.join(short)} is more than any Ray node offers"
        if short
        else "no single Ray node offers all of it together"
    )
    return f"asks for {asked}: {what} (largest per node: {shown or 'none'})"


def _public(name: str) -> bool:
    """Ray's own bookkeeping resources (``node:1.2.3.4``, ``object_store_memory``) are noise."""
    return not name.startswith("node:") and name != "object_store_memory"


def _shown(name: str, amount: float) -> str:
    if name == "memory":
        return f"memory={amount / 1e9:.3g} GB"
    return f"{name}={amount:g}"
