"""The scoring aid: outline -> mask -> grade, the outline of a mask, saved outlines."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from synovis_lib import clinic, doppler, outline
from synovis_lib.grading import grade_from_masks

SIGNAL = doppler.ILLUSTRATION_LUT[200]
"""A power Doppler colour (orange-red) that :func:`doppler.colour_mask` reads as signal."""
BOX = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.5), (0.2, 0.5)]
"""A 60 x 30 px outline (1800 px) on the 100 x 100 test image."""
BELOW = [(0.2, 0.6), (0.8, 0.6), (0.8, 0.9), (0.2, 0.9)]
"""The same outline lower down, away from the blobs."""


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def grey_image(*blobs: tuple[slice, slice]) -> np.ndarray:
    """A 100 x 100 grey B-mode-like image with ``blobs`` painted in Doppler colour."""
    image = np.full((100, 100, 3), 90, dtype=np.uint8)
    for blob in blobs:
        image[blob] = SIGNAL
    return image


TWO_SPOTS = ((slice(30, 33), slice(30, 33)), (slice(30, 33), slice(60, 63)))
"""Two 3 x 3 px spots (0.5 % of BOX each: single spots) inside BOX."""


# ----------------------------------------------------------------------------- outline_mask


def test_rectangle_mask_counts_pixel_centres_with_x_as_columns():
    mask = outline.outline_mask([(0.1, 0.2), (0.5, 0.2), (0.5, 0.3), (0.1, 0.3)], (100, 200))
    assert mask.shape == (100, 200) and mask.dtype == bool
    assert mask.sum() == 10 * 80  # rows 20..29 (y), columns 20..99 (x)
    assert np.array_equal(np.flatnonzero(mask.any(axis=1)), np.arange(20, 30))
    assert np.array_equal(np.flatnonzero(mask.any(axis=0)), np.arange(20, 100))


def test_triangle_mask_has_its_area_and_orientation():
    # Legs along the top (x) and left (y) edges; no pixel centre lies on the hypotenuse,
    # so the pixel-centre count equals the area: 80 * 40 / 2.
    mask = outline.outline_mask([(0.1, 0.1), (0.9, 0.1), (0.1, 0.5)], (100, 100))
    assert mask.sum() == 1600
    assert mask[10, 10] and mask[10, 88] and mask[48, 10]
    assert not mask[48, 88] and not mask[60, 20]
    assert mask[10].sum() == 79 and mask[49].sum() == 1  # wide at the top, a tip at the bottom


def test_point_order_and_direction_do_not_matter():
    triangle = [(0.1, 0.1), (0.9, 0.1), (0.1, 0.5)]
    forward = outline.outline_mask(triangle, (50, 70))
    assert np.array_equal(forward, outline.outline_mask(triangle[::-1], (50, 70)))
    assert np.array_equal(
        forward, outline.outline_mask(np.array(triangle[1:] + triangle[:1]), (50, 70))
    )


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(0.1, 0.1), (0.5, 0.1), (float("nan"), 0.5)], r"outline\[2\] x = nan is outside"),
        ([(0.1, 0.1), (0.5, 1.5), (0.1, 0.5)], r"outline\[1\] y = 1\.5 is outside"),
        ([(0.1, 0.1), (0.5, 0.1), (0.1, float("inf"))], r"outline\[2\] y = inf is outside"),
        ([(0.1, 0.1), (-0.01, 0.1), (0.1, 0.5)], r"outline\[1\] x = -0\.01 is outside"),
        ([(0.1, 0.1), (0.5, 0.1, 0.2), (0.1, 0.5)], r"outline\[1\] must be an \[x, y\] pair"),
        ([(0.1, 0.1), (0.5, "a"), (0.1, 0.5)], r"outline\[1\] y must be a number"),
        ([(0.1, 0.1), (True, 0.1), (0.1, 0.5)], r"outline\[1\] x must be a number"),
        ([(0.1, 0.1), (0.5, 0.1)], "at least 3 points"),
        ("0.1,0.1", "list of"),
        (
            [(0.5, 0.5)] * (outline.MAX_OUTLINE_POINTS + 1),
            f"more than {outline.MAX_OUTLINE_POINTS}",
        ),
    ],
)
def test_bad_points_are_refused_naming_the_point(points, message):
    with pytest.raises(ValueError, match=message):
        outline.outline_mask(points, (10, 10))


def test_an_outline_between_pixel_centres_grades_nothing():
    sliver = [(0.11, 0.11), (0.14, 0.11), (0.11, 0.14)]  # inside pixel (1, 1), off its centre
    assert not outline.outline_mask(sliver, (10, 10)).any()
    with pytest.raises(ValueError, match="encloses no pixel centre"):
        outline.grade_outline(np.zeros((10, 10, 3), np.uint8), sliver)


@pytest.mark.parametrize(
    "image", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3)), np.zeros((10, 10, 4), np.uint8)]
)
def test_grade_outline_wants_an_rgb_uint8_image(image):
    with pytest.raises(ValueError, match=r"RGB uint8 \(H, W, 3\)"):
        outline.grade_outline(image, BOX)


# ----------------------------------------------------------------------------- grade_outline


def test_the_painted_colour_is_read_as_doppler_and_grey_is_not():
    image = grey_image(*TWO_SPOTS)
    assert doppler.colour_mask(image).sum() == 18


def test_two_small_spots_inside_the_outline_are_grade_1():
    result = outline.grade_outline(grey_image(*TWO_SPOTS), BOX)
    assert (result.grade, result.n_single, result.n_confluent, result.n_large) == (1, 2, 0, 0)
    assert (result.synovium_area, result.signal_area, result.ignored_area) == (1800, 18, 0)
    assert result.coverage == pytest.approx(18 / 1800)
    assert result.explanation.startswith("grade 1: within the grade-1 spot counts")


def test_spots_outside_the_outline_are_ignored_and_named():
    result = outline.grade_outline(grey_image(*TWO_SPOTS), BELOW)
    assert (result.grade, result.signal_area, result.ignored_area) == (0, 0, 18)
    assert "18 signal px outside the synovium ignored" in result.explanation


def test_signal_over_most_of_the_outline_is_grade_3():
    result = outline.grade_outline(grey_image((slice(22, 48), slice(22, 78))), BOX)
    assert result.grade == 3 and result.n_large == 1
    assert result.coverage == pytest.approx(26 * 56 / 1800)
    assert "more than 50%" in result.explanation


def test_grade_outline_is_grade_from_masks_of_the_colour_and_the_outline():
    image = grey_image(*TWO_SPOTS, (slice(40, 47), slice(40, 75)))
    expected = grade_from_masks(doppler.colour_mask(image), outline.outline_mask(BOX, (100, 100)))
    assert outline.grade_outline(image, BOX) == expected


# ----------------------------------------------------------------------------- outline_from_mask


def disc(shape=(80, 100), centre=(40, 45), radius=22) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius**2


def irregular() -> np.ndarray:
    """A crescent-like recess: an ellipse with a bite out of it, plus a tail."""
    rows, cols = np.mgrid[:90, :120]
    ellipse = ((rows - 45) / 20.0) ** 2 + ((cols - 55) / 40.0) ** 2 < 1
    bite = ((rows - 62) / 15.0) ** 2 + ((cols - 55) / 22.0) ** 2 < 1
    tail = (np.abs(rows - 40) < 3) & (cols > 90) & (cols < 115)
    return (ellipse & ~bite) | tail


@pytest.mark.parametrize("mask", [disc(), irregular()], ids=["disc", "irregular"])
@pytest.mark.parametrize("max_points", [16, 64])
def test_outline_of_a_mask_round_trips(mask, max_points):
    points = outline.outline_from_mask(mask, max_points)
    assert 3 <= len(points) <= max_points
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in points)
    assert iou(outline.outline_mask(points, mask.shape), mask) > 0.9


def test_outline_of_a_mask_follows_its_largest_region_in_image_fractions():
    mask = disc()
    mask[5:9, 90:95] = True  # a small separate region, top right
    points = np.array(outline.outline_from_mask(mask))
    assert iou(outline.outline_mask(points, mask.shape), disc()) > 0.95
    # the outline runs along the disc's outer pixel edges: x = column / 100, y = row / 80
    rows, cols = np.flatnonzero(disc().any(axis=1)), np.flatnonzero(disc().any(axis=0))
    assert points[:, 0].min() == pytest.approx(cols[0] / 100, abs=0.01)
    assert points[:, 0].max() == pytest.approx((cols[-1] + 1) / 100, abs=0.01)
    assert points[:, 1].min() == pytest.approx(rows[0] / 80, abs=0.0125)
    assert points[:, 1].max() == pytest.approx((rows[-1] + 1) / 80, abs=0.0125)


def test_outline_of_a_tiny_or_thin_region_still_encloses_it():
    pixel = np.zeros((10, 10), dtype=bool)
    pixel[4, 6] = True
    points = outline.outline_from_mask(pixel)
    assert len(points) == 4  # a diamond through the pixel's edges
    assert np.array_equal(outline.outline_mask(points, pixel.shape), pixel)
    line = np.eye(20, dtype=bool)  # one pixel wide, 8-connected: one region
    assert np.array_equal(outline.outline_mask(outline.outline_from_mask(line, 4), (20, 20)), line)
    assert len(outline.outline_from_mask(line, 3)) == 3  # too few points to follow it, but 3


def test_outline_of_an_empty_or_bad_mask_is_refused():
    with pytest.raises(ValueError, match="empty"):
        outline.outline_from_mask(np.zeros((10, 10), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        outline.outline_from_mask(np.ones((10, 10)))
    with pytest.raises(ValueError, match="max_points"):
        outline.outline_from_mask(disc(), max_points=2)


def test_the_true_synovium_of_a_simulated_image_outlines_and_grades_it():
    one = clinic.simulate_cohort(0, size=64, n_patients=1, consensus_counts=(0, 1, 0, 0))
    synovium = one.synovium[0]
    points = outline.outline_from_mask(synovium)
    mask = outline.outline_mask(points, synovium.shape)
    assert iou(mask, synovium) > 0.9
    result = outline.grade_outline(one.images[0], points)
    assert isinstance(result.grade, int) and 0 <= result.grade <= 3
    assert result.synovium_area == mask.sum()


# ----------------------------------------------------------------------------- save / load


def test_save_then_load_round_trips(tmp_path):
    points = [(0.123456, 0.2), (0.8, 0.21), (0.5, 0.654321)]
    result = outline.grade_outline(grey_image(*TWO_SPOTS), points)
    path = outline.save_outline(tmp_path, "p001_img1.png", points, result)
    assert path == tmp_path / "p001_img1_png.outline.json"
    data = json.loads(path.read_text())
    assert data == {
        "kind": "synovis-outline",
        "image": "p001_img1.png",
        "outline": [[0.1235, 0.2], [0.8, 0.21], [0.5, 0.6543]],
        "grade": result.grade,
        "explanation": result.explanation,
    }
    assert outline.load_outline(path) == (
        "p001_img1.png",
        [(0.1235, 0.2), (0.8, 0.21), (0.5, 0.6543)],
    )


@pytest.mark.parametrize(
    ("name", "file_name"),
    [
        ("scans/p 002 mcp2.jpg", "scans_p_002_mcp2_jpg.outline.json"),
        ("../../etc/passwd", "etc_passwd.outline.json"),
        ("Gelenk ä.png", "Gelenk___png.outline.json"),
    ],
)
def test_image_names_become_safe_file_names_in_the_folder(tmp_path, name, file_name):
    result = outline.grade_outline(grey_image(), BOX)
    path = outline.save_outline(tmp_path / "outlines", name, BOX, result)
    assert path == tmp_path / "outlines" / file_name
    assert [p.name for p in (tmp_path / "outlines").iterdir()] == [file_name]
    assert outline.load_outline(path)[0] == name


def test_saving_again_replaces_its_own_outline(tmp_path):
    image = grey_image(*TWO_SPOTS)
    outline.save_outline(tmp_path, "a.png", BOX, outline.grade_outline(image, BOX))
    path = outline.save_outline(tmp_path, "a.png", BELOW, outline.grade_outline(image, BELOW))
    assert outline.load_outline(path) == ("a.png", BELOW)
    assert json.loads(path.read_text())["grade"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["a_png.outline.json"]  # no temporary left


@pytest.mark.parametrize(
    "content", ["my notes\n", '{"kind": "something-else", "image": "a.png"}', "[1, 2]"]
)
def test_a_file_synovis_did_not_write_is_never_replaced(tmp_path, content):
    path = tmp_path / "a_png.outline.json"
    path.write_text(content)
    result = outline.grade_outline(grey_image(), BOX)
    with pytest.raises(FileExistsError, match=r"a_png\.outline\.json exists and is not a synovis"):
        outline.save_outline(tmp_path, "a.png", BOX, result)
    assert path.read_text() == content


def test_two_images_sharing_a_file_name_do_not_overwrite_each_other(tmp_path):
    result = outline.grade_outline(grey_image(), BOX)
    path = outline.save_outline(tmp_path, "p 1.png", BOX, result)
    with pytest.raises(FileExistsError, match=r"outline of image 'p 1.png', not 'p_1.png'"):
        outline.save_outline(tmp_path, "p_1.png", BELOW, result)
    assert outline.load_outline(path) == ("p 1.png", BOX)


def test_save_refuses_bad_points_and_names(tmp_path):
    result = outline.grade_outline(grey_image(), BOX)
    with pytest.raises(ValueError, match=r"outline\[1\] x = 2"):
        outline.save_outline(tmp_path, "a.png", [(0.1, 0.1), (2, 0.1), (0.1, 0.5)], result)
    with pytest.raises(ValueError, match="image_name"):
        outline.save_outline(tmp_path, " ", BOX, result)
    assert list(tmp_path.iterdir()) == []


def write(tmp_path, **changes) -> str:
    data = {"kind": "synovis-outline", "image": "a.png", "outline": [list(p) for p in BOX]}
    data.update(changes)
    path = tmp_path / "a_png.outline.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "scene"}, "kind must be 'synovis-outline', got 'scene'"),
        ({"image": ""}, "image must be a non-empty string"),
        ({"image": 3}, "image must be a non-empty string, got 3"),
        ({"outline": {"x": 1}}, "outline must be a list"),
        ({"outline": [[0.1, 0.1], [0.5, 0.1]]}, "at least 3 points"),
        ({"outline": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [1.2, 0.5]]}, r"outline\[3\] x = 1\.2"),
        ({"outline": [[0.1, 0.1], [0.5, None], [0.5, 0.5]]}, r"outline\[1\] y must be a number"),
        ({"outline": [[0.1, 0.1], 7, [0.5, 0.5]]}, r"outline\[1\] must be an \[x, y\] pair"),
    ],
)
def test_load_names_the_file_and_the_field(tmp_path, changes, message):
    path = write(tmp_path, **changes)
    with pytest.raises(ValueError, match=message) as error:
        outline.load_outline(path)
    assert str(error.value).startswith(path)


def test_load_refuses_what_is_not_an_outline_file(tmp_path):
    path = tmp_path / "x.outline.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=re.escape(f"{path}: not valid JSON")):
        outline.load_outline(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        outline.load_outline(tmp_path / "missing.outline.json")


# ----------------------------------------------------------------------------- figure, verdict


def test_the_figure_shows_the_grade_and_the_explanation():
    result = outline.grade_outline(grey_image(*TWO_SPOTS), BOX)
    fig = outline.outline_figure(grey_image(*TWO_SPOTS), BOX, result, title="p001_img1.png")
    ax = fig.axes[0]
    assert ax.get_title() == "p001_img1.png: grade 1"
    assert " ".join(ax.get_xlabel().split()) == result.explanation
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "outline (synovium)",
        "Doppler colour counted",
    ]


def row(**grades) -> pd.Series:
    values = {"image": "p001_img1.png", "rater_1": 2, "rater_2": 1, "rater_3": 2}
    values.update({"consensus": 2, "true_grade": 1} | grades)
    return pd.Series(values, dtype=object)


def test_the_verdict_compares_the_aid_with_the_raters_and_the_truth():
    result = outline.grade_outline(grey_image((slice(22, 48), slice(22, 78))), BOX)  # grade 3
    text = outline.verdict(result, row())
    assert text.startswith(
        "The scoring aid gives p001_img1.png grade 3 (signal covers more than 50%"
    )
    assert "rater 1 grade 2, rater 2 grade 1, rater 3 grade 2" in text
    assert "the aid is 1 grade above their consensus, grade 2." in text
    assert "true grade is known: 1; the aid is 2 grades above it." in text
    real = outline.verdict(result, row(rater_3=pd.NA, consensus=pd.NA, true_grade=pd.NA))
    assert "they reached no consensus" in real and "true grade" not in real
