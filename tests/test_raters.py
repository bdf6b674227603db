"""The simulated raters: same rules as the masks, with human noise and bias on top."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synovis_lib import ultrasound
from synovis_lib.grading import grade_from_counts, load_rules
from synovis_lib.raters import (
    DEFAULT_RATERS,
    RaterProfile,
    read_by_all,
    read_image,
)

PERFECT = RaterProfile(
    name="perfect",
    trust_display=0.0,
    size_bias=0.0,
    size_noise=0.0,
    coverage_bias=0.0,
    coverage_noise=0.0,
    miss_single=0.0,
    count_outside=0.0,
    lapse=0.0,
)


@pytest.fixture(scope="module")
def scenes() -> list[ultrasound.GradedScene]:
    rng = np.random.default_rng(42)
    out = []
    for i in range(24):
        exam = ultrasound.sample_examination(rng)
        out.append(ultrasound.sample_scene(rng, exam, i % 4))
    return out


def test_counts_rule_agrees_with_the_mask_rule(scenes):
    rules = load_rules()
    for graded in scenes:
        for result in (graded.truth, graded.shown):
            counts = (result.n_single, result.n_confluent, result.n_large, result.coverage)
            assert grade_from_counts(*counts, rules) == result.grade


def test_counts_rule_edge_cases():
    rules = load_rules()
    assert grade_from_counts(0, 0, 0, 0.0, rules) == 0
    assert grade_from_counts(3, 0, 0, 0.05, rules) == 1
    assert grade_from_counts(4, 0, 0, 0.05, rules) == 2
    assert grade_from_counts(2, 1, 0, 0.1, rules) == 1
    assert grade_from_counts(1, 2, 0, 0.1, rules) == 2
    assert grade_from_counts(0, 0, 1, 0.3, rules) == 2
    assert grade_from_counts(0, 0, 1, 0.5, rules) == 2  # exactly half is not "more than half"
    assert grade_from_counts(0, 0, 1, 0.51, rules) == 3


def test_a_perfect_rater_reads_the_truth_or_the_screen(scenes):
    rng = np.random.default_rng(0)
    on_screen = dataclasses.replace(PERFECT, trust_display=1.0)
    for graded in scenes:
        assert read_image(PERFECT, graded, rng).grade == graded.truth.grade
        reading = read_image(on_screen, graded, rng)
        assert reading.view == "screen" and reading.grade == graded.shown.grade
    # blooming, noise specks and merging spots: the screen is not the truth for every image
    assert any(g.shown.grade != g.truth.grade for g in scenes)
    assert all(g.shown.coverage >= g.truth.coverage for g in scenes if g.truth.grade == 3)


def test_under_reading_spot_size_turns_confluent_spots_single(scenes):
    rng = np.random.default_rng(1)
    shrinking = dataclasses.replace(PERFECT, size_bias=-5.0)
    confluent = [g for g in scenes if g.truth.n_confluent and g.truth.grade < 3]
    assert confluent
    for graded in confluent:
        reading = read_image(shrinking, graded, rng)
        assert reading.n_confluent == 0 and reading.n_large == 0
        assert reading.n_single == len(graded.truth.components)


def test_lapses_move_the_grade_by_at_most_one(scenes):
    rng = np.random.default_rng(2)
    sloppy = dataclasses.replace(PERFECT, lapse=1.0)
    moves = [read_image(sloppy, g, rng).grade - g.truth.grade for g in scenes]
    assert set(moves) <= {-1, 0, 1} and {-1, 1} <= set(moves)


def test_shared_impression_moves_noise_free_raters_together(scenes):
    rng = np.random.default_rng(3)
    for graded in scenes:
        readings = read_by_all((PERFECT, PERFECT, PERFECT), graded, rng)
        assert len({r.grade for r in readings}) == 1
        assert len({round(r.coverage, 12) for r in readings}) == 1


def test_default_raters_are_reproducible_and_differ_from_each_other(scenes):
    def grades(seed):
        rng = np.random.default_rng(seed)
        return [
            [r.grade for r in read_by_all(DEFAULT_RATERS, g, rng)] for g in scenes for _ in range(5)
        ]

    assert grades(7) == grades(7)
    table = np.array(grades(7))
    assert (table[:, 0] != table[:, 1]).any()
    assert np.abs(table[:, 0] - table[:, 1]).max() <= 3


def test_bad_rater_parameters_are_named():
    with pytest.raises(ValueError, match="lapse must be a probability"):
        dataclasses.replace(PERFECT, lapse=1.5)
    with pytest.raises(ValueError, match="size_noise must be >= 0"):
        dataclasses.replace(PERFECT, size_noise=-0.1)
