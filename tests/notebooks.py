"""What the tests know about the course's notebooks (shared by several test files)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
JOBS = 2
"""Notebooks executed at once by the test suite (``synovis run-notebooks --jobs``), as
``benchmarks/book_budget.py`` times them: one kernel starts while the other computes."""


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def parameters_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


def literal_parameters(source: str) -> dict[str, object]:
    """The names and values of a parameters cell; raises ValueError if not literals only."""
    values: dict[str, object] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            raise ValueError(f"not a single assignment: {ast.unparse(node)!r}")
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            raise ValueError(f"not a plain name: {ast.unparse(target)!r}")
        values[target.id] = ast.literal_eval(node.value)
    return values


MAX_LOGIC_LINES = 15
"""A code cell longer than this is a library function waiting to be written."""


def solution_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Solutions whose code a reader would see before opening them.

    A solution with code is gated (sphinx-exercise's ``solution-start`` ...
    ``solution-end`` in markdown cells around its code cells) and a dropdown, so
    the book keeps its code and output inside the closed solution; no code cell
    after the first exercise is left outside one.
    """
    problems: list[str] = []
    inside, seen_exercise = False, False
    for i, cell in enumerate(nb.cells):
        text = cell.source if cell.cell_type == "markdown" else ""
        if "```{exercise}" in text:
            seen_exercise = True
        if "```{solution}" in text:
            problems.append(f"cell {i}: an ungated solution (use solution-start/solution-end)")
        if "```{solution-start}" in text:
            if ":class: dropdown" not in text:
                problems.append(f"cell {i}: a solution that is not a dropdown")
            inside = True
        if "```{solution-end}" in text:
            inside = False
        if cell.cell_type == "code" and seen_exercise and not inside:
            problems.append(f"cell {i}: code after an exercise outside its solution")
    if inside:
        problems.append("a solution-start without its solution-end")
    return problems


def convention_problems(nb: nbformat.NotebookNode, stem: str) -> list[str]:
    """Everything in ``nb`` (the notebook ``stem``, e.g. ``05_vgg16_transfer_learning``) that
    breaks the course's notebook anatomy (CONTRIBUTING.md, "Conventions"); empty when none does."""
    problems: list[str] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            problems.append(f"cell {i} has outputs committed")
        if cell.cell_type == "code":
            logic = [
                line
                for line in cell.source.splitlines()
                if line.strip() and not line.strip().startswith("#")
            ]
            if len(logic) > MAX_LOGIC_LINES:
                problems.append(f"cell {i}: {len(logic)} lines of code")
    cells = parameters_cells(nb)
    if len(cells) != 1:
        problems.append(f"{len(cells)} cells tagged parameters (want 1)")
    else:
        try:
            params = literal_parameters(cells[0].source)
        except ValueError as err:
            problems.append(f"parameters cell is not literals only: {err}")
            params = {}
        if params.get("PROFILE") not in {"ci", "quick", "paper"}:
            problems.append("PROFILE missing from the parameters cell")
        if "RESULTS_DIR" not in params:
            problems.append("RESULTS_DIR missing from the parameters cell")
        if not isinstance(params.get("SEED"), int):
            problems.append("SEED missing from the parameters cell")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    number = int(stem[:2])
    if not (
        nb.cells
        and nb.cells[0].cell_type == "markdown"
        and re.match(rf"# {number}\. \S", nb.cells[0].source)
    ):
        problems.append(f"first cell must be the title '# {number}. ...'")
    for text in (
        "## Overview",
        "## Prerequisites",
        "## Summary",
        "## Exercises",
        "Time to learn",
        "Learning objectives",
    ):
        if text not in markdown:
            problems.append(f"missing {text!r}")
    if "```{exercise}" not in markdown or "```{solution-start}" not in markdown:
        problems.append("no exercise with a solution")
    problems += solution_problems(nb)
    labels = re.findall(r":label:\s*(\S+)", markdown)
    if not all(label.startswith(f"nb{stem[:2]}-") for label in labels) or len(labels) != len(
        set(labels)
    ):
        problems.append(f"exercise labels must be unique and start with 'nb{stem[:2]}-': {labels}")
    installs = [line for line in code.splitlines() if '"pip", "install"' in line]
    if 'find_spec("synovis_lib")' not in code:
        problems.append("no Colab-safe setup cell")
    if not installs or '"--no-deps"' not in installs[0]:
        problems.append("the package install pulls dependencies")
    if any(re.search(r"\btorch", line) for line in installs):
        problems.append("the setup cell (re)installs torch")
    for needle, what in (
        ("print_config()", "setup does not print the config"),
        ("get_profile(PROFILE, seed=SEED)", "profile not loaded from PROFILE and SEED"),
        ("write_metrics(", "writes no metrics for the runner"),
    ):
        if needle not in code:
            problems.append(what)
    if "sys.path" in code:
        problems.append("edits sys.path")
    if "matplotlib.use(" in code:
        problems.append("matplotlib.use hides figures in the book")
    return problems
