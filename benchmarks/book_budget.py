"""The time budgets: the quick book built cold, and the ci-profile notebooks.

Budgets (CONTRIBUTING.md): the whole quick book, cold (empty artefact cache,
no ``_build``), at most 5 minutes on a 2-core CPU; the notebooks in the ``ci``
profile (what the test suite executes) at most 2 minutes. This script measures
both in a temporary copy of the book sources with its own empty
``$SYNOVIS_CACHE``, so nothing of yours is touched or reused, and prints the
figures with the per-notebook times (the runner's report) for the ci part.

    .venv/bin/python benchmarks/book_budget.py             # both
    .venv/bin/python benchmarks/book_budget.py --only ci   # the ci notebooks only
    .venv/bin/python benchmarks/book_budget.py --only book --keep /tmp/quick-results

``--keep`` copies the notebooks' metrics files (``*.metrics.json``) of the run
there, so the figures of the timed build can be read afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"book": 300.0, "ci": 120.0}
CI_JOBS = 2
"""Notebooks at once in the ci part, as the test suite runs them (``tests/notebooks.py``)."""
SOURCES = ("_config.yml", "_toc.yml", "book", "notebooks")


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, SYNOVIS_CACHE=str(cache))
    env.pop("SYNOVIS_PROFILE", None)
    return env


def time_book(work: Path) -> float:
    """Seconds to build the quick book from nothing (``tools/build_book.py``, as ``make book``
    runs it); the pinned web assets are fetched first, as ``make book`` does (not timed)."""
    subprocess.run(["bash", "tools/fetch_web_assets.sh"], cwd=ROOT, check=True)
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("_build"))
        else:
            shutil.copy2(source, work / name)
    command = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--root", str(work)]
    start = time.perf_counter()
    proc = subprocess.run(
        command, cwd=work, env=_env(work / "cache"), check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    print(proc.stdout.split("\n\n")[0])  # the runner's table: seconds per notebook
    return seconds


def time_ci(work: Path) -> tuple[float, dict[str, float]]:
    """Seconds to execute every notebook in the ci profile, two at a time as the test suite
    does, and each notebook's seconds."""
    from synovis_lib.runner import run_notebooks

    os.environ.update(_env(work / "cache"))
    start = time.perf_counter()
    report = run_notebooks(
        ROOT / "notebooks", work / "runs", profile="ci", jobs=CI_JOBS, progress=False
    )
    total = time.perf_counter() - start
    if report.failed:
        raise SystemExit(f"ci notebooks failed: {[str(o.failure) for o in report.failed]}")
    return total, {o.notebook: round(o.seconds, 1) for o in report.outcomes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(BUDGETS))
    parser.add_argument("--keep", type=Path, help="copy the metrics files of the run here")
    args = parser.parse_args(argv)
    over = False
    for part in [args.only] if args.only else sorted(BUDGETS):
        with tempfile.TemporaryDirectory(prefix=f"synovis-{part}-") as tmp:
            if part == "book":
                seconds, detail = time_book(Path(tmp)), {}
            else:
                seconds, detail = time_ci(Path(tmp))
            if args.keep:
                for metrics in Path(tmp).rglob("*.metrics.json"):
                    target = args.keep / part / metrics.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(metrics, target)
        verdict = "within" if seconds <= BUDGETS[part] else "OVER"
        over |= seconds > BUDGETS[part]
        print(f"{part}: {seconds:.0f} s ({verdict} the budget of {BUDGETS[part]:.0f} s) {detail}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
