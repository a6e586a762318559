"""Alert rules, notifiers and ``ui_url``: the project's ``.flowy/config.toml``, validated.

::

    ui_url = "http://localhost:8080"

    [alerts.train-failed]
    kind = "run_failed"
    pipeline = "train"
    notifiers = ["ops"]          # default: every configured notifier

    [notifiers.ops]
    type = "webhook"
    url = "{env:WEBHOOK_URL}"
    secret = "{env:WEBHOOK_SECRET}"

Each ``[alerts.NAME]`` table is one rule, checked by a pydantic model chosen by
its ``kind``; a bad one is a :class:`~flowy.kernel.errors.ConfigError` naming
the file, the rule and the field. Notifier tables are checked here for their
shape (a ``type``) and by the notifier class for their options when built.
Runs read the validated result through :mod:`flowy.alerts.config`, which
keeps it beside the file so that pydantic is not needed while it is unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flowy.alerts.settings import AlertConfig, NamedRule
from flowy.kernel import names
from flowy.kernel.config import config_path, read_toml, write_toml_atomic
from flowy.kernel.errors import ConfigError

KINDS = ("run_failed", "retries", "duration", "metric", "freshness", "drift")
SEVERITIES = ("info", "warning", "error", "critical")
_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_period(value: Any) -> float:
    """Seconds from a number or ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError("a period is a number of seconds or a string like '2h'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _PERIOD.match(str(value))
        if not match:
            raise ValueError(
                f"{value!r} is not a period: write seconds (3600) or a number with a unit "
                "s, m, h, d or w ('90m', '1d')"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a period must be more than 0 seconds")
    return seconds


Period = Annotated[float, Field(gt=0)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: str | None = None
    """Only runs of this pipeline (default: every pipeline)."""
    severity: Literal["info", "warning", "error", "critical"] = "error"
    notifiers: list[str] | None = None
    """Notifier names to tell (default: every configured notifier; [] for none)."""
    description: str = ""


class RunFailed(_Rule):
    kind: Literal["run_failed"]


class Retries(_Rule):
    kind: Literal["retries"]
    step: str | None = None
    max_retries: int = Field(ge=0)
    """Fires when a step needed more retries than this (attempts - 1 > max_retries)."""


class Duration(_Rule):
    kind: Literal["duration"]
    step: str | None = None
    """A step's duration (default: the whole run's)."""
    max_seconds: Period | None = None
    factor: float | None = Field(default=None, gt=0)
    """Fires above ``factor`` x the median of the previous ``last`` completed runs."""
    last: int = Field(default=10, ge=1, le=1000)

    @field_validator("max_seconds", mode="before")
    @classmethod
    def _period(cls, value: Any) -> Any:
        return None if value is None else parse_period(value)

    def model_post_init(self, _context: Any) -> None:
        if self.max_seconds is None and self.factor is None:
            raise ValueError("a duration rule needs max_seconds (e.g. '10m') or factor (e.g. 3)")


class Metric(_Rule):
    kind: Literal["metric"]
    metric: str
    step: str | None = None
    below: float | None = None
    above: float | None = None
    worse_than_production: str | None = None
    """A registered model's name: fires when this run's metric is worse than the
    metric of the run that produced the model's production version."""
    higher_is_better: bool = True
    model: str | None = None
    """The model this metric is about (shown with the alert; default: worse_than_production)."""

    def model_post_init(self, _context: Any) -> None:
        if self.below is None and self.above is None and self.worse_than_production is None:
            raise ValueError(
                "a metric rule needs below, above or worse_than_production (a model name)"
            )


class Freshness(_Rule):
    kind: Literal["freshness"]
    pipeline: str  # type: ignore[assignment]
    within: Period
    """Fires when the pipeline has had no successful run for this long ('1d', 3600)."""

    @field_validator("within", mode="before")
    @classmethod
    def _period(cls, value: Any) -> Any:
        return parse_period(value)


class Drift(_Rule):
    kind: Literal["drift"]
    featureset: str
    """The FeatureSet's name (or the output name it was returned as)."""
    statistic: str = "mean"
    threshold: float = Field(gt=0)
    """Largest allowed relative change, |now - reference| / |reference| (0.2 = 20%)."""
    reference_run: str | None = None
    """The run to compare with (default: the pipeline's previous completed run)."""
    features: list[str] | None = None


Rule = Annotated[
    RunFailed | Retries | Duration | Metric | Freshness | Drift, Field(discriminator="kind")
]


class _Notifier(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    attempts: int = Field(default=3, ge=1, le=20)
    """Tries per delivery while the failure may pass (5xx, a timeout, no connection)."""
    backoff: float = Field(default=0.5, ge=0, le=300)
    """Seconds before the second try, doubled before each later one."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ui_url: str | None = None
    alerts: dict[str, Rule] = Field(default_factory=dict)
    notifiers: dict[str, _Notifier] = Field(default_factory=dict)


def validate(data: dict[str, Any], path: Path) -> AlertConfig:
    """The rules, notifiers and ui_url in ``data`` (read from ``path``), or a ConfigError."""
    raw_alerts = data.get("alerts", {})
    if not isinstance(raw_alerts, dict):
        raise ConfigError(
            f"Invalid alerts in {path}: 'alerts' must be a table of rules ([alerts.NAME]). "
            "Fix the file or use `flowy alert add`."
        )
    for name in list(raw_alerts) + list(data.get("notifiers", {}) or {}):
        _check_name(name, path)
    try:
        parsed = _Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path)) from exc
    for name, rule in parsed.alerts.items():
        unknown = [n for n in (rule.notifiers or []) if n not in parsed.notifiers]
        if unknown:
            raise ConfigError(
                f"Invalid alert rule {name!r} in {path}: notifiers {', '.join(unknown)} are not "
                f"configured. Configured notifiers: {', '.join(parsed.notifiers) or 'none'}; "
                "add a [notifiers.NAME] table or remove the name."
            )
    return AlertConfig(
        path,
        tuple(NamedRule(n, SimpleNamespace(**r.model_dump())) for n, r in parsed.alerts.items()),
        {n: n_.model_dump() for n, n_ in parsed.notifiers.items()},
        parsed.ui_url,
    )


def _check_name(name: str, path: Path) -> None:
    problem = names.STACK.problem(name)
    if problem is not None:
        raise ConfigError(
            f"Invalid alert rule or notifier name {name!r} in {path}: {problem}. Use "
            f"{names.STACK.allowed}."
        )


def _explain(exc: ValidationError, path: Path) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 2 and loc[0] in ("alerts", "notifiers"):
            what = "alert rule" if loc[0] == "alerts" else "notifier"
            # pydantic puts the chosen union member (the kind) first in the path: leave it out
            rest = loc[3:] if loc[0] == "alerts" and loc[2:3] and loc[2] in KINDS else loc[2:]
            field = ".".join(rest) or "(the table)"
            msg = err["msg"]
            if err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
                msg = f"kind must be one of {', '.join(KINDS)}"
            problems.append(f"{what} {loc[1]!r}: {field}: {msg}")
        else:
            problems.append(f"{'.'.join(loc)}: {err['msg']}")
    return (
        f"Invalid alert configuration in {path}: {'; '.join(problems)}. "
        "See docs/operations.md (alerts) and fix the file or use `flowy alert add`."
    )


def add_rule(name: str, table: dict[str, Any], project: Path | None = None) -> Path:
    """Validate and write ``[alerts.NAME]`` atomically; the file is unchanged on error."""
    return _add("alerts", "An alert rule", "flowy alert remove", name, table, project=project)


def remove_rule(name: str, project: Path | None = None) -> Path:
    return _remove("alerts", "alert rule", "Rules", name, project, check=False)


def add_notifier(name: str, table: dict[str, Any], project: Path | None = None) -> Path:
    """Validate and write ``[notifiers.NAME]`` atomically (its options are checked when built)."""
    return _add(
        "notifiers", "A notifier", "flowy alert notifier remove", name, table, project=project
    )


def remove_notifier(name: str, project: Path | None = None) -> Path:
    """Remove ``[notifiers.NAME]``; refused while a rule names it (the check names the rule)."""
    return _remove("notifiers", "notifier", "Notifiers", name, project, check=True)


def _add(
    section: str, noun: str, remove: str, name: str, table: dict[str, Any], *, project: Path | None
) -> Path:
    """Add the table ``[SECTION.NAME]`` to the project's config, validated, atomically."""
    path = config_path("project", project)
    data = read_toml(path)
    tables = dict(data.get(section) or {})
    if name in tables:
        raise ConfigError(
            f"{noun} named {name!r} already exists in {path}. Remove it first "
            f"(`{remove} {name}`) or choose another name."
        )
    tables[name] = {k: v for k, v in table.items() if v is not None}
    data[section] = tables
    validate(data, path)
    write_toml_atomic(path, data)
    return path


def _remove(
    section: str, noun: str, plural: str, name: str, project: Path | None, *, check: bool
) -> Path:
    """Remove ``[SECTION.NAME]`` from the project's config; ``check`` validates the rest."""
    path = config_path("project", project)
    data = read_toml(path)
    tables = dict(data.get(section) or {})
    if name not in tables:
        raise ConfigError(
            f"No {noun} named {name!r} in {path}. {plural}: {', '.join(tables) or 'none'}."
        )
    del tables[name]
    data[section] = tables
    if check:
        validate(data, path)
    write_toml_atomic(path, data)
    return path
