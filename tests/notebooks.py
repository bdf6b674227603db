"""What the tests know about the course's notebooks (shared by several test files)."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


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
