"""Run every benchmark script in this folder (used by ``nox -s benchmarks``).

``python benchmarks/run.py [NAME ...]`` runs the named ones (file stems), or all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.stem != "run" and not p.stem.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    status = 0
    for script in scripts:
        print(f"\n== {script.stem} ==", flush=True)
        status |= subprocess.run([sys.executable, str(script)], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
