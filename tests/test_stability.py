"""The stability benchmark (benchmarks/stability.py): its goal figures and a ci-profile run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.scripts import load_script


@pytest.fixture(scope="module")
def stability():
    return load_script("benchmarks/stability.py")


def test_the_goals_are_the_studys_numbers(stability):
    assert stability.study_effect() == pytest.approx(0.07)  # Tables 2 and 3: 0.62 -> 0.69
    table = pd.DataFrame(
        {
            "kappa": [0.60, 0.70, 0.65],
            "auc_grade_1": [0.7, 0.7, 0.73],
            "placebo_change": [0.1, -0.05, 0.0],
        }
    )
    figures = stability.goals(table)
    assert figures["kappa_mean"]["value"] == pytest.approx(0.65) and figures["kappa_mean"]["met"]
    assert figures["kappa_sd"]["value"] == pytest.approx(0.05) and figures["kappa_sd"]["met"]
    assert figures["auc_grade_1"]["met"]
    assert figures["placebo_mean_abs_change"]["value"] == pytest.approx(0.05)
    assert figures["placebo_mean_abs_change"]["met"]
    table["kappa"] = [0.5, 0.7, 0.6]
    figures = stability.goals(table)
    assert not figures["kappa_mean"]["met"] and not figures["kappa_sd"]["met"]
    assert "placebo_mean_abs_change" not in stability.goals(table.drop(columns="placebo_change"))


def test_ci_run_writes_one_row_per_trial(stability, tmp_path, capsys):
    out = tmp_path / "stability.json"
    assert (
        stability.main(["--profile", "ci", "--trials", "2", "--initial-only", "--out", str(out)])
        == 0
    )
    record = json.loads(out.read_text())
    assert [row["trial"] for row in record["trials"]] == [0, 1]
    for row in record["trials"]:
        assert -1 <= row["kappa"] <= 1 and -1 <= row["dev_kappa"] <= 1
        assert 0 <= row["auc_grade_1"] <= 1
    assert record["profile"].startswith("profile=ci")
    assert set(record["goals"]) == {"kappa_mean", "kappa_sd", "auc_grade_1"}
    assert "kappa_mean" in capsys.readouterr().out
