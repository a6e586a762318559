"""Where a step's artifacts go in the artifact store: keys unique by construction.

A run writes::

    <prefix><run id>/<step>/<output><extension>     each output
    <prefix><run id>/<step>/logged/<name>            each flowy.log_artifact file

Two different artifacts of a run never get one key, whatever their names, and
not on a case-insensitive filesystem (macOS, Windows) either. That follows
from how keys are built, not from checks at write time:

* every name is valid (:mod:`flowy.kernel.names`): no ``/``, no ``~``, not starting
  with ``.``; output names hold no ``.`` either. So a step's folder is one
  path segment and holds only its outputs (whose file names all contain a
  ``.``: the extension, never empty) and the folder ``logged`` (no ``.``);
* a name with capitals gets a mark, ``~`` and which of its characters are
  capitals (a hex bit mask), before its first ``.``: ``Model`` becomes
  ``Model~1``, ``X`` and ``x`` become ``X~1`` and ``x``. Case-folded, a
  segment still says which name it came from: drop the mark for the lower-case
  name, read the mask for its capitals;
* the extension comes after the output's name, which holds no ``.``: the first
  ``.`` of an output's file name is where its extension starts.

Keys already recorded (as URIs, by older versions too) are never rebuilt:
artifacts are always read from the URI recorded when they were written.
"""

from __future__ import annotations

import re

from flowy.kernel import names
from flowy.kernel.errors import FlowyError

#: A step's folder for the files it logs with ``flowy.log_artifact``.
LOGGED_FOLDER = "logged"
#: A step's folder for the elements of outputs a downstream step maps over.
ELEMENTS_FOLDER = "elements"
#: A mapped step's element: ``train[3]`` (see :mod:`flowy.run.mapping`).
_ITEM = re.compile(r"(.+)\[(\d{1,9})\]")
#: The extension of an output whose materializer declares none (every output's
#: file name holds a ``.``, so none is ever named like the ``logged`` folder).
DEFAULT_EXTENSION = ".bin"
_EXTENSION = re.compile(r"(?:\.[A-Za-z0-9_-]+)+")


def case_mark(name: str) -> str:
    """``""`` for a name without capitals, else ``~`` and the bit mask of its capitals."""
    mask = 0
    for i, ch in enumerate(name):
        if "A" <= ch <= "Z":
            mask |= 1 << i
    return f"~{mask:x}" if mask else ""


def segment(name: str) -> str:
    """``name`` as one path segment, distinct from every other name's even case-folded."""
    stem, dot, rest = name.partition(".")
    return f"{stem}{case_mark(name)}{dot}{rest}"


def step_folder(prefix: str, run_id: str, step: str) -> str:
    """The key of the folder of ``step`` in run ``run_id`` (ends with ``/``).

    An element of a mapped step, ``train[3]``, has the folder ``train/3/`` inside
    its step's: digits only, never an output's file name (those hold a ``.``), the
    ``logged`` folder or the ``elements`` folder.
    """
    item = _ITEM.fullmatch(step)
    if item is not None:
        return f"{step_folder(prefix, run_id, item.group(1))}{int(item.group(2))}/"
    names.check(names.STEP, step)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", run_id):
        raise FlowyError(f"Invalid run id {run_id!r}: use letters, digits, '_' and '-'.")
    return f"{prefix}{run_id}/{segment(step)}/"


def element_key(prefix: str, run_id: str, step: str, output: str, index: int) -> str:
    """The key of element ``index`` of ``output``, stored element by element for a map
    (``<step folder>elements/<output>/<index>``, without its extension)."""
    names.check(names.OUTPUT, output, where=f"Step {step!r}: ")
    return f"{step_folder(prefix, run_id, step)}{ELEMENTS_FOLDER}/{segment(output)}/{index}"


def output_key(prefix: str, run_id: str, step: str, output: str) -> str:
    """The key of ``output`` of ``step``, without its extension (see :func:`extension`)."""
    names.check(names.OUTPUT, output, where=f"Step {step!r}: ")
    return step_folder(prefix, run_id, step) + segment(output)


def logged_key(prefix: str, run_id: str, step: str, name: str) -> str:
    """The key of the file ``name`` that ``step`` logged (the name keeps its extension)."""
    names.check(names.LOGGED_ARTIFACT, name, where=f"Step {step!r}: ")
    return f"{step_folder(prefix, run_id, step)}{LOGGED_FOLDER}/{segment(name)}"


def extension(materializer: str, declared: str) -> str:
    """The file extension for a materializer that declares ``declared`` (``.bin`` for none)."""
    if not declared:
        return DEFAULT_EXTENSION
    if not _EXTENSION.fullmatch(declared):
        raise FlowyError(
            f"Materializer {materializer!r} declares the extension {declared!r}; an extension "
            "is empty or like '.npy' or '.tar.gz' (ASCII letters, digits, '_' and '-' after "
            "each '.'). Fix the plugin that registers it."
        )
    return declared
