"""What alerting reads from the project's config: :class:`AlertConfig` and its rules.

Plain classes (attrs would compile their methods in every run that has rules), shared
by the validation (:mod:`flowy.alerts.rules`, pydantic) and the cached read runs use
(:mod:`flowy.alerts.config`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flowy.kernel.errors import ConfigError


class NamedRule:
    """A validated rule with its name (the ``[alerts.NAME]`` key).

    ``spec`` has one attribute per field of the rule's kind, defaults filled in
    (``spec.kind``, ``spec.pipeline``, ``spec.max_retries``, ...).
    """

    __slots__ = ("name", "spec")

    def __init__(self, name: str, spec: Any) -> None:
        self.name, self.spec = name, spec

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NamedRule) and (other.name, vars(other.spec)) == (
            self.name,
            vars(self.spec),
        )

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"NamedRule({self.name!r}, {self.spec!r})"

    def fields(self) -> dict[str, Any]:
        return dict(vars(self.spec))


class AlertConfig:
    """Everything alerting reads from the project's config file."""

    __slots__ = ("notifiers", "path", "rules", "ui_url")

    def __init__(
        self,
        path: Path,
        rules: tuple[NamedRule, ...] = (),
        notifiers: dict[str, dict[str, Any]] | None = None,
        ui_url: str | None = None,
    ) -> None:
        self.path, self.rules, self.ui_url = path, rules, ui_url
        self.notifiers = notifiers if notifiers is not None else {}

    def __repr__(self) -> str:
        return (
            f"<AlertConfig {self.path}: {len(self.rules)} rules, {len(self.notifiers)} notifiers>"
        )

    def rule(self, name: str) -> NamedRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        known = ", ".join(r.name for r in self.rules) or "none"
        raise ConfigError(
            f"No alert rule named {name!r} in {self.path}. Rules: {known}. "
            "Add one with `flowy alert add`."
        )

    def notifiers_for(self, rule: NamedRule) -> list[str]:
        wanted = rule.spec.notifiers
        return sorted(self.notifiers) if wanted is None else list(wanted)

    def link(self, run_id: str | None) -> str | None:
        """The UI page of a run (or the UI's home) when ``ui_url`` is set."""
        if not self.ui_url:
            return None
        base = self.ui_url.rstrip("/")
        return f"{base}/runs/{run_id}" if run_id else base

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": {r.name: r.fields() for r in self.rules},
            "notifiers": self.notifiers,
            "ui_url": self.ui_url,
        }

    @classmethod
    def from_json(cls, path: Path, data: dict[str, Any]) -> AlertConfig:
        rules = tuple(NamedRule(n, SimpleNamespace(**f)) for n, f in data["rules"].items())
        return cls(path, rules, dict(data["notifiers"]), data["ui_url"])
