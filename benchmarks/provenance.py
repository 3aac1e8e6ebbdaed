"""Where a saved benchmark result came from: the command line, its arguments, the machine and the commit.

Every script under ``benchmarks/`` saves through :func:`save`, so each file under ``benchmarks/results/``
can be regenerated with the command it records (``make bench`` runs them all with their defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO = RESULTS.parents[1]


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _commit() -> str | None:
    """The commit the code ran at, ``-dirty`` when the tree had changes beside it."""
    run = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 else None


def machine() -> dict:
    """The machine as a reader needs it to judge a figure: CPU, cores, load when the run started, versions."""
    info = {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].__version__
    return info


def save(name: str, args: argparse.Namespace, result: dict, started: dict | None = None) -> Path:
    """Write ``results/<name>.json``: the command that made it, its arguments, machine, commit, then ``result``.

    ``started``: :func:`machine` taken when the run began (its load average is the one that matters).
    """
    script = Path(sys.argv[0]).resolve()
    record = {
        "command": " ".join(["python", f"benchmarks/{script.name}", *sys.argv[1:]]),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": started or machine(),
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d"),
        **result,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
