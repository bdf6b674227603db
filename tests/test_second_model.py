"""Error analysis, new scenes modelled on a clinical image, the patient split, the comparison."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synovis_lib import layout, pipeline, redraw, second_model
from synovis_lib.grading import grade_from_masks
from synovis_lib.layout import Spot
from synovis_lib.synth import load_basic_scenes, render

# ----------------------------------------------------------------------------- helpers


def fake_cohort(n_patients=40, seed=0):
    """A cohort table with 1-4 images per patient, grades correlated within a patient."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        base = rng.integers(0, 3)
        for k in range(rng.integers(1, 5)):
            grade = int(min(3, base + (rng.random() < 0.2)))
            rows.append(
                {"image": f"p{p:03d}_img{k + 1}.png", "patient_id": f"p{p:03d}", "consensus": grade}
            )
    table = pd.DataFrame(rows)
    table["consensus"] = table["consensus"].astype("Int64")
    return SimpleNamespace(table=table, images=np.zeros((len(table), 32, 32, 3), dtype=np.uint8))


def simulated_clinical(grade, n, size=128, seed=0):
    """Simulated screenshots with known truth (vessel and synovium masks of the simulator)."""
    from synovis_lib import ultrasound as us

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        graded = us.sample_scene(rng, us.sample_examination(rng), grade)
        out.append((us.render_scene(graded.scene, size).rgb, graded.truth))
    return out


def spot(kind, fraction, u=0.5, v=0.5):
    return Spot(
        area=int(fraction * 1000), fraction=fraction, kind=kind, u=u, v=v, elongation=1.2, angle=0.0
    )


def n_spots(result):
    return result.n_single + result.n_confluent + result.n_large


# ----------------------------------------------------------------------------- the patient split


@pytest.mark.parametrize("fraction", [0.5, 0.25])
def test_split_by_patient_shares_no_patient(fraction):
    cohort = fake_cohort()
    split = second_model.split_by_patient(cohort, fraction, seed=3)
    assert split.shared_patients() == set()
    ids = cohort.table["patient_id"].to_numpy()
    assert not set(ids[split.dev]) & set(ids[split.held_out])
    assert np.array_equal(np.sort(np.concatenate([split.dev, split.held_out])), np.arange(len(ids)))
    share = len(split.dev) / len(ids)
    assert abs(share - fraction) < 0.12
    counts = split.counts()
    assert counts["images"].sum() == len(ids)
    assert counts["patients"].sum() == cohort.table["patient_id"].nunique()


def test_split_is_stratified_as_far_as_patients_allow():
    cohort = fake_cohort(n_patients=80)
    split = second_model.split_by_patient(cohort, 0.5, seed=0)
    counts = split.counts()
    for g in range(3):
        total = counts[f"grade {g}"].sum()
        assert abs(counts.loc["dev", f"grade {g}"] - total / 2) <= max(4, 0.2 * total)


def test_split_rejects_bad_input():
    cohort = fake_cohort()
    with pytest.raises(ValueError, match="dev_fraction"):
        second_model.split_by_patient(cohort, 0.8)
    with pytest.raises(ValueError, match="no 'patient_id' column"):
        second_model.split_by_patient(
            SimpleNamespace(table=cohort.table.drop(columns="patient_id"))
        )


def test_assert_no_leak():
    split = second_model.split_by_patient(fake_cohort(), 0.5, seed=1)
    second_model.assert_no_leak(split, split.dev[:2])
    with pytest.raises(AssertionError, match="held-out part"):
        second_model.assert_no_leak(split, split.held_out[:1])


# ----------------------------------------------------------------------------- error analysis


def test_misclassified_and_error_pairs():
    table = pd.DataFrame(
        {
            "image": [f"i{k}" for k in range(6)],
            "patient_id": ["a", "a", "b", "b", "c", "c"],
            "consensus": pd.array([1, 1, 2, 0, 1, None], dtype="Int64"),
        }
    )
    probs = np.eye(4)[[2, 1, 2, 2, 2, 3]] * 0.7 + 0.075
    wrong = second_model.misclassified(table, probs)
    assert wrong["position"].tolist() == [3, 0, 4]  # sorted by (true, predicted); NA left out
    assert wrong[["true", "predicted"]].values.tolist() == [[0, 2], [1, 2], [1, 2]]
    assert wrong["probability"].tolist() == pytest.approx([0.775] * 3)
    assert second_model.misclassified(table, probs, rows=[0, 1, 2, 3])["position"].tolist() == [
        3,
        0,
    ]
    pairs = second_model.error_pairs(wrong)
    assert pairs.iloc[0].tolist() == [1, 2, 2]
    with pytest.raises(ValueError, match="5 predictions for 6"):
        second_model.misclassified(table, probs[:5])


# ----------------------------------------------------------------------------- the comparison


def constructed(b, c, both_right=30, both_wrong=10):
    """Labels and two models' grades with b images only A gets right and c only B gets right."""
    n = both_right + b + c + both_wrong
    y = np.arange(n) % 4
    wrong = (y + 1) % 4
    a = np.concatenate([y[:both_right], y[both_right : both_right + b], wrong[both_right + b :]])
    second = np.concatenate(
        [
            y[:both_right],
            wrong[both_right : both_right + b],
            y[both_right + b : both_right + b + c],
            wrong[both_right + b + c :],
        ]
    )
    return y, a, second


def test_compare_models_gives_the_exact_mcnemar_result():
    y, a, b = constructed(b=3, c=11)
    result = second_model.compare_models(y, [a], [b])
    row = result.mcnemar.iloc[0]
    assert row["initial right, second wrong"] == 3
    assert row["initial wrong, second right"] == 11
    assert row["exact"]
    assert row["statistic"] == 3
    assert row["pvalue"] == pytest.approx(stats.binomtest(3, 14, 0.5).pvalue)
    acc = result.per_trial.set_index("model")["accuracy"]
    assert acc["initial"] == pytest.approx(33 / 54)
    assert acc["second"] == pytest.approx(41 / 54)


def test_compare_models_chi_square_over_trials_and_tables():
    y, a, b = constructed(b=10, c=30)
    probs_a, probs_b = np.eye(4)[a], np.eye(4)[b]
    result = second_model.compare_models(y, [probs_a, a], [probs_b, b])
    assert len(result.mcnemar) == 2 and not result.mcnemar["exact"].any()
    assert result.mcnemar["statistic"].tolist() == pytest.approx([(abs(10 - 30) - 1) ** 2 / 40] * 2)
    assert result.mcnemar["pvalue"].iloc[0] == pytest.approx(stats.chi2.sf(361 / 40, 1))
    assert result.confusions["initial"].shape == (2, 4, 4)
    assert result.confusions["second"].sum() == 2 * len(y)
    assert "auc_grade1" in result.per_trial.columns  # from the probabilities of trial 0
    summary = result.summary()
    assert list(summary.columns) == ["initial", "second"]
    assert "±" in summary.loc["accuracy", "initial"]
    table = result.grade_table()
    assert table[("initial", "support")].tolist() == (2 * np.bincount(y)).tolist()
    paper = second_model.paper_comparison(result)
    assert paper.loc["initial", "paper kappa"] == 0.62
    assert paper.loc["second", "paper grade-1 AUC"] == 0.73
    assert paper.loc["initial", "paper accuracy"] == pytest.approx(108 / 156)
    assert paper.loc["second", "our accuracy"] == pytest.approx(
        result.per_trial.query("model == 'second'")["accuracy"].mean()
    )
    with pytest.raises(ValueError, match="same number of trials"):
        second_model.compare_models(y, [a], [b, b])


def test_source_removal_check():
    y, a, b = constructed(b=2, c=5)
    out = second_model.source_removal_check(y, {"initial": a, "second": b}, [0])
    assert out["images"].tolist() == [len(y), len(y) - 1] * 2
    assert out.iloc[1]["accuracy"] == pytest.approx((a[1:] == y[1:]).mean())


# ----------------------------------------------------------------------------- new scenes


def test_fit_to_grade_keeps_the_largest_spots_grade_1_allows():
    singles = tuple(spot("single", f) for f in (0.01, 0.02, 0.015, 0.005))
    kept, note = redraw.fit_to_grade(singles, 1)
    assert sorted(s.fraction for s in kept) == [0.01, 0.015, 0.02]
    assert "3 largest of 4" in note
    mixed = (spot("large", 0.3), spot("single", 0.01), spot("single", 0.02), spot("single", 0.005))
    kept, note = redraw.fit_to_grade(mixed, 1)
    assert [s.kind for s in kept] == ["confluent", "single", "single"]
    assert kept[0].fraction < 0.25 and "shrunk" in note
    assert redraw.fit_to_grade(singles[:2], 1) == (singles[:2], "")
    assert redraw.fit_to_grade(singles, 0)[0] == ()
    heavy = tuple(spot("large", 0.3) for _ in range(2))
    kept, _ = redraw.fit_to_grade(heavy, 2)
    assert sum(s.fraction for s in kept) < 0.5
    with pytest.raises(ValueError, match="below the wanted grade 3"):
        redraw.fit_to_grade(singles, 3)


def test_estimate_layout_rejects_bad_images():
    with pytest.raises(ValueError, match="uint8"):
        layout.estimate_layout(np.zeros((64, 64, 3), dtype=float))
    with pytest.raises(ValueError, match="at least 32"):
        layout.estimate_layout(np.zeros((16, 16, 3), dtype=np.uint8))


def test_overlays_beside_the_picture_are_not_doppler():
    image, _ = simulated_clinical(0, 1, seed=5)[0]
    read = layout.estimate_layout(image)
    assert layout.doppler_colour(image).sum() > read.colour.sum()  # the colour bar is dropped
    assert not (read.colour & ~layout.image_sector(image)).any()


# Tolerance, where the simulator's vessel and synovium masks give the truth: on simulated
# grade-1 screenshots the layout read from the pixels has the true grade in at least 70 %
# of images and the true number of spots within one in at least 80 % (measured on 60 images:
# 80-85 % and 90-93 % at 64, 128 and 224 px); blooming, merging and colour noise make exact
# agreement impossible. The scenes built from a layout keep its grade and spot count exactly.
GRADE_AGREEMENT = 0.7
COUNT_WITHIN_ONE = 0.8


def test_model_after_keeps_grade_and_spot_count_within_tolerance():
    cases = simulated_clinical(1, 12, seed=7)
    same_grade = within_one = 0
    for k, (image, truth) in enumerate(cases):
        read = layout.estimate_layout(image)
        same_grade += read.grade.grade == truth.grade
        within_one += abs(read.n_spots - n_spots(truth)) <= 1
        if read.grade.grade < 1:
            continue
        scenes = redraw.model_after(image, n=2, seed=k, grade=1, source=f"case{k}")
        for scene in scenes:
            r = render(scene, 224)
            result = grade_from_masks(r.vascular, r.synovium)
            assert scene.grade == result.grade == 1
            kept, _ = redraw.fit_to_grade(read.spots, 1)
            assert n_spots(result) == len(kept) == len(scene.vessels)
    assert same_grade / len(cases) >= GRADE_AGREEMENT
    assert within_one / len(cases) >= COUNT_WITHIN_ONE


def test_model_after_builds_distinct_checked_scenes_of_the_estimated_grade():
    image, _ = simulated_clinical(1, 1, seed=7)[0]
    read = layout.estimate_layout(image)
    scenes = redraw.model_after(image, n=5, seed=1, source="p001_img1.png")
    assert len(scenes) == 5
    assert [s.id for s in scenes] == [f"after_p001_img1_{k}" for k in range(1, 6)]
    assert len({tuple(s.vessels) for s in scenes}) == 5
    bases = {s.id for s in load_basic_scenes() if s.grade == read.grade.grade}
    assert {redraw.drawn_on(s) for s in scenes} <= bases
    for scene in scenes:
        assert scene.grade == read.grade.grade
        assert "Modelled after p001_img1.png" in scene.description
        assert type(scene).from_json(scene.to_json()) == scene  # opens in the studio
    again = redraw.model_after(image, n=5, seed=1, source="p001_img1.png")
    assert again == scenes
    with pytest.raises(ValueError, match="below the wanted grade"):
        redraw.model_after(image, n=1, grade=3)
    with pytest.raises(ValueError, match="n must be at least 1"):
        redraw.model_after(image, n=0)


def test_new_images_and_combine():
    from synovis_lib.synth import generate_training_set

    image, _ = simulated_clinical(1, 1, seed=7)[0]
    scenes = redraw.model_after(image, n=3, seed=0, grade=1, source="x.png")
    extra = redraw.new_images(scenes, 48, source="x.png")
    assert extra.images.shape == (3, 48, 48, 3) and extra.images.dtype == np.uint8
    assert extra.labels.tolist() == [1, 1, 1]
    assert extra.provenance["basic_scene"].str.startswith("g1").all()
    base = generate_training_set(seed=0, size=48, counts=(1, 1, 1, 1))
    both = redraw.combine(base, extra)
    assert len(both) == 7 and both.labels.tolist() == [0, 1, 2, 3, 1, 1, 1]
    assert both.provenance["id"].tolist()[-1] == scenes[-1].id


def test_placebo_set_copies_existing_images_of_the_same_grades():
    from synovis_lib.synth import generate_training_set

    base = generate_training_set(seed=0, size=32, counts=(3, 4, 2, 2))
    extra = redraw.combine(
        *(generate_training_set(seed=1, size=32, counts=c) for c in ((0, 2, 0, 0), (0, 0, 1, 0)))
    )
    placebo = redraw.placebo_set(base, extra, seed=5)
    assert placebo.labels.tolist() == extra.labels.tolist() == [1, 1, 2]
    ids = placebo.provenance["id"].tolist()
    assert len(set(ids)) == 3 and set(ids) <= set(base.provenance["id"])
    for k, image_id in enumerate(ids):
        row = base.provenance.index[base.provenance["id"] == image_id][0]
        assert np.array_equal(placebo.images[k], base.images[row])
    assert placebo.provenance["modifications"].str.startswith("placebo copy of").all()
    again = redraw.placebo_set(base, extra, seed=5)
    assert again.provenance["id"].tolist() == ids
    too_many = redraw.combine(*(generate_training_set(seed=1, size=32, counts=(0, 0, 0, 3)),))
    with pytest.raises(ValueError, match="no unused image of grade 3"):
        redraw.placebo_set(base, too_many)


def test_reading_cohort_is_the_same_cohort_at_reading_size():
    from synovis_lib import clinic, get_profile

    profile = get_profile("ci")
    small = pipeline.cohort_for(profile)
    reading = pipeline.reading_cohort(profile, small)
    assert reading.images.shape[1] >= layout.REFERENCE_SIZE > small.images.shape[1]
    pd.testing.assert_frame_equal(reading.table, small.table)
    own = clinic.Cohort(table=small.table, images=small.images, source="/data/mine")
    assert pipeline.reading_cohort(profile, own) is own
    other = clinic.Cohort(
        table=small.table.assign(consensus=small.table["consensus"].fillna(0) * 0),
        images=small.images,
        source="simulated",
    )
    with pytest.raises(ValueError, match="table differs"):
        pipeline.reading_cohort(profile, other)


@pytest.mark.slow
def test_second_model_cli_runs_in_the_ci_profile(tmp_path, monkeypatch):
    import json

    from synovis_lib import cli

    monkeypatch.delenv("SYNOVIS_PROFILE", raising=False)
    assert cli.main(["second-model", "--profile", "ci", "--out", str(tmp_path)]) == 0
    headline = json.loads((tmp_path / "second_model.json").read_text())
    assert headline["profile"] == "ci" and len(headline["sources"]) == 1
    split = pd.read_csv(tmp_path / "split.csv")
    source = pd.read_csv(tmp_path / "sources.csv")["image"].item()
    assert split.set_index("image").loc[source, "part"] == "dev"
    assert len(list((tmp_path / "scenes").glob("*.json"))) == 5
    assert {"placebo_accuracy", "placebo_kappa", "placebo_mcnemar_pvalues"} <= set(headline)
    assert len(pd.read_csv(tmp_path / "placebo_per_trial.csv")) == 2 * headline["trials"]


def test_layout_reading_agrees_with_the_simulators_truth_at_reading_size():
    """The heuristic reader is not exact (blooming, shadows, a guessed synovium), but at
    REFERENCE_SIZE it must mostly agree with the grade of the simulator's own masks, and
    almost never be more than one grade off."""
    from synovis_lib import ultrasound as us

    rng = np.random.default_rng(3)
    read, truth = [], []
    for grade in range(4):
        for _ in range(12):
            graded = us.sample_scene(rng, us.sample_examination(rng), grade)
            image = us.render_scene(graded.scene, layout.REFERENCE_SIZE).rgb
            read.append(layout.estimate_layout(image).grade.grade)
            truth.append(graded.truth.grade)
    read, truth = np.array(read), np.array(truth)
    assert (read == truth).mean() >= 0.7
    assert (np.abs(read - truth) <= 1).mean() >= 0.9


def _with_errors(y: np.ndarray, wrong: int) -> np.ndarray:
    """One-hot probabilities that get the first ``wrong`` images one grade off."""
    pred = y.copy()
    pred[:wrong] = (pred[:wrong] + 1) % 4
    return np.eye(4)[pred]


def _verdict(y: np.ndarray, initial: list, second: list, placebo: list) -> str:
    """The sentences for second and placebo models, each compared with the initial one."""
    return second_model.verdict(
        second_model.compare_models(y, initial, second),
        second_model.compare_models(y, initial, placebo, names=("initial", "placebo")),
    )


def test_verdict_says_the_second_model_lost_to_the_initial_and_the_placebo():
    y = np.tile(np.arange(4), 25)
    initial = [_with_errors(y, 10), _with_errors(y, 12)]
    second = [_with_errors(y, 30), _with_errors(y, 32)]
    placebo = [_with_errors(y, 11), _with_errors(y, 13)]
    text = _verdict(y, initial, second, placebo)
    assert text.startswith("On the 100 held-out images, over 2 trial(s), the second model")
    assert "Its kappa rose in 0 of 2 trial(s)" in text
    assert "**did not beat the initial model** and **did not beat the placebo**" in text
    assert "the second model the better one in 0 of them" in text
    assert "The study reported kappa 0.62 -> 0.69" in text


def test_verdict_credits_a_second_model_that_wins_every_trial():
    y = np.tile(np.arange(4), 25)
    initial = [_with_errors(y, 30), _with_errors(y, 28)]
    second = [_with_errors(y, 5), _with_errors(y, 25)]
    placebo = [_with_errors(y, 29), _with_errors(y, 27)]
    text = _verdict(y, initial, second, placebo)
    assert "Its kappa rose in 2 of 2 trial(s)" in text
    assert "**beat the initial model** and **beat the placebo**" in text
    mixed = [_with_errors(y, 5), _with_errors(y, 40)]
    text = _verdict(y, initial, mixed, placebo)
    assert "**did not consistently beat the initial model**" in text


def test_plot_rocs_draws_one_panel_per_model():
    y = np.tile(np.arange(4), 25)
    fig = second_model.plot_rocs(
        y, {"initial": _with_errors(y, 10), "second": _with_errors(y, 30)}, focus_grade=1
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 2 and titles[0].startswith("initial model (grade-1 AUC ")


def test_verdict_counts_a_change_that_rounds_to_zero_as_none():
    y = np.tile(np.arange(4), 25)
    same = [np.eye(4)[np.full(100, 2)]]  # a constant model: kappa 0 whatever it is trained on
    text = _verdict(y, same, same, same)
    assert "Its kappa rose in 0 of 1 trial(s) (mean change +0.000)" in text
    assert "**did not beat the initial model** and **did not beat the placebo**" in text
