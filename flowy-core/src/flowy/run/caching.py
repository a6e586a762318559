"""Cache keys: code hashes, input hashes, and how strategies combine.

The default key (``cache=True``) combines two built-in strategies, registered
through the cache hook like any plugin's:

* ``code_hash``: the step's source, normalized through the AST (comments,
  formatting and docstrings do not count), plus, recursively, the source of
  functions and classes it references from the user's own modules (not the
  standard library or site-packages).
* ``input_hash``: the checksums of its input artifacts, the versions of the
  materializers that wrote them, and the values of the parameters it receives.

A key is the sha256 of the step's name and outputs plus each strategy's part.
The parts are stored with the cache entry so ``flowy cache explain`` can say
which one changed.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import linecache
import os
import sys
import sysconfig
import textwrap
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowy.kernel.contracts import CacheStrategy, LiveStep, UncacheableError
from flowy.run import code_digests

if TYPE_CHECKING:
    from flowy.kernel.records import StepTask


@cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return tuple(sorted(os.path.realpath(r) for r in roots if r))


def is_user_code(obj: Any) -> bool:
    """Whether ``obj`` is defined in the user's own files (not stdlib/site-packages)."""
    return _is_user_module(getattr(obj, "__module__", "") or "")


@cache
def _is_user_module(module_name: str) -> bool:
    module = sys.modules.get(module_name)
    path = getattr(module, "__flowy_path__", None) or getattr(module, "__file__", None)
    if not path:
        return False
    real = os.path.realpath(path)
    if "site-packages" in real or "dist-packages" in real:
        return False
    return not any(real.startswith(root + os.sep) for root in _library_roots())


class _StripDocstrings(ast.NodeTransformer):
    def _strip(self, node: Any) -> Any:
        self.generic_visit(node)
        _strip_docstring(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _strip


def normalized_source(obj: Any) -> tuple[str, ast.AST | None]:
    """The AST dump of ``obj``'s source (formatting, comments, docstrings removed).

    The dump is that of a module holding only ``obj``'s definition, exactly as
    parsing ``inspect.getsource(obj)`` gives it; the definition is taken from
    its file's syntax tree, parsed once per file (:func:`_definition`), and
    ``inspect`` is the fallback for what that cannot place (lambdas, ...).
    """
    place = _place(obj)
    node = _definition(obj, place) if place is not None else None
    if node is not None:
        tree: ast.AST = ast.Module(body=[node], type_ignores=[])
        return ast.dump(tree, annotate_fields=False, include_attributes=False), tree
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        # No source (built in a REPL, or C code): fall back to the bytecode.
        code = getattr(obj, "__code__", None)
        return (code.co_code.hex() if code is not None else repr(obj)), None
    tree = _StripDocstrings().visit(ast.parse(source))
    return ast.dump(tree, annotate_fields=False, include_attributes=False), tree


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: File name -> (the linecache lines it was parsed from, {(qualname, first line): node}).
_file_definitions: dict[str, tuple[list[str], dict[tuple[str, int], ast.stmt | None]]] = {}


def _strip_docstring(node: Any) -> None:
    """What :class:`_StripDocstrings` does to one definition (not to those inside it)."""
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]


def _index_definitions(tree: ast.Module) -> dict[tuple[str, int], ast.stmt | None]:
    """Every function and class definition by (qualified name, first line incl. decorators).

    Docstrings of every definition are stripped on the way, as
    :class:`_StripDocstrings` would. Definitions are statements, so only
    statement lists are walked, never expressions.
    """
    index: dict[tuple[str, int], ast.stmt | None] = {}
    pending: list[tuple[list[ast.stmt], str]] = [(tree.body, "")]
    while pending:
        statements, prefix = pending.pop()
        for stmt in statements:
            if isinstance(stmt, _DEFINITIONS):
                qualname = prefix + stmt.name
                first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
                key = (qualname, first)
                # Two definitions with one name on one line cannot be told apart: neither is used.
                index[key] = None if key in index else stmt
                _strip_docstring(stmt)
                inner = "." if isinstance(stmt, ast.ClassDef) else ".<locals>."
                pending.append((stmt.body, qualname + inner))
                continue
            for field in ("body", "orelse", "finalbody"):
                block = getattr(stmt, field, None)
                if block:
                    pending.append((block, prefix))
            for part in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
                pending.append((part.body, prefix))
    return index


def _place(obj: Any) -> tuple[str, list[str], str] | None:
    """Where ``obj`` is defined: its file, that file's lines (as inspect reads them), and
    ``qualname:first line`` (``qualname:class`` for a class); None for what has no file."""
    if inspect.isclass(obj):
        where = "class"
    else:
        code = getattr(obj, "__code__", None)
        if code is None:
            return None
        where = str(code.co_firstlineno)
    try:
        filename = inspect.getsourcefile(obj)
    except TypeError:
        return None
    if not filename:
        return None
    linecache.checkcache(filename)  # as inspect does: a changed file is read again
    lines = linecache.getlines(filename, getattr(obj, "__globals__", None))
    if not lines:
        return None
    return filename, lines, f"{getattr(obj, '__qualname__', '')}:{where}"


def _definition(obj: Any, place: tuple[str, list[str], str]) -> ast.stmt | None:
    """``obj``'s definition node (docstrings stripped) from its file's cached syntax tree."""
    filename, lines, name = place
    cached = _file_definitions.get(filename)
    if cached is None or cached[0] is not lines:
        try:
            tree = ast.parse("".join(lines))
        except (SyntaxError, ValueError):
            return None
        cached = (lines, _index_definitions(tree))
        _file_definitions[filename] = cached
    index = cached[1]
    qualname, _, where = name.rpartition(":")
    if where != "class":
        return index.get((qualname, int(where)))
    found = [node for (key, _), node in index.items() if key == qualname]
    return found[0] if len(found) == 1 else None  # a class defined twice: ask inspect


_code_hashes: dict[Any, str] = {}
_source_digests: dict[Any, str] = {}


def _global_names(obj: Any) -> set[str]:
    """Global names a function (or a class's methods) may reference, from bytecode.

    ``co_names`` lists globals and attributes but never parameters or locals,
    so a step's input named like another step does not pull that step in.
    """
    names: set[str] = set()
    codes = []
    if inspect.isclass(obj):
        codes = [v.__code__ for v in vars(obj).values() if inspect.isfunction(v)]
    elif hasattr(obj, "__code__"):
        codes = [obj.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if inspect.iscode(c))
    return names


def _source_digest(obj: Any) -> str:
    """sha256 of ``obj``'s qualified name and normalized source.

    Digests of definitions found in their file's syntax tree are remembered
    across processes (:mod:`flowy.run.code_digests`), keyed by the file's text.
    """
    cached = _source_digests.get(obj)
    if cached is not None:
        return cached
    place = _place(obj)
    if place is not None:
        cached = code_digests.recall(*place)
    if cached is None:
        node = _definition(obj, place) if place is not None else None
        if node is not None:
            tree = ast.Module(body=[node], type_ignores=[])
            text = ast.dump(tree, annotate_fields=False, include_attributes=False)
        else:
            text, _ = normalized_source(obj)
        cached = hashlib.sha256(f"{getattr(obj, '__qualname__', '')}\0{text}".encode()).hexdigest()
        if place is not None and node is not None:  # a pure function of the file's text
            code_digests.remember(*place, cached)
    _source_digests[obj] = cached
    return cached


def code_hash(fn: Callable[..., Any]) -> str:
    """Hash of ``fn``'s normalized source and of the user code it references."""
    fn = getattr(fn, "fn", fn)
    key = fn  # functions hash by identity; equal code objects in two files must not collide
    cached = _code_hashes.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    seen: set[int] = set()
    pending = [fn]
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        digest.update(_source_digest(obj).encode())
        namespace = getattr(obj, "__globals__", None)
        if namespace is None:
            module = sys.modules.get(getattr(obj, "__module__", ""))
            namespace = vars(module) if module else {}
        for name in sorted(_global_names(obj)):
            ref = namespace.get(name)
            ref = getattr(ref, "fn", ref)  # a Step: hash its function
            if (inspect.isfunction(ref) or inspect.isclass(ref)) and is_user_code(ref):
                pending.append(ref)
    result = digest.hexdigest()
    _code_hashes[key] = result
    return result


def _canonical(value: Any, what: str) -> Any:
    """A JSON-able, order-stable form of a parameter value, or UncacheableError."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return [type(value).__name__, [_canonical(v, what) for v in value]]
    if isinstance(value, set | frozenset):
        return ["set", sorted(json.dumps(_canonical(v, what)) for v in value)]
    if isinstance(value, Mapping):
        return ["dict", sorted((str(k), _canonical(v, what)) for k, v in value.items())]
    if isinstance(value, bytes):
        return ["bytes", hashlib.sha256(value).hexdigest()]
    if isinstance(value, Path):
        return ["path", str(value)]
    tobytes = getattr(value, "tobytes", None)
    if callable(tobytes) and hasattr(value, "dtype") and hasattr(value, "shape"):
        return ["array", str(value.dtype), list(value.shape), hashlib.sha256(tobytes()).hexdigest()]
    raise UncacheableError(what, f"a value of type {type(value).__name__} cannot be hashed")


def params_hash(params: Mapping[str, Any]) -> str:
    canon = [(k, _canonical(v, f"parameter {k!r}")) for k, v in sorted(params.items())]
    return hashlib.sha256(json.dumps(canon).encode()).hexdigest()


class CodeHash(CacheStrategy):
    """Changes when the step's code, or user code it calls, changes."""

    name = "code_hash"

    def key_part(self, step: LiveStep, task: StepTask) -> str:
        return task.code_hash or code_hash(step.fn)


class InputHash(CacheStrategy):
    """Changes when an input artifact, its materializer version, or a parameter changes."""

    name = "input_hash"

    def key_part(self, step: LiveStep, task: StepTask) -> str:
        digest = hashlib.sha256()
        for name, ref in sorted(task.inputs.items()):
            digest.update(
                f"{name}={ref.checksum}:{ref.materializer}@{ref.materializer_version};".encode()
            )
        digest.update(params_hash(task.params).encode())
        return digest.hexdigest()


def combine(step_name: str, outputs: list[str], parts: Mapping[str, str]) -> str:
    """The cache key from each strategy's part."""
    payload = json.dumps([step_name, outputs, sorted(parts.items())])
    return hashlib.sha256(payload.encode()).hexdigest()
