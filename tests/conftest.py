"""Shared test set-up: an isolated cache, a headless matplotlib, no network."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests draw the same examples on every run, so CI is reproducible; set
# HYPOTHESIS_PROFILE=explore to search with fresh random examples.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Every test session gets its own artefact cache (never the user's ~/.cache)."""
    old = os.environ.get("SYNOVIS_CACHE")
    os.environ["SYNOVIS_CACHE"] = str(tmp_path_factory.mktemp("synovis_cache"))
    yield
    if old is None:
        os.environ.pop("SYNOVIS_CACHE", None)
    else:
        os.environ["SYNOVIS_CACHE"] = old


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed with apt-get if missing and we are root."""
    from tests.browser_check import find_chromium

    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed (as root on Debian: apt-get install -y chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "chromium"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    found = find_chromium()
    if not found:
        pytest.fail(
            f"apt-get install -y chromium failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return found


@pytest.fixture(scope="session")
def executed_notebooks(tmp_path_factory):
    """Every notebook executed once in the ``ci`` profile by ``synovis run-notebooks``.

    Returns ``{stem: (executed_path, failure_or_None)}``; the notebook tests
    assert on it and the book test builds the book from these outputs. Going
    through the runner tests the batch path researchers use, on the real
    notebooks.
    """
    from synovis_lib.runner import run_notebooks
    from tests.notebooks import JOBS, NOTEBOOK_DIR

    out_dir = tmp_path_factory.mktemp("executed")
    report = run_notebooks(NOTEBOOK_DIR, out_dir, profile="ci", jobs=JOBS, progress=False)
    for outcome in report.outcomes:
        print(f"{outcome.notebook}: {outcome.status} in {outcome.seconds:.1f} s")
    return {
        o.notebook: (o.output or o.partial, o.failure and f"{o.failure}\nlog: {o.log}")
        for o in report.outcomes
    }


@pytest.fixture(scope="session")
def built_book(executed_notebooks, tmp_path_factory):
    """The book built with ``-W`` from the ci-profile notebook outputs (no re-execution),
    staged and built as ``make book`` does (``tools/build_book.py``).

    Returns ``(html_dir, completed_process)``. The sources are copied to a
    temporary folder so the repository's ``_build`` (the quick-profile book)
    is never touched.
    """
    from pathlib import Path

    from tests.notebooks import ROOT
    from tests.scripts import load_script

    build_book = load_script("tools/build_book.py")
    executed = {stem: Path(out) for stem, (out, _error) in executed_notebooks.items()}
    work = tmp_path_factory.mktemp("book")
    src = build_book.stage(ROOT, executed, work / "source")
    proc = build_book.jupyter_book(src, work)
    return work / "_build" / "html", proc


@pytest.fixture(autouse=True)
def _readable_figures():
    """Every figure a test leaves open must be readable in the book's column (text of at
    least ``plots.MIN_TEXT_PX`` pixels as displayed); then it is closed."""
    import matplotlib.pyplot as plt

    from synovis_lib.plots import MIN_TEXT_PX, smallest_text_px

    yield
    small = {}
    for number in plt.get_fignums():
        fig = plt.figure(number)
        px = smallest_text_px(fig)
        if px < MIN_TEXT_PX:
            small[number] = f"{px:.1f} px ({fig.get_figwidth():.1f} in wide)"
    plt.close("all")
    assert not small, f"figures with text below {MIN_TEXT_PX} px in the book's column: {small}"
