"""scikit-learn estimators and pipelines through skops, never pickle.

skops stores an estimator as a zip of JSON and ``.npy`` parts and, on load,
rebuilds only the types it is told to trust. skops already trusts the
estimators themselves; fitted estimators also hold helper objects that it
reports as untrusted (a tree's ``Tree``, a k-d tree, an Adam optimizer state,
``numpy.dtype``). :data:`TRUSTED_TYPES` is Flowy's reviewed list of those:
plain data holders from scikit-learn, NumPy and SciPy whose reconstruction
runs no user code. Any other untrusted type in a file is refused before
anything is loaded, with a message naming it and the two ways to opt in:

* trust specific types: :func:`trust_types` (call it in the pipeline module)
  or the ``FLOWY_SKOPS_TRUSTED`` environment variable (comma-separated
  qualified names), for your own estimators;
* trust the whole store: the pickle opt-in (``allow_pickle``), which loads
  every type the file names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, BinaryIO

from flowy.kernel.contracts import Materializer
from flowy.kernel.errors import UnsafeArtifactError

from flowy_materializers._files import json_safe, spooled_path
from flowy_materializers._skops_import import check_file_types, import_skops_io

_DIST = "sklearn.metrics._dist_metrics"
_DISTANCES = [
    "Euclidean", "SEuclidean", "Manhattan", "Chebyshev", "Minkowski", "Mahalanobis",
    "Hamming", "Canberra", "BrayCurtis", "Jaccard", "Matching", "Dice", "RogersTanimoto",
    "RussellRao", "SokalMichener", "SokalSneath", "Haversine",
]  # fmt: skip

#: Types skops reports as untrusted that Flowy trusts: data holders, no code on load.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._csr.csr_array",
        "scipy.sparse._csc.csc_array",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.utils._bunch.Bunch",
        "collections.OrderedDict",
        *(f"{_DIST}.{name}Distance{bits}" for name in _DISTANCES for bits in ("64", "32")),
    }
)

_extra_trusted: set[str] = set()


def trust_types(*names: str) -> None:
    """Trust more types when loading skops files in this process (your own estimators).

    Names are fully qualified (``"mypkg.models.MyTransformer"``), as the
    refusal message prints them. Call this in the module that defines the
    pipeline, so every worker that loads the step's inputs has run it too.
    """
    _extra_trusted.update(names)


def trusted_types() -> frozenset[str]:
    """Every type trusted now: the reviewed list, :func:`trust_types`, ``FLOWY_SKOPS_TRUSTED``."""
    env = {t.strip() for t in os.environ.get("FLOWY_SKOPS_TRUSTED", "").split(",") if t.strip()}
    return TRUSTED_TYPES | _extra_trusted | env


def estimator_metadata(est: Any) -> dict[str, Any]:
    """Class, constructor parameters, fitted or not, and the library versions."""
    import sklearn
    import skops
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    cls = type(est)
    try:
        check_is_fitted(est)
        fitted = True
    except NotFittedError:
        fitted = False
    except TypeError:  # not an estimator check_is_fitted understands
        fitted = False
    meta: dict[str, Any] = {
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
        "params": {k: json_safe(v) for k, v in est.get_params(deep=False).items()},
        "fitted": fitted,
        "sklearn_version": sklearn.__version__,
        "skops_version": skops.__version__,
    }
    steps = getattr(est, "steps", None)
    if isinstance(steps, list):
        meta["steps"] = [[name, type(step).__qualname__] for name, step in steps]
    for attr in ("n_features_in_", "n_outputs_"):
        if hasattr(est, attr):
            meta[attr] = json_safe(getattr(est, attr))
    classes = getattr(est, "classes_", None)
    if classes is not None and len(classes) <= 100:
        meta["classes"] = [json_safe(c.item() if hasattr(c, "item") else c) for c in classes]
    return meta


class SklearnMaterializer(Materializer):
    """Any ``sklearn.base.BaseEstimator`` (pipelines included) as a ``.skops`` file."""

    name = "sklearn"
    version = "1"
    extension = ".skops"

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        sio = import_skops_io()

        sio.dump(obj, file)
        return estimator_metadata(obj)

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        from flowy.artifacts import unsafe_load_allowed

        sio = import_skops_io()

        with spooled_path(file, ".skops") as path:
            check_file_types(path)
            untrusted = list(sio.get_untrusted_types(file=path))
            refused = sorted(set(untrusted) - trusted_types())
            if refused and not unsafe_load_allowed():
                raise UnsafeArtifactError(
                    f"This skops file needs types that Flowy does not trust: {', '.join(refused)}. "
                    "Rebuilding an untrusted type can run its code, so nothing was loaded. If "
                    "they are yours, trust them with "
                    "`flowy_materializers.sklearn_materializer.trust_types(...)` in your "
                    "pipeline module or FLOWY_SKOPS_TRUSTED=name,name; if you trust everything "
                    "in this store, opt in with `allow_pickle=True` on the step or "
                    "`flowy config set allow_pickle true`."
                )
            return sio.load(path, trusted=untrusted)
