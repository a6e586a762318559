"""skops.io is imported without walking every scikit-learn module once its estimator names
are remembered, and trusts exactly the same types either way.

Each case runs in a fresh interpreter (what is imported is the point), with its own
FLOWY_HOME holding the cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # scikit-learn and skops in fresh interpreters

PROBE = """
import json, sys
from flowy_materializers._skops_import import import_skops_io
sio = import_skops_io()
walked = "sklearn.cross_decomposition" in sys.modules  # all_estimators imports it
from skops.io import _trusted_types
import numpy as np
from sklearn.linear_model import LogisticRegression
import io
x = np.arange(40, dtype=float).reshape(20, 2); y = (x[:, 0] > 19).astype(int)
model = LogisticRegression().fit(x, y)
from flowy_materializers.sklearn_materializer import SklearnMaterializer
m = SklearnMaterializer(); buf = io.BytesIO(); meta = m.save(model, buf); buf.seek(0)
back = m.load(buf, meta)
print(json.dumps({
    "names": list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES),
    "walked": walked,
    "same": bool((back.predict(x) == model.predict(x)).all()),
}))
"""


def probe(home: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={"FLOWY_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def cache_of(home: Path) -> dict:
    return json.loads((home / "cache" / "skops-estimators.json").read_text())


def test_the_second_import_skips_the_walk_and_trusts_the_same_names(tmp_path: Path) -> None:
    first = probe(tmp_path)
    assert first["walked"] and first["same"]  # skops' own import: every module
    ((key, names),) = cache_of(tmp_path).items()
    assert names == first["names"] and len(names) > 100
    assert key.count("|") == 2  # scikit-learn, skops and Python versions
    second = probe(tmp_path)
    assert not second["walked"] and second["same"]
    assert second["names"] == first["names"]


def test_a_damaged_or_wrong_cache_falls_back_to_skops_own_import(tmp_path: Path) -> None:
    first = probe(tmp_path)
    cache = tmp_path / "cache" / "skops-estimators.json"
    cache.write_text("{not json")
    again = probe(tmp_path)
    assert again["names"] == first["names"] and again["walked"]
    ((key, names),) = cache_of(tmp_path).items()
    assert names == first["names"]  # rewritten
    # Another skops layout (simulated: a cache from which skops makes another list) is
    # detected, and skops imports its own way from then on.
    cache.write_text(json.dumps({key: [*names, "numpy.NotSklearn"]}))
    other = probe(tmp_path)
    assert other["names"] == first["names"] and other["walked"]
    assert cache_of(tmp_path)[key] == "off"
    assert probe(tmp_path)["names"] == first["names"]


PLANTED = """
import io, json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from flowy_materializers.sklearn_materializer import SklearnMaterializer
from flowy.kernel.errors import UnsafeArtifactError
from sklearn.utils._bunch import Bunch
x = np.arange(40, dtype=float).reshape(20, 2); y = (x[:, 0] > 19).astype(int)
model = LogisticRegression().fit(x, y)
if sys.argv[1] == "bunch":
    model.extra_ = Bunch(a=1)  # a type skops does not trust by itself
m = SklearnMaterializer(); buf = io.BytesIO(); meta = m.save(model, buf)
buf.seek(0)
try:
    m.load(buf, meta)
except UnsafeArtifactError as exc:
    print("REFUSED", exc)
else:
    print("LOADED")
"""


def test_a_planted_name_in_the_cache_is_caught_before_skops_trusts_it(tmp_path: Path) -> None:
    """A name in the cache that is no scikit-learn estimator is refused when a file uses it."""
    probe(tmp_path)
    ((key, names),) = cache_of(tmp_path).items()
    # Planted: a type of this very file that skops does not trust by itself.
    planted = [*names, "sklearn.utils._bunch.Bunch", "numpy.ndarray"]
    cache = tmp_path / "cache" / "skops-estimators.json"
    cache.write_text(json.dumps({key: [n for n in planted if n.startswith("sklearn.")]}))

    def load(kind: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", PLANTED, kind],
            env={"FLOWY_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    assert "LOADED" in load("plain")  # the model's own types are all genuine estimators
    refused = load("bunch")  # a file using the planted type: refused, naming the cache
    assert "REFUSED" in refused and "skops-estimators.json" in refused
    assert "sklearn.utils._bunch.Bunch" in refused
    from flowy_materializers import _skops_import

    problems = _skops_import.false_estimators({"sklearn.utils._bunch.Bunch"}, set(planted))
    assert problems == ["sklearn.utils._bunch.Bunch"]
    assert (
        _skops_import.false_estimators(
            {"sklearn.linear_model._logistic.LogisticRegression"}, set(planted)
        )
        == []
    )
