"""Cross-validation: stratified and group-pure folds, the CV loop, the leakage it exposes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synovis_lib import cv, pipeline

SCENES_PER_GRADE = (5, 4, 4, 4)
"""The study's 17 basic scenes."""


def study_like(counts=(212, 236, 222, 200)):
    """Labels and basic-scene groups laid out as synth does: image i of grade g from scene i mod k."""
    labels, groups = [], []
    for g, (n, k) in enumerate(zip(counts, SCENES_PER_GRADE, strict=True)):
        labels += [g] * n
        groups += [f"g{g}_scene{i % k}" for i in range(n)]
    return np.array(labels), np.array(groups)


def near_copies(n_per_group=12, seed=0, noise=4):
    """Images that are noisy copies of one random prototype per group; the grade is the
    group's but carries no visual signal, so only memorising a group can 'predict' it."""
    rng = np.random.default_rng(seed)
    labels, groups = study_like(tuple(n_per_group * k for k in SCENES_PER_GRADE))
    prototypes = {g: rng.integers(0, 256, (16, 16, 3)) for g in np.unique(groups)}
    images = np.stack(
        [np.clip(prototypes[g] + rng.normal(0, noise, (16, 16, 3)), 0, 255) for g in groups]
    ).astype(np.uint8)
    return images, labels, groups


def test_stratified_folds_partition_and_keep_grade_proportions():
    labels, _ = study_like()
    folds = cv.fold_indices(labels, folds=5, seed=0)
    assert len(folds) == 5
    tests = np.concatenate([f.test for f in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(labels)))  # each image validated once
    for fold in folds:
        assert not set(fold.train) & set(fold.test)
        assert len(fold.train) + len(fold.test) == len(labels)
        expected = np.bincount(labels) / 5
        assert np.all(np.abs(np.bincount(labels[fold.test], minlength=4) - expected) <= 1)


def test_stratified_folds_are_seeded():
    labels, _ = study_like()
    a = cv.fold_indices(labels, folds=5, seed=1)
    b = cv.fold_indices(labels, folds=5, seed=1)
    c = cv.fold_indices(labels, folds=5, seed=2)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.test, y.test) for x, y in zip(a, c, strict=True))


def test_grouped_folds_are_group_pure_and_hold_every_grade():
    labels, groups = study_like()
    folds = cv.fold_indices(labels, groups, folds=5, seed=0)
    assert len(folds) == 4  # grades 1-3 have only 4 basic scenes
    seen: set[str] = set()
    for fold in folds:
        test_groups = set(groups[fold.test])
        assert not test_groups & set(groups[fold.train])  # no scene on both sides
        assert not test_groups & seen  # no scene in two validation folds
        seen |= test_groups
        assert set(labels[fold.test]) == {0, 1, 2, 3}
    assert seen == set(groups)
    table = cv.fold_table(labels, folds, groups)
    assert table["groups also in training"].eq(0).all()
    assert table["grades present"].eq(4).all()
    assert table["images"].sum() == len(labels)


def test_usable_folds():
    labels, groups = study_like()
    assert cv.usable_folds(labels, None, 5) == 5
    assert cv.usable_folds(labels, groups, 5) == 4
    assert cv.usable_folds(labels, groups, 3) == 3
    assert cv.groups_per_grade(labels, groups).tolist() == [5, 4, 4, 4]
    lonely = np.where(labels == 3, "only_one", groups)
    with pytest.raises(ValueError, match="grade 3 comes from only 1 group"):
        cv.usable_folds(labels, lonely, 5)
    with pytest.raises(ValueError, match="folds must be at least 2"):
        cv.usable_folds(labels, None, 1)
    with pytest.raises(ValueError, match="fewer than folds"):
        cv.usable_folds([0, 0, 1, 1, 1], None, 3)


def test_bad_labels_and_groups_are_named():
    with pytest.raises(ValueError, match=r"labels\[2\] = 7"):
        cv.fold_indices([0, 1, 7, 2], folds=2)
    with pytest.raises(ValueError, match="groups has 3 entries for 4 labels"):
        cv.fold_indices([0, 1, 0, 1], ["a", "b", "c"], folds=2)


def test_cross_validate_with_a_perfect_and_a_constant_classifier():
    labels, groups = study_like((20, 20, 20, 20))
    noise = np.random.default_rng(0).integers(0, 5, (len(labels), 4, 4, 3))
    images = (labels[:, None, None, None] * 60 + noise).astype(np.uint8)
    result = cv.cross_validate(images, labels, cv.pixel_fit_predict("centroid"), folds=5)
    assert result.n_folds == 5
    assert result.mean == 1.0 and result.sd == 0.0
    assert result.confusion.sum() == len(labels)
    assert np.array_equal(np.diag(result.confusion), [20, 20, 20, 20])

    def always_two(train_x, train_y, test_x, fold):
        probs = np.zeros((len(test_x), 4))
        probs[:, 2] = 1.0
        return probs

    constant = cv.cross_validate(images, labels, always_two, groups, folds=5)
    assert constant.scheme == "grouped" and constant.n_folds == 4
    assert constant.notes and "4 folds instead of 5" in constant.notes[0]
    assert constant.mean == pytest.approx(0.25, abs=0.01)  # folds differ a little in size
    assert cv.compare([constant])["pooled accuracy"].item() == 0.25
    assert constant.confusion[:, 2].sum() == len(labels)
    assert set(constant.predictions["predicted"]) == {2}
    assert constant.predictions["index"].tolist() == list(range(len(labels)))


def test_cross_validate_rejects_bad_fit_predict_output():
    labels, _ = study_like((8, 8, 8, 8))
    images = np.zeros((len(labels), 4, 4, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="fit_predict returned shape"):
        cv.cross_validate(images, labels, lambda a, b, c, d: np.zeros((len(c), 3)), folds=2)
    with pytest.raises(ValueError, match="images but"):
        cv.cross_validate(images[:-1], labels, cv.pixel_fit_predict(), folds=2)


def test_grouped_cv_exposes_leakage_between_near_copies():
    """A 1-NN memoriser scores ~100 % when copies of a scene are on both sides, chance when not."""
    images, labels, groups = near_copies()
    knn = cv.pixel_fit_predict("knn")
    leaky = cv.cross_validate(images, labels, knn, None, folds=5, progress=False)
    honest = cv.cross_validate(images, labels, knn, groups, folds=5, progress=False)
    assert leaky.mean > 0.95
    assert honest.mean < 0.5
    comparison = cv.compare([leaky, honest])
    assert comparison.loc["stratified", "folds"] == 5
    assert comparison.loc["grouped", "folds"] == 4


def test_result_round_trips_through_json():
    images, labels, groups = near_copies(n_per_group=4)
    result = cv.cross_validate(images, labels, cv.pixel_fit_predict(), groups, folds=3)
    again = cv.CVResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.mean == result.mean and again.sd == result.sd
    assert np.array_equal(again.confusions, result.confusions)
    pd.testing.assert_frame_equal(again.per_fold, result.per_fold, check_dtype=False)
    assert "grouped 3-fold CV: accuracy" in again.summary()


def test_cv_for_is_cached_and_cli_writes_results(tmp_path, monkeypatch):
    from synovis_lib import cli, get_profile

    monkeypatch.delenv("SYNOVIS_PROFILE", raising=False)
    profile = get_profile("ci", announce=False)
    first = pipeline.cv_for(profile, grouped=True, method="knn")
    assert first.method == "pixels: knn" and first.n_folds == profile.folds
    assert pipeline.cv_for(profile, grouped=True, method="knn").to_dict() == first.to_dict()
    assert (
        cli.main(["cv", "--profile", "ci", "--out", str(tmp_path), "--both", "--method", "knn"])
        == 0
    )
    saved = json.loads((tmp_path / "cv.json").read_text())
    assert [r["scheme"] for r in saved["results"]] == ["stratified", "grouped"]
    assert (tmp_path / "cv.png").stat().st_size > 0
    folds = pd.read_csv(tmp_path / "cv_folds.csv")
    assert set(folds["scheme"]) == {"stratified", "grouped"}
    assert len(pd.read_csv(tmp_path / "cv_predictions.csv")) == 2 * profile.n_train


def test_network_folds_reuse_the_fallback_of_the_first_fold(monkeypatch):
    """Offline, the first fold falls back; later folds build the fallback without a new download."""
    from types import SimpleNamespace

    from synovis_lib import get_profile

    seen = []

    def fake_fit_profile(profile, data, val_set, trial, progress):
        seen.append((profile.backbone, profile.weights, val_set))
        fallback = profile.weights == "imagenet"
        weights = SimpleNamespace(
            fallback=fallback, backbone="compact", summary=lambda: f"compact fallback={fallback}"
        )
        return SimpleNamespace(
            weights=weights, predict=lambda x: np.tile([0.1, 0.2, 0.6, 0.1], (len(x), 1))
        )

    monkeypatch.setattr(cv, "fit_profile", fake_fit_profile)
    record: list[str] = []
    labels, _ = study_like((6, 6, 6, 6))
    images = np.zeros((len(labels), 4, 4, 3), dtype=np.uint8)
    online = dict(backbone="vgg16", weights="imagenet", offline="fallback")
    quick = get_profile("quick", announce=False, **online)
    result = cv.cross_validate(images, labels, cv.network_fit_predict(quick, 0, record), folds=3)
    assert seen[0][:2] == ("vgg16", "imagenet")
    assert all(s[:2] == ("compact", "none") for s in seen[1:])
    assert all(s[2] is None for s in seen)  # no extra validation set (and fit_profile: no cache)
    # Later folds build the fallback directly and are recorded as that same fallback.
    assert record == ["compact fallback=True"] * 3
    assert result.mean == pytest.approx(0.25, abs=0.01)


def test_a_validation_fold_without_a_grade_is_reported(monkeypatch):
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 2])
    folds = [cv.Fold(0, np.arange(4, 8), np.arange(4)), cv.Fold(1, np.arange(4), np.arange(4, 8))]
    monkeypatch.setattr(cv, "fold_indices", lambda *args: folds)
    images = np.zeros((8, 4, 4, 3), dtype=np.uint8)
    result = cv.cross_validate(images, labels, lambda a, b, c, d: np.zeros(len(c), int), folds=2)
    assert result.per_fold["grades present"].tolist() == [4, 3]
    assert result.notes == ["validation fold(s) [1] lack a grade (see fold_table)"]


def test_paper_cv_mean_is_the_published_figure():
    # "The mean accuracy of second model cross-validation was 0.99543" (Results section).
    assert cv.paper_cv_mean() == 0.99543
