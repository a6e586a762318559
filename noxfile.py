"""Developer sessions: tests, lint, types, the demo and the benchmarks.

``nox -s tests`` is what CI runs (.ci/run). Pass pytest arguments after
``--``, e.g. ``nox -s tests -- -m "not slow" -x``.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "types"]

PYTHON = "3.11"
#: Distributions in dependency order (core first), as a user installs them.
PACKAGES = [
    "./flowy-core",
    "./flowy-executor-local",
    "./flowy-executor-dask",
    "./flowy-store-sqlite",
    "./flowy-materializers",
    "./flowy-cli",
    "./flowy-aws",
    "./flowy-gcp",
    "./flowy-azure",
    "./flowy-executor-ray",
    "./flowy-cache-redis",
    "./flowy-mlflow",
    "./flowy-wandb",
    "./flowy-notifiers",
    "./flowy-ui",
    "./flowy-serve",
]
#: What the whole test suite needs on top: every framework the materializers
#: support (torch pinned to the CPU build), PostgreSQL's driver, moto's server,
#: the example third-party plugin, and the test tools (import-linter: the import contracts
#: are checked by tests/test_import_contracts.py, so CI enforces them; 2.17 is the release
#: the contracts are written against: older ones lack the acyclic_siblings contract type).
TEST_EXTRAS = [
    "./flowy-core[reports]",
    "./flowy-materializers[test]",
    "./flowy-store-sqlite[postgres]",
    "./flowy-aws[test]",
    "./flowy-gcp[test]",
    "./flowy-azure[test]",
    "./flowy-executor-ray[test]",
    "./flowy-cache-redis[test]",
    "./flowy-wandb[test]",
    "./flowy-ui[test]",
    "./flowy-serve[test]",
    "./flowy-notifiers[test]",
    "./examples/plugins/flowy-example-plugin",
]
#: mypy: flowy-core/tests/test_kernel_protocols.py type-checks the run layer against the
#: kernel's protocols (the same tool and version range as the types session).
#: pytest-xdist: the suite runs on every core (most tests wait on real subprocesses and
#: servers, so one process left a core idle; a fresh machine's run must stay under 20 minutes).
TEST_DEPS = [
    "pytest>=8",
    "pytest-xdist>=3.6",
    "hypothesis>=6.100",
    "import-linter>=2.17",
    "mypy>=1.10",
]


def install_flowy(
    session: nox.Session, editable: bool = True, extra: list[str] | None = None
) -> None:
    """Install the distributions (editable for development) in one pip call.

    pip's own progress is shown (nox hides it by default): a fresh install takes
    minutes, and a silent terminal for that long looks like a hang.
    """
    args = [a for pkg in [*PACKAGES, *(extra or [])] for a in (("-e", pkg) if editable else (pkg,))]
    session.install(*args, silent=False)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Install the system packages, every distribution and every test need; run the suite."""
    session.run("bash", "scripts/install-system-packages.sh", external=True)
    install_flowy(session, extra=TEST_EXTRAS)
    session.install(*TEST_DEPS, silent=False)
    # One worker per core; each takes the next test file's tests as it frees up (worksteal).
    # `nox -s tests -- -n 0` runs in one process (e.g. for pdb); later options win.
    session.run("pytest", "-n", "auto", "--dist", "worksteal", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and format check, then the import contracts of pyproject.toml.

    lint-imports reads the installed packages' import graph, so every distribution (and the
    example plugin, which the contracts cover too) is installed first, as for the types session.
    """
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    install_flowy(session, extra=["./examples/plugins/flowy-example-plugin"])
    session.install("import-linter>=2.17")
    session.run("lint-imports", "--no-cache")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy over every distribution's sources."""
    install_flowy(session)
    # hypothesis: flowy.testing's property-based suites are typed through its decorators.
    session.install("mypy>=1.10", "pytest>=8", "hypothesis>=6.100")
    session.run(
        "mypy",
        "flowy-core/src/flowy",
        "flowy-executor-local/src/flowy_executor_local",
        "flowy-executor-dask/src/flowy_executor_dask",
        "flowy-store-sqlite/src/flowy_store_sqlite",
        "flowy-materializers/src/flowy_materializers",
        "flowy-cli/src/flowy_cli",
        "flowy-aws/src/flowy_aws",
        "flowy-gcp/src/flowy_gcp",
        "flowy-azure/src/flowy_azure",
        "flowy-executor-ray/src/flowy_executor_ray",
        "flowy-cache-redis/src/flowy_cache_redis",
        "flowy-mlflow/src/flowy_mlflow",
        "flowy-wandb/src/flowy_wandb",
        "flowy-ui/src/flowy_ui",
        "flowy-notifiers/src/flowy_notifiers",
        "flowy-serve/src/flowy_serve",
    )


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Install Flowy (non-editable, as a user would) and run the example pipeline twice."""
    install_flowy(session, editable=False)
    tmp = session.create_tmp()
    session.chdir(tmp)
    session.run("flowy", "init", "demo", "--force")
    session.chdir("demo")
    session.run("flowy", "run", "pipeline.py")
    session.run("flowy", "run", "pipeline.py")
    session.run("flowy", "runs", "list")


@nox.session(python=PYTHON)
def benchmarks(session: nox.Session) -> None:
    """Run the benchmarks in benchmarks/ and print their figures (``-- NAME`` for one)."""
    install_flowy(session, editable=False, extra=TEST_EXTRAS)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=False)
def ui_build(session: nox.Session) -> None:
    """Rebuild flowy-ui's web frontend into flowy-ui/src/flowy_ui/static/ (needs Node 20+, npm).

    ``npm ci`` installs exactly what frontend/package-lock.json pins, ``npm run lint`` runs
    ``tsc --noEmit`` and ESLint, ``npm test`` the unit tests (Vitest), ``npm run build``
    builds with Vite and writes static/build-manifest.json (the hash of the source it was
    built from). Commit static/ afterwards: the wheel ships it, and
    flowy-ui/tests/test_frontend_build.py fails while it is older than the source.
    """
    session.chdir("flowy-ui/frontend")
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
    session.run("npm", "run", "lint", external=True)
    session.run("npm", "test", external=True)
    session.run("npm", "run", "build", external=True)
