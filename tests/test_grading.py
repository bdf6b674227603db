"""The EULAR/OMERACT checker on hand-made masks: every rule boundary."""

from __future__ import annotations

import numpy as np
import pytest

from synovis_lib.grading import GradingRules, grade_from_masks, load_rules, signal_components

H, W = 120, 240
SYN = (slice(10, 110), slice(20, 220))  # 100 x 200 = 20000 px synovium


def synovium() -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[SYN] = True
    return mask


def draw(n_single: int = 0, n_confluent: int = 0) -> np.ndarray:
    """Single spots (3x3 = 9 px, 0.05 %) and confluent spots (25x25 = 625 px, 3.1 %)."""
    mask = np.zeros((H, W), dtype=bool)
    for i in range(n_single):
        mask[15:18, 25 + 10 * i : 28 + 10 * i] = True
    for i in range(n_confluent):
        mask[40:65, 25 + 35 * i : 50 + 35 * i] = True
    return mask


@pytest.mark.parametrize(
    ("n_single", "n_confluent", "grade"),
    [
        (0, 0, 0),
        (1, 0, 1),
        (3, 0, 1),
        (4, 0, 2),
        (0, 1, 1),
        (0, 2, 1),
        (0, 3, 2),
        (1, 1, 1),
        (2, 1, 1),
        (3, 1, 2),
        (1, 2, 2),
        (9, 0, 2),
    ],
)
def test_count_boundaries(n_single, n_confluent, grade):
    result = grade_from_masks(draw(n_single, n_confluent), synovium())
    assert (result.n_single, result.n_confluent, result.n_large) == (n_single, n_confluent, 0)
    assert result.grade == grade
    assert result.explanation.startswith(f"grade {grade}:")
    assert f"{n_single} single" in result.explanation


def test_spot_versus_confluent_threshold_is_a_share_of_the_synovium():
    rules = load_rules()
    limit = rules.confluent_min_fraction * 20000  # 600 px
    below = np.zeros((H, W), dtype=bool)
    below[30:50, 30:59] = True  # 580 px
    above = np.zeros((H, W), dtype=bool)
    above[30:50, 30:60] = True  # 600 px
    assert below.sum() < limit <= above.sum()
    assert grade_from_masks(below, synovium()).n_single == 1
    assert grade_from_masks(above, synovium()).n_confluent == 1


def test_threshold_scales_with_image_size():
    """The same drawing at double resolution gives the same counts and grade."""
    vascular, syn = draw(2, 1), synovium()
    big = grade_from_masks(vascular.repeat(2, 0).repeat(2, 1), syn.repeat(2, 0).repeat(2, 1))
    small = grade_from_masks(vascular, syn)
    assert (big.grade, big.n_single, big.n_confluent) == (small.grade, small.n_single, 1)
    assert big.coverage == pytest.approx(small.coverage)


def test_one_large_region_is_graded_by_coverage_not_as_a_confluent_spot():
    vascular = np.zeros((H, W), dtype=bool)
    vascular[10:60, 20:120] = True  # 5000 px = exactly a quarter: large
    result = grade_from_masks(vascular, synovium())
    assert (result.n_large, result.n_confluent, result.grade) == (1, 0, 2)
    assert result.coverage == pytest.approx(0.25)
    vascular[10:60, 20:120] = False
    vascular[10:60, 20:70] = True  # 2500 px = 12.5 %: one confluent spot, grade 1
    result = grade_from_masks(vascular, synovium())
    assert (result.n_single, result.n_confluent, result.n_large, result.grade) == (0, 1, 0, 1)


def test_grade_1_spot_counts_covering_a_quarter_or_more_are_grade_2():
    vascular = np.zeros((H, W), dtype=bool)
    vascular[10:59, 20:70] = True  # 2450 px = 12.25 %: confluent
    vascular[10:59, 80:130] = True  # another: two confluent spots, 24.5 % in all
    two = grade_from_masks(vascular, synovium())
    assert (two.n_confluent, two.n_large, two.grade) == (2, 0, 1)
    vascular[59, 20:70] = True  # 50 px more: 24.75 %, still two confluent spots
    vascular[59:61, 80:130] = True  # and 100 more: 25.25 % in all
    wide = grade_from_masks(vascular, synovium())
    assert (wide.n_confluent, wide.n_large) == (2, 0) and wide.coverage >= 0.25
    assert wide.grade == 2 and "together they cover >= 25%" in wide.rule


def test_coverage_of_exactly_half_is_grade_2_and_above_half_is_grade_3():
    vascular = np.zeros((H, W), dtype=bool)
    vascular[10:60, 20:220] = True  # 10000 px = 0.5
    half = grade_from_masks(vascular, synovium())
    assert half.coverage == 0.5 and half.grade == 2
    vascular[60, 20] = True  # one more pixel
    above = grade_from_masks(vascular, synovium())
    assert above.coverage > 0.5 and above.grade == 3
    vascular[10:60, 20:220] = False
    vascular[10:40, 20:220] = True  # 30 %
    assert grade_from_masks(vascular, synovium()).grade == 2


def test_many_spots_covering_more_than_half_is_grade_3():
    vascular = np.zeros((H, W), dtype=bool)
    vascular[10:110:2, 20:220] = True  # 50 separate stripes, each 1 %: coverage 0.5
    vascular[11, 20:30] = True
    result = grade_from_masks(vascular, synovium())
    assert result.coverage > 0.5 and result.grade == 3


def test_signal_outside_the_synovium_is_ignored():
    vascular = np.zeros((H, W), dtype=bool)
    vascular[0:8, :] = True  # above the synovium (tendon, subcutis)
    vascular[112:, 100:200] = True  # below it (bone)
    result = grade_from_masks(vascular, synovium())
    assert result.grade == 0 and result.signal_area == 0 and result.coverage == 0
    assert result.ignored_area == int(vascular.sum())
    assert "ignored" in result.explanation
    # A vessel straddling the border counts only with its inside part.
    vascular[5:13, 30:33] = True
    result = grade_from_masks(vascular, synovium())
    assert (result.grade, result.n_single, result.signal_area) == (1, 1, 9)


def test_diagonal_pixels_are_one_spot():
    vascular = np.zeros((H, W), dtype=bool)
    vascular[50, 50] = vascular[51, 51] = True
    assert grade_from_masks(vascular, synovium()).n_single == 1
    rules4 = GradingRules(connectivity=4)
    assert grade_from_masks(vascular, synovium(), rules4).n_single == 2


def test_components_report_labels_and_shares():
    labels, components = signal_components(draw(2, 1), synovium())
    assert labels.shape == (H, W) and labels.max() == 3
    assert sorted(c.kind for c in components) == ["confluent", "single", "single"]
    for c in components:
        assert (labels == c.label).sum() == c.area
        assert c.fraction == pytest.approx(c.area / 20000)


def test_rules_are_packaged_with_their_source():
    rules = load_rules()
    assert "RMD Open 2017;3:e000428" in rules.source
    assert rules.grade_3_coverage_above == 0.5
    assert rules.confluent_min_fraction < rules.large_region_fraction


def test_bad_masks_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="differ in shape"):
        grade_from_masks(np.zeros((4, 4), bool), np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="vascular mask must be boolean"):
        grade_from_masks(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="synovium mask must be 2-D"):
        grade_from_masks(np.zeros((4, 4), bool), np.zeros((4, 4, 1), bool))
    with pytest.raises(ValueError, match="connectivity"):
        GradingRules(connectivity=6)


def test_empty_synovium_is_grade_0():
    vascular = np.ones((8, 8), dtype=bool)
    result = grade_from_masks(vascular, np.zeros((8, 8), dtype=bool))
    assert result.grade == 0 and result.coverage == 0.0 and result.ignored_area == 64
