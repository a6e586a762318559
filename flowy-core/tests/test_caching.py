import textwrap
import warnings

import pytest
from flowy.kernel.contracts import UncacheableError
from flowy.run.caching import code_hash, params_hash


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


SHAPES = '''
import functools


def plain(x):
    return x + 1


def tag(fn):
    return fn


@tag
@tag
def decorated(x):
    """Decorated twice; the decorators are part of its source."""
    return x * 2


@functools.lru_cache
@functools.wraps(plain)
def renamed(x):
    return x * 3


async def coroutine(x):
    return x


class Model:
    """A class: its methods and nested classes are part of its source."""

    def fit(self, data):
        """Fit."""
        def helper(v):
            return v - 1
        return [helper(v) for v in data]

    class Config:
        depth = 3

    @staticmethod
    def static(a):
        return a


def outer():
    def inner(y):
        """Inner."""
        return y
    return inner


if True:
    def conditional(z):
        return z


def redefined(): return 1
def redefined(): return 2


try:
    import json
except ImportError:
    def fallback():
        """In an except block."""
        return 0
else:
    def in_else():
        return 1
finally:
    with open(__file__) as _f:
        def in_with():
            """In a with block."""
            return 2

for _ in range(1):
    def in_loop():
        """Only a docstring."""
else:
    pass

match 1:
    case 1:
        class InMatch:
            """In a match case."""
            def method(self):
                return 3


square = lambda v: v * v
'''


def _inspect_dump(obj):
    """The normalized source as parsing ``inspect.getsource`` gives it (the reference)."""
    import ast
    import inspect

    from flowy.run.caching import _StripDocstrings

    tree = _StripDocstrings().visit(ast.parse(textwrap.dedent(inspect.getsource(obj))))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def test_definitions_from_the_parsed_file_match_inspect_exactly(tmp_path):
    """Cache keys must not change: each definition dumps exactly as `inspect` sees it."""
    from flowy.run.caching import _definition, _place, normalized_source

    mod = _load(tmp_path, "mod_shapes", SHAPES)
    objects = {
        "plain": mod.plain,
        "decorated": mod.decorated,
        "coroutine": mod.coroutine,
        "Model": mod.Model,
        "Model.fit": mod.Model.fit,
        "Model.Config": mod.Model.Config,
        "Model.static": mod.Model.static,
        "outer": mod.outer,
        "outer.<locals>.inner": mod.outer(),
        "conditional": mod.conditional,
        "redefined": mod.redefined,
        "in_else": mod.in_else,
        "in_with": mod.in_with,
        "in_loop": mod.in_loop,
        "InMatch": mod.InMatch,
        "InMatch.method": mod.InMatch.method,
    }
    for name, obj in objects.items():
        assert _definition(obj, _place(obj)) is not None, name  # served from the parsed file
        assert normalized_source(obj)[0] == _inspect_dump(obj), name
    # What the file's tree cannot place goes through inspect, with the same result:
    # a lambda, and a function whose name `functools.wraps` changed.
    for obj in (mod.square, mod.renamed.__wrapped__):
        assert _definition(obj, _place(obj)) is None
        assert normalized_source(obj)[0] == _inspect_dump(obj)


def test_an_edited_file_is_read_again_like_inspect_does(tmp_path):
    from flowy.run.caching import normalized_source

    mod = _load(tmp_path, "mod_edited", "def f(x):\n    return x + 1\n")
    before = normalized_source(mod.f)[0]
    (tmp_path / "mod_edited.py").write_text("def f(x):\n    return x + 2  # edited on disk\n")
    after = normalized_source(mod.f)[0]
    assert after != before and after == _inspect_dump(mod.f)


HASH_IN_A_PROCESS = """
import ast, json, sys
if sys.argv[2] == "no-parse":
    def refuse(*args, **kwargs):
        raise AssertionError("parsed although the digest is stored")
    ast.parse = refuse
import importlib.util
spec = importlib.util.spec_from_file_location("hashed_mod", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
sys.modules["hashed_mod"] = mod
spec.loader.exec_module(mod)
from flowy.run import code_digests
from flowy.run.caching import code_hash
print(json.dumps({"f": code_hash(mod.f), "g": code_hash(mod.g)}))
code_digests.save()
"""


def _hash_in_a_process(path, home, mode="parse"):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "FLOWY_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", HASH_IN_A_PROCESS, str(path), mode],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_source_digests_are_remembered_across_processes_for_the_same_text(tmp_path):
    source = "def helper(x):\n    return x * 2\n\n\ndef f(x):\n    return helper(x) + 1\n"
    path = tmp_path / "hashed_mod.py"
    path.write_text(source + "\n\ndef g():\n    return 0\n")
    home = tmp_path / "home"
    first = _hash_in_a_process(path, home)
    assert list((home / "cache" / "code").glob("*.json"))
    again = _hash_in_a_process(path, home, "no-parse")  # served from FLOWY_HOME: no parsing
    assert again == first
    elsewhere = _hash_in_a_process(path, tmp_path / "other-home")  # computed afresh: equal
    assert elsewhere == first


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(tmp_path):
    import os

    path = tmp_path / "hashed_mod.py"
    path.write_text("def f():\n    return 1\n\n\ndef g():\n    return 0\n")
    home = tmp_path / "home"
    first = _hash_in_a_process(path, home)
    stat = path.stat()
    path.write_text("def f():\n    return 2\n\n\ndef g():\n    return 0\n")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    edited = _hash_in_a_process(path, home)
    assert edited["f"] != first["f"] and edited["g"] == first["g"]
    assert edited == _hash_in_a_process(path, tmp_path / "fresh-home")


def test_a_corrupt_digest_file_is_a_miss(tmp_path):
    path = tmp_path / "hashed_mod.py"
    path.write_text("def f():\n    return 1\n\n\ndef g():\n    return 0\n")
    home = tmp_path / "home"
    first = _hash_in_a_process(path, home)
    for stored in (home / "cache" / "code").glob("*.json"):
        stored.write_text("{not json")
    assert _hash_in_a_process(path, home) == first


def test_the_stored_key_covers_the_normalization_code_read_by_path():
    """code_digests reads caching.py as a file (it must not import it: caching imports it)."""
    from pathlib import Path

    from flowy.run import caching, code_digests

    sources = [p.resolve() for p in code_digests.NORMALIZATION_SOURCES]
    assert Path(caching.__file__).resolve() in sources
    assert Path(code_digests.__file__).resolve() in sources
    assert all(p.is_file() for p in sources)
