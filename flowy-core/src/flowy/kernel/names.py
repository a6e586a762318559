"""The one validation of names: every name a user gives Flowy is checked here.

Names become file and object names (artifact keys, stack files), command-line
arguments and terminal text, so each kind of name has one rule, and every
place that takes such a name checks it with :func:`check`:

* rules are matched with :func:`re.fullmatch` (``re.match`` with ``$`` accepts
  a trailing newline: ``"nl\\n"`` once became a stack file ``nl\\n.toml``);
* names that become paths are ASCII (letters, digits, ``_``, ``-``, ``.``),
  never start with ``.`` or ``-``, never end with ``.`` and never hold ``/``
  or ``\\``: no hidden file, no ``..``, no path, no option, no Unicode
  normalization or look-alike surprise;
* no name holds a control or format character (newline, ESC, a zero-width or
  right-to-left mark), not even a free-text one such as an experiment name.

None of these alphabets holds ``~``; :mod:`flowy.artifacts.store_io` relies on that to
build artifact keys that are unique by construction. An error names the kind
of name, the offending value (its ``repr``) and what is allowed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

import attrs

from flowy.kernel.errors import FlowyError

if TYPE_CHECKING:
    from collections.abc import Callable


@attrs.frozen
class NameRule:
    """One kind of name: its pattern (matched whole) and what to tell a user."""

    kind: str
    """What the name is, for messages: ``"step name"``."""
    pattern: re.Pattern[str]
    """Matched with ``fullmatch``, never ``match``."""
    chars: re.Pattern[str]
    """One allowed character (to name the first one that is not)."""
    max_length: int
    allowed: str
    """What is allowed, as a sentence fragment after "use"."""
    no_dotdot: bool = False
    """Refuse ``..`` anywhere (names that must never be mistaken for paths)."""

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not a valid name of this kind, or None when it is."""
        if not isinstance(value, str):
            return f"it is a {type(value).__name__}, not a string"
        if not value:
            return "it is empty"
        for ch in value:
            if unicodedata.category(ch).startswith("C"):
                return f"it contains the non-printing character U+{ord(ch):04X}"
        if len(value) > self.max_length:
            return f"it has {len(value)} characters, more than {self.max_length}"
        if self.no_dotdot and ".." in value:
            return "it contains '..'"
        if self.pattern.fullmatch(value):
            return None
        for sep in ("/", "\\"):
            if sep in value:
                return f"it contains {sep!r}, and names must never be taken for paths"
        bad = [ch for ch in value if not self.chars.fullmatch(ch)]
        if bad:
            return f"it contains {bad[0]!r}"
        if not self.pattern.fullmatch(value[0]):
            return f"it starts with {value[0]!r}"
        if value[-1] in ".- ":
            return f"it ends with {value[-1]!r}"
        return "it is not of that form"

    def is_valid(self, value: object) -> bool:
        return self.problem(value) is None

    def message(self, value: object) -> str:
        """The whole error message for an invalid ``value``."""
        return f"Invalid {self.kind} {_shown(value)}: {self.problem(value)}. Use {self.allowed}."


def _shown(value: object) -> str:
    """``repr(value)``, cut short for a very long value (a message stays readable)."""
    if isinstance(value, str) and len(value) > 80:
        return f"{value[:60]!r}... ({len(value)} characters)"
    return repr(value)


def _rule(
    kind: str, pattern: str, chars: str, max_length: int, allowed: str, *, no_dotdot: bool = False
) -> NameRule:
    return NameRule(kind, re.compile(pattern), re.compile(chars), max_length, allowed, no_dotdot)


#: Pattern, allowed character and length of names that may become a file name.
_ASCII_PATH_RULE = (r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9_-])?", r"[A-Za-z0-9_.-]", 128)
_ASCII_PATH = (
    "ASCII letters, digits, '_', '-' and '.', starting with a letter, digit or '_' and not "
    "ending with '.', at most {n} characters"
)

STEP = _rule(
    "step name",
    *_ASCII_PATH_RULE,
    _ASCII_PATH.format(n=128) + " (@step(name=...) names a step otherwise than its function)",
)
OUTPUT = _rule(
    "output name",
    r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}",
    r"[A-Za-z0-9_-]",
    128,
    "ASCII letters, digits, '_' and '-', starting with a letter, digit or '_', at most 128 "
    "characters (an output is usually the name of a downstream step's parameter)",
)
LOGGED_ARTIFACT = _rule(
    "logged artifact name",
    *_ASCII_PATH_RULE,
    _ASCII_PATH.format(n=128) + ", such as 'confusion.png'",
)
PIPELINE = _rule(
    "pipeline name",
    *_ASCII_PATH_RULE,
    _ASCII_PATH.format(n=128),
)
NESTED = _rule(
    "nested pipeline name",
    r"[A-Za-z_][A-Za-z0-9_]{0,63}",
    r"[A-Za-z0-9_]",
    64,
    "ASCII letters, digits and '_', starting with a letter or '_', at most 64 characters (it "
    "starts the names of the nested steps, '<name>.<step>', and of the nested pipeline's own "
    "outputs, '<name>__<output>'; name it with pipeline.as_step(name=...))",
)
STACK = _rule(
    "stack name",
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
    r"[A-Za-z0-9_.-]",
    64,
    "1-64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit",
)
MODEL = _rule(
    "model name",
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}",
    r"[A-Za-z0-9_.-]",
    128,
    "ASCII letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 "
    "characters, without '..' (names must never be mistaken for paths)",
    no_dotdot=True,
)
STAGE = _rule(
    "stage",
    r"[a-z][a-z0-9_-]{0,63}",
    r"[a-z0-9_-]",
    64,
    "staging, production, archived, none or a lower-case word of letters, digits, '_' and '-' "
    "(for example 'shadow')",
)
EXPERIMENT = _rule(
    "experiment name",
    r"\S(?:.{0,198}\S)?",
    r".",
    200,
    "1-200 printable characters, not starting or ending with a space",
)
PLUGIN_DISTRIBUTION = _rule(
    "plugin name",
    r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*",
    r"[a-z0-9-]",
    100,
    "lowercase letters, digits and single '-', starting with a letter; by convention "
    "'flowy-<something>'",
)


def check(
    rule: NameRule,
    value: object,
    *,
    error: Callable[[str], Exception] = FlowyError,
    where: str = "",
) -> str:
    """``value`` if it is a valid name of ``rule``'s kind; ``error(message)`` raised otherwise.

    ``where`` starts the message (``"Step 'train': "``) so that it names what
    the name belongs to.
    """
    if rule.problem(value) is None:
        assert isinstance(value, str)
        return value
    raise error(where + rule.message(value))


def sanitize(raw: str, rule: NameRule = LOGGED_ARTIFACT, default: str = "artifact") -> str:
    """``raw`` (a file's name) made a valid name of ``rule``: other characters become ``_``.

    Used where a name is derived rather than chosen (``flowy.log_artifact``
    without ``name=``); a name a user passes is checked, never silently changed.
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).lstrip(".-")
    stem, dot, suffix = cleaned.rpartition(".")
    if dot and stem and len(cleaned) > rule.max_length:
        cleaned = stem[: max(1, rule.max_length - len(suffix) - 1)] + "." + suffix
    cleaned = cleaned[: rule.max_length].rstrip(".") or default
    return cleaned if rule.is_valid(cleaned) else default
