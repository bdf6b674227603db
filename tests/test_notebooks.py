"""Every notebook runs top to bottom with papermill in the ``ci`` profile."""

from __future__ import annotations

import json

import pytest

from tests.notebooks import NOTEBOOKS, read

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_ci_profile(path, executed_notebooks):
    out, error = executed_notebooks[path.stem]
    assert error is None, f"{path.name} failed in the ci profile:\n{error}"
    nb = read(out)
    text = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert "profile=ci" in text, f"{path.name} does not print its profile summary"
    assert "Traceback" not in text
    metrics = out.parent / "results" / f"{path.stem}.metrics.json"
    assert metrics.is_file(), f"{path.name} wrote no {metrics.name}"
    assert json.loads(metrics.read_text()).get("profile") == "ci"
