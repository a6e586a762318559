import textwrap
import warnings

import pytest
from flowy.caching import code_hash, params_hash
from flowy.contracts import UncacheableError


def _load(tmp_path, name, source):
    import importlib.util
    import sys

    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_formatting_comments_and_docstrings_do_not_change_the_hash(tmp_path):
    a = _load(
        tmp_path,
        "mod_a",
        """
        def f(x):
            return x + 1
    """,
    )
    b = _load(
        tmp_path,
        "mod_b",
        '''
        def f(x):   # a comment
            """A docstring."""
            return (x +
                    1)
    ''',
    )
    c = _load(
        tmp_path,
        "mod_c",
        """
        def f(x):
            return x + 2
    """,
    )
    assert code_hash(a.f) == code_hash(b.f)
    assert code_hash(a.f) != code_hash(c.f)


def test_user_helpers_are_part_of_the_hash_but_libraries_are_not(tmp_path):
    v1 = _load(
        tmp_path,
        "helpers_v1",
        """
        import json
        def helper(x):
            return x * 2
        def f(x):
            return json.dumps(helper(x))
    """,
    )
    v2 = _load(
        tmp_path,
        "helpers_v2",
        """
        import json
        def helper(x):
            return x * 3
        def f(x):
            return json.dumps(helper(x))
    """,
    )
    assert code_hash(v1.f) != code_hash(v2.f)


def test_params_hash_is_order_stable_and_type_aware():
    assert params_hash({"a": 1, "b": [1, 2]}) == params_hash({"b": [1, 2], "a": 1})
    assert params_hash({"a": (1, 2)}) != params_hash({"a": [1, 2]})
    assert params_hash({"a": 1}) != params_hash({"a": "1"})
    assert params_hash({"a": 0.1}) != params_hash({"a": 0.10000001})


def test_unhashable_param_names_the_parameter():
    with pytest.raises(UncacheableError) as err:
        params_hash({"model": object()})
    assert err.value.what == "parameter 'model'"
    warnings.simplefilter("default")
