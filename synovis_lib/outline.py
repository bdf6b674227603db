"""The scoring aid: grade the power Doppler signal inside a synovium a sonographer outlines.

A sonographer opens a clinical image (a simulated one, or their own through
:func:`synovis_lib.clinic.load_clinic`), outlines the synovium as a closed
polygon, and gets the EULAR/OMERACT grade of the Doppler colour inside the
outline, by the same rules as every other grade in the course
(:func:`synovis_lib.grading.grade_from_masks` on
:func:`synovis_lib.doppler.colour_mask`). The outline is saved beside the
image's name (:func:`save_outline`, :func:`load_outline`).

Points are image fractions, as a canvas sends them: ``(x, y)`` with x to the
right and y down, both in 0..1; a pixel belongs to the outline when its centre
lies inside the polygon. The drawing canvas calls these functions; so do the
tests and the notebook.

Taught in notebooks/03_clinical_images_and_raters.ipynb.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.path import Path as PolygonPath
from scipy import ndimage

from synovis_lib import doppler, files
from synovis_lib.grading import GradeResult, GradingRules, grade_from_masks
from synovis_lib.synth import Range, to_id

KIND = "synovis-outline"
"""The ``kind`` of every outline file synovis writes: it replaces only files of this kind."""
SUFFIX = ".outline.json"
MAX_OUTLINE_POINTS = 2000
"""The most points of one outline (a freehand mouse trace, thinned by the canvas, has far
fewer); it bounds the work of :func:`outline_mask` and the size of an outline file."""
MAX_OUTLINE_BYTES = 1_000_000
"""The largest outline file :func:`load_outline` reads (the largest valid one is ~60 kB)."""
_COORDINATE = Range(0.0, 1.0, outside="the image")


def _points(points: Iterable[Any], where: str = "outline") -> np.ndarray:
    """``points`` as a float ``(n, 2)`` array of image fractions, else ``ValueError`` naming
    ``where`` and the index of the first bad point."""
    if isinstance(points, str | bytes | dict) or not isinstance(points, Iterable):
        raise ValueError(f"{where} must be a list of [x, y] points, got {type(points).__name__}")
    checked = []
    for i, point in enumerate(points):
        if i >= MAX_OUTLINE_POINTS:
            raise ValueError(f"{where} has more than {MAX_OUTLINE_POINTS} points")
        pair = point if isinstance(point, Sequence | np.ndarray) else ()
        if isinstance(pair, str | bytes) or len(pair) != 2:
            raise ValueError(f"{where}[{i}] must be an [x, y] pair, got {point!r:.80}")
        checked.append(
            [
                _COORDINATE.check(f"{where}[{i}] {axis}", v)
                for axis, v in zip("xy", pair, strict=True)
            ]
        )
    if len(checked) < 3:
        raise ValueError(f"{where} needs at least 3 points to enclose anything, got {len(checked)}")
    return np.asarray(checked, dtype=float)


def outline_mask(points: Iterable[Any], shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the pixels whose centre lies inside the closed polygon
    ``points`` (image fractions; the last point joins the first; even-odd rule where the
    outline crosses itself).

    :meth:`matplotlib.path.Path.contains_points`, on the outline's bounding box only. PIL's
    ``ImageDraw.polygon`` is 10-300x faster but is not this rule: it rounds the vertices to
    whole pixels and also fills the pixels its edges cross (a 40 x 40-pixel square comes out
    41 x 41), which would inflate a synovium by 10-20 % at the course's 32-64 px image sizes
    and change coverage, hence grades. The exact rule costs about 1 ms at 224 px for 8
    points, 5 ms for 64 and 0.14 s for :data:`MAX_OUTLINE_POINTS`: once per closed outline.
    """
    height, width = (int(n) for n in shape)
    if height < 1 or width < 1:
        raise ValueError(f"shape must be (H, W) with H, W >= 1, got {shape}")
    vertices = _points(points) * (width, height)
    mask = np.zeros((height, width), dtype=bool)
    x0, y0 = np.floor(vertices.min(axis=0)).astype(int)
    x1, y1 = np.minimum(np.ceil(vertices.max(axis=0)).astype(int), (width, height))
    rows, cols = np.mgrid[y0:y1, x0:x1]
    centres = np.column_stack([cols.ravel() + 0.5, rows.ravel() + 0.5])
    mask[y0:y1, x0:x1] = PolygonPath(vertices).contains_points(centres).reshape(rows.shape)
    return mask


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"image must be RGB uint8 (H, W, 3), got {image.dtype} with shape {image.shape}"
        )
    return image


def grade_outline(
    image: np.ndarray, points: Iterable[Any], rules: GradingRules | None = None
) -> GradeResult:
    """The EULAR/OMERACT grade of the power Doppler colour inside the outline ``points`` of
    an RGB uint8 ``(H, W, 3)`` image, with its explanation (colour outside is ignored).
    ``ValueError`` if the outline encloses no pixel centre."""
    image = _check_image(image)
    synovium = outline_mask(points, image.shape[:2])
    if not synovium.any():
        raise ValueError(
            f"the outline encloses no pixel centre of the {image.shape[1]} x {image.shape[0]} "
            "image; draw it around the synovium"
        )
    return grade_from_masks(doppler.colour_mask(image), synovium, rules)


def outline_from_mask(mask: np.ndarray, max_points: int = 64) -> list[tuple[float, float]]:
    """The outline of the largest connected region (8-connected) of a boolean mask, as at
    most ``max_points`` image-fraction points: what a careful sonographer's outline of that
    region would give. The region's outer boundary is traced half-way between pixel centres
    (:func:`skimage.measure.find_contours`, holes ignored) and simplified
    (:func:`skimage.measure.approximate_polygon`) with the smallest tolerance, from 0.25 px
    up, that leaves at most ``max_points`` points. ``ValueError`` on an empty mask."""
    from skimage.measure import approximate_polygon, find_contours

    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be a boolean (H, W) array, got {mask.dtype} {mask.shape}")
    if not 3 <= max_points <= MAX_OUTLINE_POINTS:
        raise ValueError(f"max_points must be 3..{MAX_OUTLINE_POINTS}, got {max_points}")
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        raise ValueError("the mask is empty: there is no region to outline")
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    padded = np.pad(labels == largest, 1).astype(float)
    contours = find_contours(padded, 0.5, fully_connected="high")
    ring = max(contours, key=_area) - 1.0  # (row, col) of the outer boundary, closed
    tolerance, simple = 0.25, ring
    while len(simple) - 1 > max_points:
        simple = approximate_polygon(ring, tolerance)
        tolerance *= 1.25
    if len(simple) - 1 < 3:  # the tolerance flattened a thin region: evenly spaced points
        simple = ring[np.linspace(0, len(ring) - 1, max_points + 1).astype(int)]
    height, width = mask.shape
    xy = np.clip((simple[:-1, ::-1] + 0.5) / (width, height), 0.0, 1.0)
    return [(float(x), float(y)) for x, y in xy]


def _area(ring: np.ndarray) -> float:
    """The area enclosed by a closed ``(n, 2)`` ring (shoelace formula)."""
    y, x = ring[:, 0], ring[:, 1]
    return abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))) / 2


def outline_path(folder: str | os.PathLike, image_name: str) -> Path:
    """Where :func:`save_outline` keeps the outline of ``image_name``: a safe file name
    (:func:`synovis_lib.synth.to_id`), e.g. ``scans/p 1.png`` -> ``scans_p_1_png.outline.json``."""
    if not isinstance(image_name, str) or not image_name.strip():
        raise ValueError(f"image_name must be a non-empty string, got {image_name!r:.80}")
    return Path(folder) / f"{to_id(image_name, 'image')}{SUFFIX}"


def save_outline(
    folder: str | os.PathLike, image_name: str, points: Iterable[Any], result: GradeResult
) -> Path:
    """Write the outline of ``image_name`` and its grade to ``folder`` (atomically, at
    :func:`outline_path`) and return the path.

    Replaces only synovis's own earlier outline of the same image: ``FileExistsError``
    naming the file if it holds anything else (not an outline, or the outline of another
    image whose name maps to the same file name), which is left as it was.
    """
    path = outline_path(folder, image_name)
    xy = _points(points)
    if path.exists() or path.is_symlink():
        _check_replaceable(path, image_name)
    return files.write_json(
        path,
        {
            "kind": KIND,
            "image": image_name,
            "outline": np.round(xy, 4).tolist(),
            "grade": int(result.grade),
            "explanation": result.explanation,
        },
    )


def _check_replaceable(path: Path, image_name: str) -> None:
    try:
        data = files.read_json(path) if path.stat().st_size <= MAX_OUTLINE_BYTES else None
    except (OSError, ValueError):
        data = None
    if not (isinstance(data, dict) and data.get("kind") == KIND):
        raise FileExistsError(
            f"{path} exists and is not a synovis outline; synovis replaces only its own "
            "outlines: move that file or choose another folder"
        )
    if data.get("image") != image_name:
        raise FileExistsError(
            f"{path} holds the outline of image {data.get('image')!r:.80}, not {image_name!r:.80} "
            "(both names make this file name); choose another folder for one of them"
        )


def load_outline(path: str | os.PathLike) -> tuple[str, list[tuple[float, float]]]:
    """``(image name, points)`` from an outline file :func:`save_outline` wrote; ``ValueError``
    naming the file and the field (and the point's index) for anything invalid."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"outline file {path} does not exist")
    if path.stat().st_size > MAX_OUTLINE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_OUTLINE_BYTES} bytes, not an outline")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: kind must be {KIND!r}, got {found!r:.80}")
    image = data.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ValueError(f"{path}: image must be a non-empty string, got {image!r:.80}")
    if not isinstance(data.get("outline"), list):
        raise ValueError(f"{path}: outline must be a list of [x, y] points")
    xy = _points(data["outline"], where=f"{path}: outline")
    return image, [(float(x), float(y)) for x, y in xy]


def outline_figure(
    image: np.ndarray, points: Iterable[Any], result: GradeResult, title: str = ""
) -> Any:
    """The image with the outline (cyan), the Doppler colour it counts ringed in white, the
    grade in the title and the explanation underneath. Returns the figure."""
    import matplotlib.pyplot as plt

    image = _check_image(image)
    xy = _points(points)
    height, width = image.shape[:2]
    counted = doppler.colour_mask(image) & outline_mask(xy, (height, width))
    text = textwrap.fill(result.explanation, 80)
    fig, ax = plt.subplots(figsize=(6.0, 6.3 + 0.2 * text.count("\n")), layout="constrained")
    ax.imshow(image, extent=(0, 1, 1, 0), interpolation="nearest")
    ring = np.vstack([xy, xy[:1]])
    ax.plot(ring[:, 0], ring[:, 1], color="cyan", linewidth=1.5, label="outline (synovium)")
    if counted.any():
        ax.contour(
            (np.arange(width) + 0.5) / width,
            (np.arange(height) + 0.5) / height,
            counted.astype(float),
            levels=[0.5],
            colors="white",
            linewidths=0.8,
        )
        ax.plot([], [], color="white", linewidth=0.8, label="Doppler colour counted")
    ax.legend(loc="lower right", fontsize=9, facecolor="0.3", labelcolor="white")
    ax.set(xlim=(0, 1), ylim=(1, 0), xticks=[], yticks=[])
    ax.set_title(f"{title}: grade {result.grade}" if title else f"grade {result.grade}")
    ax.set_xlabel(text, fontsize=9, loc="left", multialignment="left")
    return fig


def verdict(result: GradeResult, row: pd.Series) -> str:
    """Sentences comparing the scoring aid's grade of one image with its raters' grades
    (one row of :attr:`synovis_lib.clinic.Cohort.table`) and, for a simulated image, its
    true grade."""

    def known(column: str) -> int | None:
        value = row.get(column)
        return None if value is None or pd.isna(value) else int(value)

    def relation(other: int) -> str:
        gap = result.grade - other
        if gap == 0:
            return "agrees with"
        steps = f"{abs(gap)} grade{'s' if abs(gap) > 1 else ''}"
        return f"is {steps} {'above' if gap > 0 else 'below'}"

    raters = ", ".join(
        f"rater {k} grade {known(f'rater_{k}')}"
        for k in (1, 2, 3)
        if known(f"rater_{k}") is not None
    )
    consensus, truth = known("consensus"), known("true_grade")
    sentences = [
        f"The scoring aid gives {row['image']} grade {result.grade} ({result.rule}). "
        f"The raters gave {raters or 'no grades'}"
        + (
            f"; the aid {relation(consensus)} their consensus, grade {consensus}."
            if consensus is not None
            else "; they reached no consensus."
        )
    ]
    if truth is not None:
        sentences.append(
            f"The image is simulated, so its true grade is known: {truth}; "
            f"the aid {relation(truth)} it."
        )
    return " ".join(sentences)
