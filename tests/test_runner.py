"""synovis run-notebooks on tiny synthetic notebooks (a kernel starts per notebook: seconds)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from synovis_lib import cli, runner
from synovis_lib.config import show_progress
from synovis_lib.files import read_json

PARAMETERS = 'PROFILE = "quick"\nRESULTS_DIR = "results"\nSEED = 0\nLABEL = "x"\nTRACE = ""\n'


def make_notebook(path: Path, *cells: str, title: bool = True, trace: bool = True) -> Path:
    """A notebook: a title, a parameters cell, a cell recording its run in TRACE, then ``cells``."""
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    record = f"if TRACE:\n    with open(TRACE, 'a') as f:\n        f.write({path.stem!r} + '\\n')"
    head = [nbformat.v4.new_markdown_cell(f"# {path.stem}")] if title else []
    body = [record, *cells] if trace else list(cells)
    nb = nbformat.v4.new_notebook(
        cells=[*head, params, *(nbformat.v4.new_code_cell(c) for c in body)],
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
    )
    nbformat.write(nb, path)
    return path


# What synovis_lib.files.write_metrics writes, without importing the library (and torch) in the
# kernel: RESULTS_DIR/<notebook>.metrics.json.
METRICS = (
    "import json, pathlib\n"
    "pathlib.Path(RESULTS_DIR).mkdir(parents=True, exist_ok=True)\n"
    "metrics = {{'profile': PROFILE, 'seed': SEED, 'label': LABEL, 'scores': {{'kappa': 0.5}}}}\n"
    "(pathlib.Path(RESULTS_DIR) / '{name}.metrics.json').write_text(json.dumps(metrics))"
)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """Three good notebooks, numbered out of alphabetical order, plus a non-course file."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(
        folder / "02_second.ipynb", "print('hello from 02')", METRICS.format(name="02_second")
    )
    make_notebook(folder / "01_zeta_first.ipynb", METRICS.format(name="01_zeta_first"))
    make_notebook(folder / "10_tenth.ipynb", "x = 1")
    make_notebook(folder / "scratch.ipynb", "raise RuntimeError('never run')")
    return folder


def run(folder: Path, out: Path, **kwargs):
    trace = out.parent / f"{out.name}.trace"
    parameters = {"TRACE": str(trace), **kwargs.pop("parameters", {})}
    report = runner.run_notebooks(folder, out, parameters=parameters, progress=False, **kwargs)
    return report, trace


def test_discover_orders_by_number_and_filters(course: Path):
    names = [p.name for p in runner.discover_notebooks(course)]
    assert names == ["01_zeta_first.ipynb", "02_second.ipynb", "10_tenth.ipynb"]
    assert [p.stem for p in runner.discover_notebooks(course, ["10", "1"])] == [
        "01_zeta_first",
        "10_tenth",
    ]
    with pytest.raises(ValueError, match="no notebook 07"):
        runner.discover_notebooks(course, ["07"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        runner.discover_notebooks(course / "missing")


def test_parse_overrides_reads_literals_and_rejects_reserved_names():
    parsed = runner.parse_overrides(
        [("SEED", "3"), ("LR", "1e-3"), ("FLAG", "True"), ("NAME", "abc")]
    )
    assert parsed == {"SEED": 3, "LR": 0.001, "FLAG": True, "NAME": "abc"}
    assert runner.parse_value("[1, 2]") == [1, 2]
    assert runner.parse_value("'05'") == "05"
    with pytest.raises(ValueError, match="--profile"):
        runner.parse_overrides([("PROFILE", "paper")])
    with pytest.raises(ValueError, match="identifier"):
        runner.parse_overrides([("not-a-name", "1")])


def test_runs_in_order_passes_parameters_and_gathers_metrics(course: Path, tmp_path: Path):
    out = tmp_path / "runs" / "ci"
    report, trace = run(course, out, profile="ci", parameters={"SEED": 7, "LABEL": "seven"})

    assert [o.notebook for o in report.outcomes] == ["01_zeta_first", "02_second", "10_tenth"]
    assert [o.status for o in report.outcomes] == ["ok", "ok", "ok"]
    assert trace.read_text().split() == ["01_zeta_first", "02_second", "10_tenth"]
    assert sorted(p.name for p in out.glob("*.ipynb")) == [
        "01_zeta_first.ipynb",
        "02_second.ipynb",
        "10_tenth.ipynb",
    ]
    assert "hello from 02" in (out / "logs" / "02_second.log").read_text()

    executed = nbformat.read(out / "02_second.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert 'PROFILE = "ci"' in injected[0].source
    assert "SEED = 7" in injected[0].source
    # relative to the notebooks folder: no page shows this machine's paths
    assert 'RESULTS_DIR = "../runs/ci/results"' in injected[0].source

    metrics = read_json(out / "results" / "01_zeta_first.metrics.json")
    assert metrics == {"profile": "ci", "seed": 7, "label": "seven", "scores": {"kappa": 0.5}}

    table = pd.read_csv(report.results_csv)
    assert list(table.columns) == ["notebook", "metric", "value"]
    assert set(table.notebook) == {"01_zeta_first", "02_second"}
    row = table[(table.notebook == "02_second") & (table.metric == "scores.kappa")]
    assert float(row.value.iloc[0]) == 0.5
    assert len(table) == 8
    md = report.results_md.read_text()
    assert "| 01_zeta_first | seed | 7 |" in md
    assert "| 10_tenth | ok |" in md

    manifest = read_json(out / "manifest.json")
    assert sorted(manifest) == ["01_zeta_first", "02_second", "10_tenth"]
    assert manifest["02_second"]["parameters"]["SEED"] == 7


def test_a_misspelt_parameter_or_profile_is_refused_before_anything_runs(
    course: Path, tmp_path: Path, monkeypatch
):
    assert runner.notebook_parameters(course / "02_second.ipynb") == set(
        ["PROFILE", "RESULTS_DIR", "SEED", "LABEL", "TRACE"]
    )
    with pytest.raises(ValueError, match=r"-p SEDD: no selected notebook has such a parameter"):
        run(course, tmp_path / "out", parameters={"SEDD": 1})
    monkeypatch.setenv("SYNOVIS_PROFILE", "ci")  # must not hide a bad --profile
    with pytest.raises(ValueError, match="unknown profile 'quik'"):
        run(course, tmp_path / "out", profile="quik")
    assert not (tmp_path / "out").exists()


def test_rerun_reuses_finished_outputs_until_parameters_change(course: Path, tmp_path: Path):
    out = tmp_path / "out"
    run(course, out, profile="ci", only=["02"])
    first = (out / "02_second.ipynb").stat().st_mtime_ns

    report, trace = run(course, out, profile="ci", only=["02"])
    assert [o.status for o in report.outcomes] == ["reused"]
    assert trace.read_text().split() == ["02_second"]  # it did not run again
    assert (out / "02_second.ipynb").stat().st_mtime_ns == first
    assert len(pd.read_csv(report.results_csv)) == 4  # a reused notebook is still in the table

    report, trace = run(course, out, profile="ci", only=["02"], parameters={"SEED": 1})
    assert [o.status for o in report.outcomes] == ["ok"]
    assert trace.read_text().split() == ["02_second", "02_second"]
    assert read_json(out / "results" / "02_second.metrics.json")["seed"] == 1

    report, trace = run(course, out, profile="ci", only=["02"], parameters={"SEED": 1}, force=True)
    assert [o.status for o in report.outcomes] == ["ok"]
    assert len(trace.read_text().split()) == 3


def test_failure_names_cell_and_error_and_leaves_no_output(tmp_path: Path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(folder / "01_fine.ipynb", METRICS.format(name="01_fine"))
    # Source cells: 0 title, 1 parameters, 2 trace, 3 writes metrics, 4 raises.
    make_notebook(
        folder / "02_broken.ipynb",
        METRICS.format(name="02_broken"),
        "raise ValueError('grade 5 in row 3')",
    )
    # Source cells: 0 parameters, 1 raises (right after papermill's injected cell).
    make_notebook(folder / "03_early.ipynb", "1 / 0", title=False, trace=False)
    out = tmp_path / "out"

    report, _ = run(folder, out, profile="ci")
    fine, broken, early = report.outcomes
    assert (early.status, early.failure.cell_index, early.failure.ename) == (
        "failed",
        1,
        "ZeroDivisionError",
    )
    assert fine.status == "ok"
    assert broken.status == "failed"
    assert broken.failure.cell_index == 4
    assert broken.failure.ename == "ValueError"
    assert broken.failure.evalue == "grade 5 in row 3"
    assert "raise ValueError" in broken.failure.cell_source

    assert not (out / "02_broken.ipynb").exists()
    assert broken.partial == out / "02_broken.failed.ipynb"
    assert broken.partial.exists()
    assert not list(out.glob(".*.running.ipynb"))
    assert "02_broken" not in read_json(out / "manifest.json")
    assert "ValueError: grade 5 in row 3" in broken.log.read_text()

    summary = runner.format_summary(report.outcomes, out)
    assert "1 executed, 0 reused, 2 failed" in summary
    assert "FAILED 02_broken in cell 4 (In [" in summary
    assert "ValueError: grade 5 in row 3" in summary
    assert "02_broken.failed.ipynb" in summary
    assert "| 02_broken | failed |" in report.results_md.read_text()
    # Its metrics were written before the error: a failed run's numbers are not reported.
    assert not (out / "results" / "02_broken.metrics.json").exists()
    assert set(pd.read_csv(report.results_csv).notebook) == {"01_fine"}

    # Fixed, it runs again, replaces the failed notebook and is recorded.
    make_notebook(folder / "02_broken.ipynb", "y = 2")
    report, _ = run(folder, out, profile="ci")
    assert [o.status for o in report.outcomes] == ["reused", "ok", "failed"]
    assert (out / "02_broken.ipynb").exists()
    assert not (out / "02_broken.failed.ipynb").exists()


def test_a_timeout_is_placed_in_the_cell_that_ran_too_long(tmp_path: Path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # Source cells: 0 title, 1 parameters, 2 trace, 3 fine, 4 sleeps past the timeout.
    make_notebook(folder / "01_slow.ipynb", "x = 1", "import time\ntime.sleep(60)")
    report, _ = run(folder, tmp_path / "out", profile="ci", timeout=3)
    (slow,) = report.outcomes
    assert slow.status == "failed" and "Timeout" in slow.failure.ename
    assert slow.failure.cell_index == 4 and "time.sleep(60)" in slow.failure.cell_source
    assert "FAILED 01_slow in cell 4" in runner.format_summary(report.outcomes, tmp_path / "out")


def test_parallel_jobs_report_in_number_order(course: Path, tmp_path: Path):
    out = tmp_path / "par"
    report, trace = run(course, out, profile="ci", jobs=2)
    assert [o.notebook for o in report.outcomes] == ["01_zeta_first", "02_second", "10_tenth"]
    assert [o.status for o in report.outcomes] == ["ok", "ok", "ok"]
    assert sorted(trace.read_text().split()) == ["01_zeta_first", "02_second", "10_tenth"]
    assert list(json.loads((out / "manifest.json").read_text())) == [
        "01_zeta_first",
        "02_second",
        "10_tenth",
    ]


def test_parallel_kernels_share_the_cpus_unless_threads_are_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "nbs"
    folder.mkdir()
    seen = tmp_path / "threads"
    for name in ("01_a", "02_b"):
        make_notebook(
            folder / f"{name}.ipynb",
            "import os\n"
            f"with open({str(seen)!r}, 'a') as f:\n"
            "    f.write(os.environ.get('OMP_NUM_THREADS', 'unset') + '\\n')",
        )
    cpus = runner.threads_per_job(1)
    for name in runner.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(runner.os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    assert runner.threads_per_job(2) == 3 and runner.threads_per_job(8) == 1
    run(folder, tmp_path / "one", jobs=1)
    assert seen.read_text().split() == ["unset", "unset"]  # one at a time: the library's default
    seen.unlink()
    monkeypatch.undo()
    for name in runner.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    run(folder, tmp_path / "two", jobs=2)
    assert seen.read_text().split() == [str(max(1, cpus // 2))] * 2
    seen.unlink()
    monkeypatch.setenv("OMP_NUM_THREADS", "5")  # the user's choice stands
    run(folder, tmp_path / "three", jobs=2)
    assert seen.read_text().split() == ["5", "5"]


def test_kernels_draw_no_progress_bars_unless_the_user_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An executed notebook is read, not watched: its kernel starts with bars off, and
    the runner's own process is left as it was."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    seen = tmp_path / "progress"
    make_notebook(
        folder / "01_a.ipynb",
        "from synovis_lib.config import show_progress\n"
        f"with open({str(seen)!r}, 'a') as f:\n"
        "    f.write(str(show_progress(True)) + '\\n')",
    )
    monkeypatch.delenv("SYNOVIS_PROGRESS", raising=False)
    run(folder, tmp_path / "off", jobs=1)
    assert seen.read_text().split() == ["False"]
    assert "SYNOVIS_PROGRESS" not in os.environ
    monkeypatch.setenv("SYNOVIS_PROGRESS", "1")
    run(folder, tmp_path / "on", jobs=1)
    assert seen.read_text().split() == ["False", "True"]
    for value, shown in (("off", False), ("0", False), ("yes", True), ("", True)):
        monkeypatch.setenv("SYNOVIS_PROGRESS", value)
        assert show_progress(True) is shown
        assert show_progress(False) is False


def test_figures_reach_the_executed_notebook_whatever_backend_the_caller_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """With MPLBACKEND=Agg inherited (as in this test session), plt.show() in a kernel
    would draw nothing: the runner gives kernels the inline backend."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    make_notebook(
        folder / "01_fig.ipynb", "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"
    )
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run(folder, tmp_path / "out", jobs=1)
    executed = nbformat.read(tmp_path / "out" / "01_fig.ipynb", as_version=4)
    images = [
        o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) == 1
    assert os.environ["MPLBACKEND"] == "Agg"  # the caller's environment is restored


def test_cli_exit_codes_and_summary(course: Path, tmp_path: Path, capsys):
    out = tmp_path / "cli"
    trace = tmp_path / "cli.trace"
    argv = ["run-notebooks", "--profile", "ci", "--out", str(out), "--notebooks-dir", str(course)]
    assert cli.main([*argv, "--only", "10", "-p", "TRACE", str(trace)]) == 0
    printed = capsys.readouterr().out
    assert "1 executed, 0 reused, 0 failed" in printed
    assert "results.csv" in printed
    assert cli.main([*argv, "--only", "99"]) == 2
    assert "no notebook 99" in capsys.readouterr().err
    assert cli.main([*argv, "--profile", "nope"]) == 2
    assert "argument --profile: invalid choice: 'nope'" in capsys.readouterr().err
    assert cli.main([*argv, "-p", "RESULTS_DIR", "x"]) == 2
    assert "RESULTS_DIR" in capsys.readouterr().err
