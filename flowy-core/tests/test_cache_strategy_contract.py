"""The cache strategy contract, run against flowy-core's built-in strategies."""

from __future__ import annotations

import pytest
from flowy.run.caching import CodeHash, InputHash
from flowy.testing import CacheStrategyContract


class TestCodeHash(CacheStrategyContract):
    sensitive_to = frozenset({"code", "helper"})

    @pytest.fixture
    def strategy(self) -> CodeHash:
        return CodeHash()


class TestInputHash(CacheStrategyContract):
    sensitive_to = frozenset({"params", "inputs", "materializer"})

    @pytest.fixture
    def strategy(self) -> InputHash:
        return InputHash()
