"""Step resources in Ray's terms, and the checks made before connecting (no Ray needed)."""

from __future__ import annotations

from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy_executor_ray.connection import (
    check_shared_store,
    is_local_store,
    probe,
    same_address,
    split_address,
)
from flowy_executor_ray.resources import RayRequest, parse_memory, ray_request, unmet

NODE = {"Alive": True, "Resources": {"CPU": 2.0, "GPU": 1.0, "memory": 8e9, "special": 2.0}}
BIG = {"Alive": True, "Resources": {"CPU": 16.0, "memory": 64e9, "node:10.0.0.9": 1.0}}
DEAD = {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0}}


def test_flowy_names_become_rays_keywords_and_cpu_defaults_to_one() -> None:
    assert ray_request("s", {}).options() == {"num_cpus": 1.0}
    request = ray_request("s", {"cpu": 2, "gpu": 0.5, "memory": "2GB", "special": 1})
    assert request.options() == {
        "num_cpus": 2.0,
        "num_gpus": 0.5,
        "memory": 2_000_000_000,
        "resources": {"special": 1.0},
    }
    assert ray_request("s", {"cpus": 3, "gpus": 1}) == RayRequest(num_cpus=3.0, num_gpus=1.0)


def test_renames_map_a_steps_names_to_the_clusters() -> None:
    renames = {"cores": "cpu", "accelerator": "GPU", "ssd": "fast_disk"}
    request = ray_request("s", {"cores": 4, "accelerator": 1, "ssd": 1}, renames)
    assert request == RayRequest(num_cpus=4.0, num_gpus=1.0, custom={"fast_disk": 1.0})


def test_values_ray_does_not_schedule_by_are_left_out() -> None:
    request = ray_request("s", {"instance_type": "ml.m5.xlarge", "spot": True})
    assert request == RayRequest()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("512MB", 512_000_000),
        ("2GiB", 2 * 1024**3),
        ("1.5 gb", 1_500_000_000),
        ("4G", 4_000_000_000),
        (3 * 1024**3, 3 * 1024**3),
        ("1073741824", 1073741824),
    ],
)
def test_memory_takes_bytes_or_a_size_with_a_unit(value: Any, expected: int) -> None:
    assert parse_memory(value, "s") == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (4, 'resources={"memory": "4GB"}'),
        ("lots", "is not a size"),
        ("4 parsecs", "is not a size"),
        (True, "is not a size"),
    ],
)
def test_a_memory_request_that_is_surely_wrong_says_how_to_write_it(value: Any, words: str) -> None:
    with pytest.raises(FlowyError, match="Step 'train' asks for memory") as caught:
        parse_memory(value, "train")
    assert words in str(caught.value)


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(FlowyError, match="cannot be < 0"):
        ray_request("s", {"gpu": -1})


def test_a_request_must_fit_one_alive_node() -> None:
    nodes = [NODE, BIG, DEAD]
    assert unmet(ray_request("s", {"cpu": 16}), nodes) is None
    assert unmet(ray_request("s", {"gpu": 1, "special": 2}), nodes) is None
    why = unmet(ray_request("s", {"gpu": 2}), nodes)  # the dead node's GPUs do not count
    assert why is not None and "GPU=2 is more than any Ray node offers" in why
    assert "largest per node: CPU=16, GPU=1, memory=64 GB, special=2" in why
    assert "node:10" not in why
    together = unmet(ray_request("s", {"cpu": 16, "gpu": 1}), nodes)  # on two nodes, not one
    assert together is not None and "no single Ray node offers all of it together" in together


def test_addresses_are_split_and_compared_as_ray_writes_them() -> None:
    assert split_address("head.example.com:6380") == ("head.example.com", 6380)
    assert split_address("head.example.com") == ("head.example.com", 6379)
    assert split_address("[::1]:7000") == ("::1", 7000)
    assert same_address("localhost:6379", "127.0.0.1:6379")
    assert not same_address("127.0.0.1:6379", "127.0.0.1:6380")
    assert not same_address("head.example.com:6379", "127.0.0.1:6379")
    with pytest.raises(FlowyError, match="is not host:port"):
        split_address("head:port")


def test_nothing_listening_is_said_at_once_with_the_fix(free_port: Any) -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(FlowyError, match=f"Cannot reach the Ray cluster at {address}") as caught:
        probe(address, timeout=5)
    assert "ray start --head" in str(caught.value) and "ray status" in str(caught.value)


class _Store:
    def __init__(self, uri: str) -> None:
        self.uri = uri

    def uri_for(self, key: str) -> str:
        return self.uri + key

    def describe(self) -> dict[str, Any]:
        return {}


def test_nodes_on_other_machines_need_a_shared_store() -> None:
    local, s3 = _Store("/data/artifacts/"), _Store("s3://bucket/artifacts/")
    with pytest.raises(FlowyError, match="shared artifact store such as s3") as caught:
        check_shared_store(["127.0.0.1", "10.1.2.3"], local, False)  # type: ignore[arg-type]
    assert "10.1.2.3" in str(caught.value) and "shared_filesystem = true" in str(caught.value)
    check_shared_store(["127.0.0.1", "10.1.2.3"], s3, False)  # type: ignore[arg-type]
    check_shared_store(["127.0.0.1", "10.1.2.3"], local, True)  # type: ignore[arg-type]
    check_shared_store(["127.0.0.1"], local, False)  # type: ignore[arg-type]
    check_shared_store(["192.0.2.7"], local, False, here="192.0.2.7")  # type: ignore[arg-type]
    assert is_local_store(local) and not is_local_store(s3)  # type: ignore[arg-type]
