"""``flowy ui``: serve the web UI and API; ``flowy ui token``: manage access tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

TOKEN_HELP = "flowy ui token create NAME --role viewer|editor|admin"


def _tokens(tokens_file: Path | None) -> Any:
    from flowy_ui.settings import Settings
    from flowy_ui.tokens import TokenStore

    return TokenStore(Settings(tokens_file=tokens_file).tokens_path)


tokens_file_option = click.option(
    "--tokens-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="FLOWY_UI_TOKENS",
    help="The tokens file [default: FLOWY_HOME/ui/tokens.json; env FLOWY_UI_TOKENS].",
)


SERVE_OPTIONS = [
    click.option(
        "--host", default="127.0.0.1", show_default=True,
        help="Address to bind. Anything but loopback (127.0.0.1, ::1, localhost) needs a token.",
    ),
    click.option("--port", "-p", type=click.IntRange(0, 65535), default=8765, show_default=True,
                 help="TCP port (0: any free port)."),
    click.option("--stack", "-s", metavar="NAME",
                 help="Serve this stack instead of the active one."),
    click.option("--read-only", is_flag=True,
                 help="Refuse every write (promote, rollback, cancel): 403."),
    tokens_file_option,
    click.option(
        "--audit-file", type=click.Path(dir_okay=False, path_type=Path), envvar="FLOWY_UI_AUDIT",
        help="The audit log [default: FLOWY_HOME/ui/audit.jsonl; env FLOWY_UI_AUDIT].",
    ),
    click.option(
        "--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
        help="Host header to accept when bound off loopback (repeatable; default: any).",
    ),
    click.option(
        "--static-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
        envvar="FLOWY_UI_STATIC_DIR",
        help="Serve the frontend from this folder instead of the shipped build "
        "(frontend development; env FLOWY_UI_STATIC_DIR).",
    ),
]  # fmt: skip


def serve_options(command: Any) -> Any:
    """The options ``flowy ui`` and ``flowy ui start`` share."""
    for option in reversed(SERVE_OPTIONS):
        command = option(command)
    return command


@click.group(invoke_without_command=True)
@serve_options
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
@click.pass_context
def ui(  # noqa: PLR0917 - click passes options as arguments
    ctx: click.Context,
    host: str,
    port: int,
    stack: str | None,
    no_browser: bool,
    read_only: bool,
    tokens_file: Path | None,
    audit_file: Path | None,
    allowed_hosts: tuple[str, ...],
    static_dir: Path | None,
) -> None:
    """Serve the web UI and HTTP API of this project's runs, in the foreground.

    \b
    Reads the active stack (or --stack) through Flowy's read API, so it works
    on SQLite or PostgreSQL, local or S3 artifacts alike. Prints the URL and
    opens a browser unless --no-browser; Ctrl-C stops it.

    \b
    The API is under /api/v1 (schema: /api/v1/openapi.json); /healthz answers
    without a token. Tokens and roles:
      viewer  reads everything
      editor  also promotes and rolls back models, cancels runs
      admin   also reads the audit log
    Once any token exists (`flowy ui token create`), every /api request needs
    `Authorization: Bearer <token>`. Binding anything but loopback without a
    token is refused (exit 2). Every write goes to FLOWY_HOME/ui/audit.jsonl.

    \b
    `flowy ui start` runs the same server in the background (its pid file and
    log are under FLOWY_HOME/ui); `flowy ui status` and `flowy ui stop` find it.

    \b
    Examples:
      flowy ui --no-browser                      this machine only, no token
      flowy ui start --port 8800                 in the background; then `flowy ui stop`
      flowy ui token create alice --role viewer  prints alice's token once
      flowy ui --host 0.0.0.0 --read-only        the team reads, with tokens
    """
    if ctx.invoked_subcommand is not None:
        return
    from flowy_ui.settings import Settings

    settings = Settings(
        host=host,
        port=port,
        stack=stack,
        read_only=read_only,
        tokens_file=tokens_file,
        audit_file=audit_file,
        allowed_hosts=list(allowed_hosts) or None,
        static_dir=static_dir,
    )
    if not settings.loopback and not _tokens(tokens_file).exists_any():
        click.echo(
            f"Refusing to serve on {host}: it is not a loopback address and no token exists, "
            "so anyone who can reach it could read every run and artifact. Create a token "
            f"first (`{TOKEN_HELP}`), then give it to the people who use the UI; or serve on "
            "127.0.0.1.",
            err=True,
        )
        ctx.exit(2)
    serve(settings, open_browser=not no_browser)


def serve(settings: Any, open_browser: bool) -> None:
    """Run uvicorn in the foreground until Ctrl-C or SIGTERM."""
    import threading
    import time
    import webbrowser

    import uvicorn

    from flowy_ui.app import MAX_REQUEST_HEAD, create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
    )
    server = uvicorn.Server(config)

    def announce() -> None:
        port = settings.port
        for s in getattr(server, "servers", []) or []:
            for sock in s.sockets:
                port = sock.getsockname()[1]
        url = settings.model_copy(update={"port": port}).url
        click.echo(f"Flowy UI serving stack {app.state.clients.stack!r} at {url}", err=False)
        click.echo("Press Ctrl-C to stop.")
        sys.stdout.flush()
        if open_browser:
            webbrowser.open(url)

    def wait_started() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            announce()

    threading.Thread(target=wait_started, name="flowy-ui-announce", daemon=True).start()
    try:
        server.run()  # shuts down gracefully on Ctrl-C, then re-raises it: that is a clean stop
    except KeyboardInterrupt:
        pass
    click.echo("Flowy UI stopped.")


@ui.command("start")
@serve_options
def start(  # noqa: PLR0917 - click passes options as arguments
    host: str,
    port: int,
    stack: str | None,
    read_only: bool,
    tokens_file: Path | None,
    audit_file: Path | None,
    allowed_hosts: tuple[str, ...],
    static_dir: Path | None,
) -> None:
    """Start the UI server in the background; `flowy ui stop` stops it.

    Takes the options of `flowy ui`. Waits until the server answers, then prints
    its URL and returns. Its output goes to FLOWY_HOME/ui/server.log and its pid
    to FLOWY_HOME/ui/server.json (one background server per FLOWY_HOME).
    """
    from flowy.kernel.config import require_project

    from flowy_ui import background

    args = ["--host", host, "--port", str(port)]
    args += ["--stack", stack] if stack else []
    args += ["--read-only"] if read_only else []
    args += ["--tokens-file", str(tokens_file.resolve())] if tokens_file else []
    args += ["--audit-file", str(audit_file.resolve())] if audit_file else []
    args += [a for name in allowed_hosts for a in ("--allowed-host", name)]
    args += ["--static-dir", str(static_dir.resolve())] if static_dir else []
    record = background.start(args, require_project())
    click.echo(f"Flowy UI serving at {record.url} in the background (pid {record.pid}).")
    click.echo(f"Log: {record.log}. Stop it with `flowy ui stop`.")


@ui.command("stop")
def stop() -> None:
    """Stop the background UI server that `flowy ui start` started (no-op when none runs)."""
    from flowy_ui import background

    record, killed = background.stop()
    if record is None:
        click.echo("No background Flowy UI is running.")
        return
    how = "killed: it did not stop on SIGTERM" if killed else "stopped"
    click.echo(f"Flowy UI at {record.url} (pid {record.pid}) {how}.")


@ui.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a sentence.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Whether a background UI server runs; exit status 3 when none does."""
    from flowy_ui import background

    record = background.read()
    if as_json:
        click.echo(json.dumps(background.describe(record) if record else None, indent=2))
    elif record is None:
        click.echo("No background Flowy UI is running (start one: `flowy ui start`).")
    else:
        info = background.describe(record)
        click.echo(
            f"Flowy UI serving at {record.url}, pid {record.pid}, up {info['uptime']:.0f} s, "
            f"project {record.project}. Log: {record.log}"
        )
    if record is None:
        ctx.exit(3)


@ui.group()
def token() -> None:
    """Create, list and revoke the UI's access tokens (stored hashed, shown once)."""


@token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="viewer",
              show_default=True, help="What the token may do.")  # fmt: skip
@click.option("--expires-in", "lifetime", metavar="DURATION",
              help="Stop working after 90d, 12h, 30m, 2w... (default: until revoked).")  # fmt: skip
@tokens_file_option
def token_create(name: str, role: str, lifetime: str | None, tokens_file: Path | None) -> None:
    """Create a token NAME with a role; the token is printed once, never stored."""
    from flowy_ui.tokens import parse_lifetime

    store = _tokens(tokens_file)
    record, secret = store.create(name, role, parse_lifetime(lifetime) if lifetime else None)
    click.echo(secret)
    until = f", valid until {_when(record.expires_at)}" if record.expires_at is not None else ""
    click.echo(
        f"Token {record.name!r} ({record.role}{until}) created in {store.path}. It is shown "
        "only now: send it as `Authorization: Bearer <token>`.",
        err=True,
    )


def _when(timestamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tokens_file_option
def token_list(as_json: bool, tokens_file: Path | None) -> None:
    """The tokens: name, role, id, creation time (never the token)."""
    import time

    rows = [r.public() for r in _tokens(tokens_file).load()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"No tokens. Create one: {TOKEN_HELP}")
        return
    now = time.time()
    for r in rows:
        expires = r["expires_at"]
        until = (
            "" if expires is None
            else f"  expired {_when(expires)}" if expires <= now
            else f"  until {_when(expires)}"
        )  # fmt: skip
        created = _when(r["created_at"])
        click.echo(f"{r['name']:<24} {r['role']:<7} {r['token_id']}  {created}{until}")


@token.command("revoke")
@click.argument("name")
@tokens_file_option
def token_revoke(name: str, tokens_file: Path | None) -> None:
    """Revoke the token NAME; a running server refuses it at once."""
    record = _tokens(tokens_file).revoke(name)
    click.echo(f"Token {record.name!r} revoked.")
