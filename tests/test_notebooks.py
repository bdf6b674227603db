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


def _metrics_of(results_dir) -> dict[str, dict]:
    return {
        p.name.removesuffix(".metrics.json"): json.loads(p.read_text())
        for p in sorted(results_dir.glob("*.metrics.json"))
    }


def _agreed_data(metrics: dict[str, dict]) -> dict[str, str]:
    """Each data set's fingerprint, asserting every notebook that used it saw the same one."""
    seen: dict[str, set[str]] = {}
    for record in metrics.values():
        for name, fingerprint in record.get("data", {}).items():
            seen.setdefault(name, set()).add(fingerprint)
    mixed = {name: sorted(f) for name, f in seen.items() if len(f) > 1}
    assert not mixed, f"notebooks saw different data: {mixed}"
    return {name: f.pop() for name, f in seen.items()}


def test_one_seed_governs_every_notebook(executed_notebooks, tmp_path_factory):
    """`-p SEED 1` reaches every notebook: each records seed 1, all notebooks agree on each
    data set's fingerprint, and the data differ from the default run's (seed 0)."""
    from synovis_lib.runner import run_notebooks
    from tests.notebooks import JOBS, NOTEBOOK_DIR

    out = tmp_path_factory.mktemp("seed1")
    report = run_notebooks(
        NOTEBOOK_DIR, out, profile="ci", parameters={"SEED": 1}, jobs=JOBS, progress=False
    )
    assert not report.failed, [str(o.failure) for o in report.failed]
    seeded = _metrics_of(out / "results")
    default_dir = next(iter(executed_notebooks.values()))[0].parent / "results"
    default = _metrics_of(default_dir)
    assert set(seeded) == set(default) == {p.stem for p in NOTEBOOKS}
    assert {m["seed"] for m in seeded.values()} == {1}
    assert {m["seed"] for m in default.values()} == {0}
    data_seeded, data_default = _agreed_data(seeded), _agreed_data(default)
    assert {"training_set", "validation_set"} <= set(data_default)
    assert any(name.startswith("clinical_cohort") for name in data_default)
    assert set(data_seeded) == set(data_default)
    for name in data_default:
        assert data_seeded[name] != data_default[name], f"{name} did not change with SEED"
