"""Reading a clinical image: its power Doppler signal layout and its synovium.

:func:`estimate_layout` finds the ultrasound picture on the screen
(:func:`image_sector`), its Doppler colour (:func:`doppler_colour`), the bone
surface (:func:`bone_line`) and the synovium above it
(:func:`synovium_estimate`), undoes the display's blooming (:func:`unbloom`)
and lists the spots with their position and shape, so that
:mod:`synovis_lib.redraw` can draw new scenes with the same layout.

Taught in ``notebooks/08_error_driven_augmentation.ipynb``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import ndimage

from synovis_lib.doppler import colour_mask
from synovis_lib.grading import GradeResult, grade_from_masks, signal_components

REFERENCE_SIZE = 160
"""Pixel lengths of the heuristics are tuned at this image size and scaled to others."""


@dataclass(frozen=True)
class Spot:
    """One connected Doppler signal inside the estimated synovium."""

    area: int
    """Pixels."""
    fraction: float
    """Share of the estimated synovium area."""
    kind: str
    """The grade checker's class: ``"single"``, ``"confluent"`` or ``"large"``."""
    u: float
    """Position along the synovium, 0 = its proximal (left) end, 1 = its distal end."""
    v: float
    """Depth within the synovium at that position, 0 = its top (capsule), 1 = the bone."""
    elongation: float
    """Long axis / short axis of the spot (1 = round)."""
    angle: float
    """Direction of the long axis in degrees (0 = horizontal, positive = clockwise)."""


@dataclass(frozen=True)
class DopplerLayout:
    """What :func:`estimate_layout` read from one clinical image."""

    colour: np.ndarray
    """bool (H, W): Doppler signal inside the image sector (overlays and specks removed,
    blooming undone by :func:`unbloom`)."""
    synovium: np.ndarray
    """bool (H, W): the estimated synovium."""
    bone: np.ndarray
    """(W,) row of the bone surface per column (-1 where none was found)."""
    spots: tuple[Spot, ...]
    grade: GradeResult
    """:func:`synovis_lib.grading.grade_from_masks` of ``colour`` within ``synovium``."""

    @property
    def n_spots(self) -> int:
        return len(self.spots)

    def table(self) -> pd.DataFrame:
        """One row per spot (area, fraction, kind, position, shape)."""
        columns = [f.name for f in dataclasses.fields(Spot)]
        return pd.DataFrame([dataclasses.asdict(s) for s in self.spots], columns=columns)


def _scale(image: np.ndarray) -> float:
    return image.shape[0] / REFERENCE_SIZE


def doppler_colour(image: np.ndarray) -> np.ndarray:
    """Pixels painted in power Doppler colour (:func:`synovis_lib.doppler.colour_mask`),
    after checking that ``image`` is one RGB uint8 picture."""
    _check_image(image)
    return colour_mask(image)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(
            f"image must be a uint8 NumPy array (H, W, 3), not {type(image).__name__} "
            f"of {getattr(image, 'dtype', '?')}"
        )
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must have shape (H, W, 3), not {image.shape}")
    if min(image.shape[:2]) < 32:
        raise ValueError(f"image must be at least 32 x 32 pixels, got {image.shape[:2]}")


def image_sector(image: np.ndarray) -> np.ndarray:
    """The rectangle of the screen that holds the ultrasound picture.

    A screenshot puts the picture on a black screen, with the colour bar, depth
    marks and focus marker beside it: rows and columns in which more than a
    third of the pixels are not black belong to the picture.
    """
    lit = image.max(axis=-1) > 6
    rows = np.flatnonzero(lit.mean(axis=1) > 0.35)
    cols = np.flatnonzero(lit.mean(axis=0) > 0.35)
    sector = np.zeros(lit.shape, dtype=bool)
    if rows.size and cols.size:
        sector[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
    return sector


def _smooth_grey(image: np.ndarray, ignore: np.ndarray, sigma: float) -> np.ndarray:
    """Grey level smoothed over the pixels not in ``ignore`` (normalised convolution)."""
    grey = image.astype(np.float32).mean(axis=-1)
    keep = (~ignore).astype(np.float32)
    num = ndimage.gaussian_filter(grey * keep, sigma)
    den = ndimage.gaussian_filter(keep, sigma)
    return np.where(den > 0.05, num / np.maximum(den, 1e-6), 0.0)


def bone_line(grey: np.ndarray, sector: np.ndarray, scale: float) -> np.ndarray:
    """Row of the bone surface in each column: the brightest echo with a dark shadow below.

    Score per pixel = its smoothed grey level minus the mean of the few rows
    beneath it (bone is bright, its acoustic shadow dark); the best score in
    the lower 70 % of the picture wins, and a median filter smooths the line.
    Columns whose score is weak (under half the median) get -1.
    """
    h, w = grey.shape
    rows = np.flatnonzero(sector.any(axis=1))
    cols = np.flatnonzero(sector.any(axis=0))
    line = np.full(w, -1, dtype=np.intp)
    if rows.size < 8 or cols.size < 8:
        return line
    near, far = max(1, round(2 * scale)), max(3, round(10 * scale))
    total = np.vstack([np.zeros((1, w)), np.cumsum(grey, axis=0)])
    idx = np.arange(h)
    lo, hi = np.clip(idx + near, 0, h), np.clip(idx + far, 0, h)
    below = (total[hi] - total[lo]) / np.maximum(hi - lo, 1)[:, None]
    score = grey - below
    top, bottom = rows[0], rows[-1]
    score[: top + int(0.3 * (bottom - top))] = -np.inf
    score[max(0, bottom - near) :] = -np.inf
    best = np.argmax(score, axis=0)
    strength = score[best, np.arange(w)]
    ok = np.zeros(w, dtype=bool)
    ok[cols] = True
    ok &= strength > 0.5 * np.median(strength[cols])
    smooth = ndimage.median_filter(best, size=max(3, round(7 * scale)) | 1)
    line[ok] = smooth[ok]
    return line


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of ``values`` (64 bins); written out because scikit-image is not
    a dependency and this is the only place it would be used."""
    hist, edges = np.histogram(values, bins=64)
    p = hist / max(1, hist.sum())
    centres = (edges[:-1] + edges[1:]) / 2
    w = np.cumsum(p)
    mu = np.cumsum(p * centres)
    between = (mu[-1] * w - mu) ** 2 / np.maximum(w * (1 - w), 1e-12)
    return float(centres[np.argmax(between)])


def synovium_estimate(
    grey: np.ndarray, colour: np.ndarray, bone: np.ndarray, sector: np.ndarray, scale: float
) -> np.ndarray:
    """The hypoechoic recess above the bone line: a documented heuristic, not a segmentation.

    In each column with a bone line, walk up from the bone: skip the bright
    cortex and cartilage rim (at most a few pixels), then take every pixel
    that is darker than an Otsu threshold (computed on the band above the bone)
    or shows Doppler colour, up to the first bright pixel (capsule or tendon).
    Runs shorter than two pixels are dropped; of the connected pieces, those
    at least a fifth the size of the largest are kept, closed and filled.
    Vessels in the tendon or subcutis lie above the bright tendon and so stay
    outside, as the scoring rules demand.
    """
    h, w = grey.shape
    rows = np.flatnonzero(sector.any(axis=1))
    synovium = np.zeros((h, w), dtype=bool)
    cols = np.flatnonzero(bone >= 0)
    if rows.size == 0 or cols.size == 0:
        return synovium
    top = rows[0]
    reach = int(0.3 * (rows[-1] - top))
    z = np.arange(h)[:, None]
    band = (z < bone[None, :]) & (z > bone[None, :] - reach) & (bone >= 0)[None, :] & sector
    if band.sum() < 10:
        return synovium
    dark = (grey < _otsu(grey[band])) | colour
    max_rim = max(3, round(8 * scale))
    rim = np.zeros(w, dtype=np.intp)
    thickness = np.zeros(w, dtype=np.intp)
    for c in cols:
        r = bone[c] - 1
        while r > top and not dark[r, c] and bone[c] - 1 - r < max_rim:
            r -= 1
        start = r
        while r > top and dark[r, c] and start - r < reach:
            r -= 1
        if start - r >= 2:
            rim[c], thickness[c] = bone[c] - start, start - r
    width = max(3, round(9 * scale)) | 1
    thickness = ndimage.median_filter(thickness, size=width)
    found = thickness > 0
    if not found.any():
        return synovium
    offset = int(np.median(rim[found]))
    low = bone - offset
    synovium = (z <= low[None, :]) & (z > (low - thickness)[None, :]) & found[None, :]
    labels, n = ndimage.label(synovium)
    if n > 1:
        sizes = ndimage.sum(synovium, labels, range(1, n + 1))
        synovium = labels == 1 + int(np.argmax(sizes))
    return synovium & sector


def _spot_shape(mask: np.ndarray) -> tuple[float, float]:
    """Elongation and long-axis angle (degrees) from the spot's second moments."""
    ys, xs = np.nonzero(mask)
    if ys.size < 3:
        return 1.0, 0.0
    cov = np.cov(np.vstack([xs, ys]))
    values, vectors = np.linalg.eigh(cov)
    long = vectors[:, 1]
    elongation = float(np.sqrt(max(values[1], 1e-6) / max(values[0], 1e-6)))
    return min(elongation, 4.0), float(np.degrees(np.arctan2(long[1], long[0])))


def _relative_position(synovium: np.ndarray, y: float, x: float) -> tuple[float, float]:
    """(u, v) of pixel (y, x): along the synovium's horizontal extent, and depth in its column."""
    cols = np.flatnonzero(synovium.any(axis=0))
    u = (x - cols[0]) / max(1, cols[-1] - cols[0])
    c = int(np.clip(round(x), cols[0], cols[-1]))
    rows = np.flatnonzero(synovium[:, c])
    if rows.size == 0:
        nearest = cols[np.argmin(np.abs(cols - c))]
        rows = np.flatnonzero(synovium[:, nearest])
    v = (y - rows[0]) / max(1, rows[-1] - rows[0])
    return float(np.clip(u, 0, 1)), float(np.clip(v, 0, 1))


def estimate_layout(image: np.ndarray) -> DopplerLayout:
    """Read the Doppler signal layout and the synovium of one clinical screenshot.

    1. colour: :func:`doppler_colour` inside :func:`image_sector` (so the colour
       bar and focus marker beside the picture never count); components smaller
       than 3 px at 160 px (scaled with the image) are colour noise and dropped;
    2. bone: :func:`bone_line`; synovium: :func:`synovium_estimate`; the
       colour is shrunk back towards the vessels by :func:`unbloom`;
    3. spots: the colour components inside the synovium, each with its share of
       the synovium, the grade checker's class, its position relative to the
       synovium and its shape; the estimated grade is
       :func:`synovis_lib.grading.grade_from_masks` of colour and synovium.

    A heuristic, tuned on simulated screenshots (its accuracy is measured in
    ``tests/test_second_model.py`` and notebook 08); on real images check it by eye
    with :func:`plot_layout`. Taught in notebook 08.
    """
    _check_image(image)
    scale = _scale(image)
    sector = image_sector(image)
    colour = doppler_colour(image) & sector
    labels, n = ndimage.label(colour, structure=np.ones((3, 3), dtype=bool))
    if n:
        sizes = ndimage.sum(colour, labels, range(1, n + 1))
        colour = np.isin(labels, 1 + np.flatnonzero(sizes >= max(1.0, 3 * scale * scale)))
    grey = _smooth_grey(image, colour | ~sector, max(0.7, scale))
    bone = bone_line(grey, sector, scale)
    synovium = synovium_estimate(grey, colour, bone, sector, scale)
    signal = unbloom(colour, max(1, round(0.8 * scale)))
    result = grade_from_masks(signal, synovium)
    return DopplerLayout(signal, synovium, bone, _spots(signal, synovium), result)


def unbloom(colour: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Undo the Doppler display's blooming: erode the colour by ``iterations`` pixels.

    A power Doppler display paints colour beyond the vessel (the Doppler
    point spread function and the gain), so spots look larger and close
    neighbours merge; read naively, grade-1 spots turn into confluent ones.
    A spot that erosion would wipe out is kept as it is (small spots are
    single spots either way).
    """
    structure = np.ones((3, 3), dtype=bool)
    eroded = ndimage.binary_erosion(colour, structure, iterations=iterations)
    labels, n = ndimage.label(colour, structure=structure)
    if n == 0:
        return colour
    survives = ndimage.maximum(eroded, labels, range(1, n + 1)).astype(bool)
    return eroded | np.isin(labels, 1 + np.flatnonzero(~survives))


def _spots(colour: np.ndarray, synovium: np.ndarray) -> tuple[Spot, ...]:
    labels, components = signal_components(colour, synovium)
    spots = []
    for comp in components:
        mask = labels == comp.label
        y, x = ndimage.center_of_mass(mask)
        u, v = _relative_position(synovium, y, x)
        elongation, angle = _spot_shape(mask)
        spots.append(Spot(comp.area, comp.fraction, comp.kind, u, v, elongation, angle))
    return tuple(spots)


def plot_layout(image: np.ndarray, layout: DopplerLayout, ax=None, title: str = ""):
    """The image with what :func:`estimate_layout` read: synovium (cyan), colour kept
    (white outline) and the bone line (magenta)."""
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    ax.imshow(image)
    if layout.synovium.any():
        ax.contour(layout.synovium, [0.5], colors="cyan", linewidths=1)
    if layout.colour.any():
        ax.contour(layout.colour, [0.5], colors="white", linewidths=0.6)
    columns = np.flatnonzero(layout.bone >= 0)
    ax.plot(columns, layout.bone[columns], ",", color="magenta")
    g = layout.grade
    ax.set_title(
        title
        or f"read as grade {g.grade}: {g.n_single} single, {g.n_confluent} confluent, "
        f"{g.n_large} large",
        fontsize=8,
    )
    ax.axis("off")
    return ax
