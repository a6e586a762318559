"""``flowy circuits``: the circuit breakers of steps, as every run sharing the store sees them.

A breaker (``@step(circuit_breaker=...)``, see docs/operations.md) gets its row
the first time its step ends; ``list`` shows each with its state, consecutive
failures and last error, ``reset`` closes breakers by hand (after fixing
what made the step fail), so the next run attempts the step at once, and
``open`` opens one by hand (a service under maintenance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from flowy_cli.common import json_option, stack_option, store_client

if TYPE_CHECKING:
    from flowy.kernel.circuits import CircuitBreakers, CircuitState

_stack_option = stack_option("Use this stack's store instead of the active one.")


@click.group()
def circuits() -> None:
    """List the circuit breakers of steps; close or open them by hand.

    A step with @step(circuit_breaker={"failures": 3, "reset_after": 600}) stops
    being attempted after that many consecutive failed runs (its fallback supplies
    its outputs, or it is skipped); after reset_after seconds one run tries it
    again. The state is in the stack's metadata store, shared by every run.
    """


def _breakers(client: Any) -> CircuitBreakers:
    from flowy.kernel.circuits import breakers_of

    return breakers_of(client.store)


def _row(state: CircuitState) -> dict[str, Any]:
    from flowy.kernel.records import to_dict

    data: dict[str, Any] = to_dict(state)
    return data


@circuits.command("list")
@click.option("--pipeline", "-p", metavar="NAME", help="Only this pipeline's breakers.")
@_stack_option
@json_option
def list_circuits(pipeline: str | None, stack: str | None, as_json: bool) -> None:
    """Each breaker: pipeline, step, state, consecutive failures, when it opened or last
    changed, and the last error."""
    from flowy_cli.output import fmt_time, print_json, print_table
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        states = _breakers(client).circuit_states(pipeline)
    if as_json:
        print_json([_row(s) for s in states])
        return
    print_table(
        ("pipeline", "step", "state", "failures", "opened", "changed", "last error"),
        (
            (
                escape(s.pipeline),
                escape(s.step),
                _styled_state(s.state),
                str(s.failures),
                fmt_time(s.opened_at),
                fmt_time(s.updated_at),
                escape((s.last_error or "-").splitlines()[0]),
            )
            for s in states
        ),
        empty="No circuit breakers recorded"
        + (f" for pipeline {pipeline!r}" if pipeline else "")
        + ". A step's breaker appears once the step has run "
        '(@step(circuit_breaker={"failures": 3, "reset_after": 600})).',
    )


_STATE_STYLES = {"open": "red", "half_open": "yellow", "closed": "green"}


def _styled_state(state: str) -> str:
    from flowy_cli.terminal_text import escape_markup

    style = _STATE_STYLES.get(state, "")
    return f"[{style}]{escape_markup(state)}[/]" if style else escape_markup(state)


@circuits.command("reset")
@click.argument("pipeline", required=False)
@click.argument("step", required=False)
@click.option("--all", "every", is_flag=True, help="Close every breaker in the store.")
@_stack_option
def reset_circuits(pipeline: str | None, step: str | None, every: bool, stack: str | None) -> None:
    """Close breakers: PIPELINE's, PIPELINE STEP's, or --all. The next run attempts the step."""
    from flowy_cli.output import console
    from flowy_cli.terminal_text import escape_markup as escape

    if every == (pipeline is not None):
        raise click.UsageError(
            "name what to reset: PIPELINE, PIPELINE STEP, or --all for every breaker "
            "(`flowy circuits list` shows them)."
        )
    with store_client(stack) as client:
        breakers = _breakers(client)
        before = {(s.pipeline, s.step): s for s in breakers.circuit_states()}
        _check_known(before, pipeline, step)
        done = breakers.circuit_reset(pipeline, step)
    out = console()
    for s in done:
        old = before[(s.pipeline, s.step)]
        out.print(
            f"{escape(s.pipeline)}/{escape(s.step)}: closed "
            f"[dim](was {escape(old.state)}, {old.failures} consecutive failures)[/]"
        )


@circuits.command("open")
@click.argument("pipeline")
@click.argument("step")
@click.option(
    "--reason",
    default="opened by hand",
    show_default=True,
    help="Why, as runs will say it (e.g. 'the service is under maintenance').",
)
@_stack_option
def open_circuit(pipeline: str, step: str, reason: str, stack: str | None) -> None:
    """Open the breaker of PIPELINE's STEP by hand: runs use its fallback (or skip it)
    until reset_after seconds bring a trial, or `flowy circuits reset` closes it."""
    from flowy_cli.output import console
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        breakers = _breakers(client)
        _check_known({(s.pipeline, s.step): s for s in breakers.circuit_states()}, pipeline, step)
        state = breakers.circuit_trip(pipeline, step, reason)
    console().print(
        f"{escape(state.pipeline)}/{escape(state.step)}: open [dim]({escape(reason)})[/]"
    )


def _check_known(
    known: dict[tuple[str, str], CircuitState], pipeline: str | None, step: str | None
) -> None:
    """A clear error for a pipeline or step with no breaker, naming those there are."""
    if pipeline is None:
        return
    pipelines = sorted({p for p, _ in known})
    hint = " (a step's breaker appears once the step has run)"
    if pipeline not in pipelines:
        raise click.ClickException(
            f"no circuit breaker of pipeline {pipeline!r}; "
            + (f"pipelines with one: {', '.join(pipelines)}." if pipelines else "there are none")
            + ("" if pipelines else hint + ".")
        )
    steps = sorted(s for p, s in known if p == pipeline)
    if step is not None and step not in steps:
        raise click.ClickException(
            f"pipeline {pipeline!r} has no circuit breaker on step {step!r}; "
            f"its breakers: {', '.join(steps)}{hint}."
        )
