"""Starting the server: the bound socket, the token rule, one process or several workers.

The socket is bound here, before uvicorn starts, so ``--port 0`` works (the line
``Serving ... on http://HOST:PORT`` printed once the model is loaded names the
port the system chose) and a port in use fails at once with a clear error.

Security rules: the default host is 127.0.0.1; binding any other address needs
a token, given as ``{env:NAME}`` (never the secret itself on the command line,
where ``ps`` shows it); with a token, every route but ``/health`` wants
``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import sys
from dataclasses import asdict, dataclass
from typing import Any

from flowy_serve.errors import ServeError

_ENV_REF = re.compile(r"^\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")
#: How ``--workers N`` hands the options to each worker process.
CONFIG_ENV = "FLOWY_SERVE_CONFIG"


@dataclass
class ServeOptions:
    """What ``flowy model serve`` was asked for (JSON-able: workers get it in CONFIG_ENV)."""

    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    stack: str | None = None
    token: str | None = None
    """``{env:NAME}``: the environment variable holding the token."""
    max_body: int = 64 * 1024 * 1024
    poll_interval: float = 1.0
    follow: bool = True
    access_log: bool = False
    directory: str | None = None
    batch_max_rows: int = 0
    """Micro-batching: gather concurrent JSON requests into calls of up to this many rows."""
    batch_wait_ms: float = 1.0
    """Serve a packaged model from this folder (``flowy model package``) instead of a store."""


def resolve_token(ref: str | None) -> str | None:
    """The token a ``{env:NAME}`` reference names; a literal is refused (``ps`` shows it)."""
    if ref is None:
        return None
    match = _ENV_REF.match(ref.strip())
    if not match:
        raise ServeError(
            "--token takes a reference to an environment variable, {env:NAME}, not the token "
            "itself (a command line is visible to every user of the machine): "
            "export FLOWY_SERVE_TOKEN=... and pass --token '{env:FLOWY_SERVE_TOKEN}'"
        )
    value = os.environ.get(match[1], "")
    if not value:
        raise ServeError(
            f"--token names the environment variable {match[1]}, which is not set or empty"
        )
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_security(options: ServeOptions) -> str | None:
    """The token to require; refuses a non-loopback bind without one."""
    token = resolve_token(options.token)
    if token is None and not is_loopback(options.host):
        raise ServeError(
            f"Binding {options.host} makes the model reachable from other machines, so a token "
            "is required: export FLOWY_SERVE_TOKEN=<a long random string> and add "
            "--token '{env:FLOWY_SERVE_TOKEN}' (clients send Authorization: Bearer <token>). "
            "Serve on 127.0.0.1 (the default) to go without."
        )
    return token


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. "
            "Pick another --port (0 picks a free one)."
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def build_state(options: ServeOptions) -> Any:
    """Load the model and make the app's state (a stage follower when it follows a stage)."""
    from flowy_serve.app import ServerState
    from flowy_serve.batching import MicroBatcher

    token = resolve_token(options.token)
    if options.directory is not None:
        from flowy_serve.package import load_from_directory

        state = ServerState(
            load_from_directory(options.directory, options.model), options.max_body, token
        )
    else:
        from flowy_serve.follow import StageFollower
        from flowy_serve.loading import load_from_store, parse_spec

        spec = parse_spec(options.model)
        state = ServerState(load_from_store(spec, options.stack), options.max_body, token)
        if spec.follows_stage and options.follow:
            state.follower = StageFollower(
                state, spec, stack=options.stack, interval=options.poll_interval
            )
    if options.batch_max_rows > 1:
        state.batcher = MicroBatcher(options.batch_max_rows, options.batch_wait_ms / 1000)
    return state


def app_from_env() -> Any:
    """uvicorn's app factory in each ``--workers`` process: options from CONFIG_ENV."""
    from flowy_serve.app import create_app

    return create_app(build_state(ServeOptions(**json.loads(os.environ[CONFIG_ENV]))))


def run(options: ServeOptions, *, echo: Any = print) -> None:
    """Load, bind, say where, serve until Ctrl-C or SIGTERM."""
    import uvicorn

    from flowy_serve.app import create_app

    check_security(options)
    common: dict[str, Any] = {
        "log_level": "warning", "access_log": options.access_log, "lifespan": "on",
        "timeout_graceful_shutdown": 10,
    }  # fmt: skip
    if options.workers > 1:
        state_line = f"{options.model} with {options.workers} workers"
        sock = bind(options.host, options.port)
        os.environ[CONFIG_ENV] = json.dumps(asdict(options))
        config = uvicorn.Config("flowy_serve.server:app_from_env", factory=True,
                                workers=options.workers, **common)  # fmt: skip
        echo(f"Serving {state_line} on {_url(sock)}")
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
        return
    where = f"folder {options.directory}" if options.directory else "the registry"
    print(f"Loading {options.model} from {where}...", file=sys.stderr, flush=True)
    state = build_state(options)
    sock = bind(options.host, options.port)
    info = state.current.info
    echo(f"Serving {info['name']} v{info['version']} ({info.get('stage', '-')}) on {_url(sock)}")
    sys.stdout.flush()
    server = uvicorn.Server(uvicorn.Config(create_app(state), **common))
    server.run(sockets=[sock])


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
