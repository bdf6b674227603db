"""Choosing the course's network: candidates, the development-only comparison, the record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synovis_lib import backbones, config, get_profile


def _table(rows):
    return pd.DataFrame(
        [
            {
                "candidate": name,
                "network": name.upper(),
                "trial": t,
                "epochs": 6,
                "kappa": k,
                "auc_grade_1": 0.7,
                "val_accuracy": v,
                "seconds": s,
                "weights": "w",
            }
            for name, kappas, v, s in rows
            for t, k in enumerate(kappas)
        ]
    )


def test_summary_is_mean_and_sample_sd_best_first():
    table = _table([("a", [0.2, 0.4], 0.9, 10), ("b", [0.6, 0.6, 0.9], 0.5, 5)])
    summary = backbones.summarise(table)
    assert list(summary["candidate"]) == ["b", "a"]
    assert summary.loc[0, "kappa_mean"] == pytest.approx(0.7)
    assert summary.loc[0, "kappa_sd"] == pytest.approx(np.std([0.6, 0.6, 0.9], ddof=1))
    assert summary.loc[1, "trials"] == 2
    assert (summary.loc[0, "kappa_min"], summary.loc[0, "kappa_max"]) == (0.6, 0.9)


def test_schedule_effect_quotes_both_ranges():
    summary = backbones.summarise(
        _table([("compact", [0.6, 0.7], 0.8, 10), ("compact-constant", [0.01, 0.7], 0.8, 10)])
    )
    text = backbones.schedule_effect(summary)
    assert "constant learning rate its development kappa ranged from 0.01 to 0.70" in text
    assert "schedule from 0.60 to 0.70 (sd 0.07) over 2 seeds" in text
    assert text.endswith("artificial images: 0.80 and 0.80.")
    assert backbones.schedule_effect(summary[summary["candidate"] == "compact"]) == ""


def test_best_prefers_the_fastest_within_one_sd():
    close = backbones.summarise(
        _table([("slow", [0.60, 0.70, 0.65], 0.9, 100), ("fast", [0.62, 0.63, 0.64], 0.9, 10)])
    )
    assert backbones.best(close) == "fast"
    apart = backbones.summarise(
        _table([("slow", [0.80, 0.81, 0.82], 0.9, 100), ("fast", [0.5, 0.51, 0.52], 0.9, 10)])
    )
    assert backbones.best(apart) == "slow"


def test_verdict_is_built_from_the_numbers():
    summary = backbones.summarise(
        _table([("compact", [0.6, 0.7], 0.8, 10), ("lite0-frozen", [0.2, 0.3], 0.97, 5)])
    )
    text = backbones.verdict(summary)
    assert "COMPACT graded best" in text and "0.65 ± 0.07" in text
    assert "LITE0-FROZEN" in text and "0.25 (0.40 lower)" in text and "0.97" in text


def test_vgg16_imagenet_runs_only_where_its_file_is(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "local_imagenet_weights", lambda: None)
    assert "vgg16-imagenet" not in {c.name for c in backbones.available()}
    monkeypatch.setattr(config, "local_imagenet_weights", lambda: tmp_path / "vgg16.pth")
    assert "vgg16-imagenet" in {c.name for c in backbones.available()}
    with pytest.raises(ValueError, match="unknown candidate 'resnet'"):
        backbones.available(["resnet"])


def test_candidates_never_fall_back():
    quick = get_profile("quick", announce=False)
    for c in backbones.CANDIDATES:
        assert c.profile(quick).offline == "raise"
    assert backbones.profile_candidate(quick) == "compact"


def test_the_quick_profile_trains_the_recorded_winner():
    """The course's network is chosen by the recorded comparison, not by habit."""
    recorded, provenance = backbones.recorded_comparison()
    summary = backbones.summarise(recorded)
    quick = get_profile("quick", announce=False)
    assert backbones.best(summary) == backbones.profile_candidate(quick)
    trials = set(recorded.groupby("candidate")["trial"].count())
    assert len(trials) == 1 and min(trials) >= 6  # stability needs more than three seeds
    assert {
        "compact",
        "compact-constant",
        "lite0-frozen",
        "lite0-finetuned",
        "vgg16-random",
    } <= set(recorded["candidate"])
    assert "development patients" in provenance["scored_on"]
    # recorded with today's quick profile: a change of recipe must re-record the comparison
    assert provenance["profile"] == quick.summary()


def test_the_comparison_scores_development_patients_only():
    ci = get_profile("ci", announce=False)
    cohort, dev, _ = backbones.development_set(ci)
    from synovis_lib.second_model import split_by_patient

    split = split_by_patient(cohort, 0.5, 0)
    assert set(dev) <= set(split.dev) and not set(dev) & set(split.held_out)
    table = backbones.compare_backbones(ci, ["compact"], trials=1)
    assert list(table["candidate"]) == ["compact"] and table.loc[0, "epochs"] == ci.epochs
    assert -1 <= table.loc[0, "kappa"] <= 1 and table.loc[0, "seconds"] > 0
    held = backbones.held_out_result(ci)
    assert list(held.index) == list(range(ci.trials))
