"""``flowy alert add|list|remove|test`` (rules in .flowy/config.toml) and ``flowy alerts``.

Rules are checked by :mod:`flowy.alerts.rules` before the file is written, so a
bad rule never lands in the config; ``flowy alerts`` reads the incidents the
engine recorded at the end of runs (and the scheduler for freshness).
"""

from __future__ import annotations

import time
from typing import Any

import click

from flowy_cli.common import json_option, parse_value, stack_option, store_client

KINDS = ["run_failed", "retries", "duration", "metric", "freshness", "drift"]
KIND_HELP = (
    "run_failed | retries (--max-retries) | duration (--max-seconds and/or --factor, --last) | "
    "metric (--metric with --below/--above/--worse-than-production) | freshness (--pipeline, "
    "--within) | drift (--featureset, --threshold, --statistic, --reference-run)"
)


@click.group()
def alert() -> None:
    """Alert rules: add, list, remove and test them.

    Rules live in the project's .flowy/config.toml as [alerts.NAME] tables and are
    evaluated when each run ends (freshness also on every `flowy scheduler` tick).
    Where they are sent is configured as [notifiers.NAME] tables (docs/operations.md).
    """


@alert.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(KINDS), help=KIND_HELP)
@click.option("--pipeline", help="Only runs of this pipeline (required for freshness).")
@click.option("--step", help="Only this step (retries, duration, metric).")
@click.option("--max-retries", type=int, help="retries: fire above this many retries of a step.")
@click.option("--max-seconds", help="duration: fire above this long ('90s', '10m', 600).")
@click.option("--factor", type=float, help="duration: fire above FACTOR x the recent median.")
@click.option("--last", type=int, help="duration: runs in the median (default 10).")
@click.option("--metric", help="metric: the logged metric's name.")
@click.option("--below", type=float, help="metric: fire when the value is below this.")
@click.option("--above", type=float, help="metric: fire when the value is above this.")
@click.option("--worse-than-production", metavar="MODEL",
              help="metric: fire when worse than MODEL's production version's run.")  # fmt: skip
@click.option("--lower-is-better", is_flag=True, help="metric: smaller values are better.")
@click.option("--within", help="freshness: fire with no successful run for this long ('1d').")
@click.option("--featureset", help="drift: the FeatureSet's name (or output name).")
@click.option("--threshold", type=float, help="drift: largest relative change (0.2 = 20%).")
@click.option("--statistic", help="drift: which statistic to compare (default mean).")
@click.option("--reference-run", help="drift: compare with this run (default: the previous).")
@click.option("--severity", type=click.Choice(["info", "warning", "error", "critical"]))
@click.option("--notifier", "notifiers", multiple=True,
              help="Send to this notifier (repeat; default: every configured one).")  # fmt: skip
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE",
              help="Any other field of the rule (repeat).")  # fmt: skip
def add(name: str, kind: str, extra: tuple[str, ...], lower_is_better: bool, **fields: Any) -> None:
    """Add the rule NAME to the project's config (validated first)."""
    from flowy.alerts.rules import add_rule

    from flowy_cli.output import console

    table: dict[str, Any] = {
        "kind": kind,
        **{k: v for k, v in fields.items() if v not in (None, ())},
    }
    if "notifiers" in table:
        table["notifiers"] = list(table["notifiers"])
    if lower_is_better:
        table["higher_is_better"] = False
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        table[key.strip()] = parse_value(value)
    path = add_rule(name, table)
    console().print(f"Added alert rule [bold]{name}[/] ({kind}) to {path}")


@alert.command("list")
@json_option
def list_rules(as_json: bool) -> None:
    """The rules of the project's config, with where each is sent."""
    from flowy.alerts.config import load_alert_config
    from flowy.kernel.config import require_project

    from flowy_cli.output import console, print_json, print_table
    from flowy_cli.terminal_text import escape_markup as escape

    config = load_alert_config(require_project())
    rows = [
        {
            "name": rule.name,
            **{k: v for k, v in rule.fields().items() if v is not None},
            "notifiers": config.notifiers_for(rule),
        }
        for rule in config.rules
    ]
    if as_json:
        print_json({"file": str(config.path), "rules": rows, "notifiers": sorted(config.notifiers)})
        return
    print_table(
        ("rule", "kind", "pipeline", "condition", "notifiers"),
        (
            (
                escape(r["name"]),
                r["kind"],
                escape(r.get("pipeline") or "any"),
                escape(_condition(r)),
                escape(", ".join(r["notifiers"]) or "none"),
            )
            for r in rows
        ),
        empty=f"No alert rules in {config.path}. Add one with `flowy alert add`.",
    )
    if not config.notifiers and rows:
        console().print("[dim]No notifiers configured: alerts are recorded, not sent.[/]")


def _condition(rule: dict[str, Any]) -> str:
    skip = {"name", "kind", "pipeline", "notifiers", "severity", "description"}
    return " ".join(f"{k}={v}" for k, v in rule.items() if k not in skip) or "-"


@alert.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove the rule NAME from the project's config (its recorded alerts stay)."""
    from flowy.alerts.rules import remove_rule

    from flowy_cli.output import console

    path = remove_rule(name)
    console().print(f"Removed alert rule [bold]{name}[/] from {path}")


@alert.command("test")
@click.argument("rule", required=False)
@click.option("--notifier", "notifier", help="Send to this notifier instead of a rule's.")
@json_option
def test(rule: str | None, notifier: str | None, as_json: bool) -> None:
    """Send a real test message for RULE (to its notifiers), or to --notifier NAME.

    Exits 1 when a delivery failed, saying why.
    """
    from flowy.alerts.config import load_alert_config
    from flowy.alerts.notify import deliver_all
    from flowy.kernel.alerting import AlertRecord
    from flowy.kernel.config import require_project

    from flowy_cli.common import plugin_manager
    from flowy_cli.output import console, print_json

    if (rule is None) == (notifier is None):
        raise click.UsageError("Name a RULE or --notifier NAME (one of them).")
    config = load_alert_config(require_project())
    now = time.time()
    if rule is not None:
        named = config.rule(rule)
        targets = config.notifiers_for(named)
        kind, pipeline = named.spec.kind, named.spec.pipeline
        if not targets:
            raise click.ClickException(
                f"Alert rule {rule!r} sends to no notifier: add a [notifiers.NAME] table "
                f"to {config.path} (or name one in the rule's notifiers)."
            )
    else:
        assert notifier is not None
        if notifier not in config.notifiers:
            raise click.ClickException(
                f"No notifier named {notifier!r} in {config.path}. Notifiers: "
                f"{', '.join(config.notifiers) or 'none'}."
            )
        targets, kind, pipeline = [notifier], "test", None
    sample = AlertRecord(
        rule=rule or "test",
        kind=kind,
        subject=pipeline or "test",
        status="test",
        severity="info",
        message=f"A test message from `flowy alert test`, sent at {time.ctime(now)}.",
        fired_at=now,
        updated_at=now,
        pipeline=pipeline,
    )
    outcomes = deliver_all(
        None, config, [(t, sample, "test") for t in targets], plugins=plugin_manager()
    )
    if as_json:
        import attrs

        print_json([attrs.asdict(o) for o in outcomes])
    else:
        for o in outcomes:
            mark = "[green]sent[/]" if o.status == "sent" else f"[red]failed[/]: {o.error}"
            console().print(f"{o.notifier}: {mark} (attempts: {o.attempts})")
    if any(o.status != "sent" for o in outcomes):
        raise SystemExit(1)


@alert.group("notifier")
def notifier_group() -> None:
    """Notifiers: where alerts are sent ([notifiers.NAME] tables of the project's config).

    Types come from plugins (flowy-notifiers: webhook, slack, discord, email); see
    `flowy plugins`. Keep secrets in the environment: --set 'secret={env:HOOK_SECRET}'.
    """


@notifier_group.command("add")
@click.argument("name")
@click.option("--type", "type_", required=True, help="webhook, slack, discord, email, ...")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE",
              help="A notifier option (repeat): url, secret, timeout, attempts, ...")  # fmt: skip
def notifier_add(name: str, type_: str, options: tuple[str, ...]) -> None:
    """Add the notifier NAME to the project's config."""
    from flowy.alerts.rules import add_notifier

    from flowy_cli.output import console

    table: dict[str, Any] = {"type": type_}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        table[key.strip()] = parse_value(value)
    path = add_notifier(name, table)
    console().print(f"Added notifier [bold]{name}[/] ({type_}) to {path}")


@notifier_group.command("remove")
@click.argument("name")
def notifier_remove(name: str) -> None:
    """Remove the notifier NAME (refused while a rule names it)."""
    from flowy.alerts.rules import remove_notifier

    from flowy_cli.output import console

    path = remove_notifier(name)
    console().print(f"Removed notifier [bold]{name}[/] from {path}")


@click.command("alerts")
@click.option("--all", "show_all", is_flag=True, help="Resolved alerts too (newest first).")
@click.option("--limit", default=100, show_default=True, help="Show at most this many.")
@stack_option()
@json_option
def alerts(show_all: bool, limit: int, stack: str | None, as_json: bool) -> None:
    """Alerts recorded in the store: firing first, with what each is about and its link."""
    from flowy.alerts.config import load_alert_config
    from flowy.kernel.alerting import alert_log

    from flowy_cli.output import fmt_time, print_json, print_table
    from flowy_cli.terminal_text import escape_markup as escape

    client = store_client(stack)
    config = load_alert_config(client.project)
    log = alert_log(client.store)
    records = log.list_alerts(include_resolved=show_all, limit=limit)
    if as_json:
        import attrs

        print_json([{**attrs.asdict(a), "link": config.link(a.run_id)} for a in records])
        return
    columns = ["id", "status", "rule", "subject", "message", "about", "fired", "link"]
    if show_all:
        columns.insert(7, "resolved")
    print_table(
        columns,
        (
            [
                str(a.id),
                "[red]firing[/]" if a.status == "firing" else "[green]resolved[/]",
                escape(a.rule),
                escape(a.subject),
                escape(a.message),
                escape(_about(a)),
                fmt_time(a.fired_at),
                *([fmt_time(a.resolved_at) if a.resolved_at else "-"] if show_all else []),
                escape(config.link(a.run_id) or ""),
            ]
            for a in records
        ),
        empty="No alerts firing." if not show_all else "No alerts recorded.",
        whole=("id", "status"),
    )


def _about(a: Any) -> str:
    parts = [
        f"run {a.run_id}" if a.run_id else "",
        f"step {a.step}" if a.step else "",
        f"artifact {a.artifact_id[:12]}" if a.artifact_id else "",
        f"model {a.model} v{a.model_version}" if a.model and a.model_version else "",
        f"model {a.model}" if a.model and not a.model_version else "",
    ]
    return ", ".join(p for p in parts if p)
