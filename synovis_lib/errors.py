"""Error analysis and the study's second model, done so that nothing leaks.

The study looked at what its initial model got wrong on the clinical images,
chose misclassified grade-1 images that the model called grade 2, drew five new
artificial images modelled on one of them, and trained a second model on the
original 870 plus those five. This module does each step, and keeps the
choice of the source image away from the images the two models are compared on:

1. :func:`split_by_patient` splits the clinical cohort by patient into a
   development part and a held-out part;
2. :func:`misclassified` and :func:`plot_error_gallery` show the errors on the
   development part; :func:`choose_sources` picks the source image(s) there;
3. :func:`estimate_layout` reads a clinical image's Doppler signal layout and
   synovium, and :func:`model_after` builds new scenes in the layered format of
   :mod:`synovis_lib.synth` that keep that layout, each confirmed by the grade
   checker; :func:`new_images` renders them as a training set;
4. :func:`second_model_for` trains the second model (same options, same seeds)
   on original + new images, and :func:`compare_models` compares both models
   on the held-out part only (confusion matrices, per-grade table, grade-1 AUC
   and weighted kappa with CIs, McNemar's test) over the trials.

Taught in ``notebooks/08_error_driven_augmentation.ipynb``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import rgb_to_hsv
from scipy import ndimage

from synovis_lib.grading import (
    GradeResult,
    grade_from_counts,
    grade_from_masks,
    load_rules,
    signal_components,
)

N_GRADES = 4

# --------------------------------------------------------------------------- reading a clinical image

COLOUR_MIN_SATURATION = 0.35
COLOUR_MIN_VALUE = 0.15
COLOUR_HUES = (0.95, 0.19)
"""Power Doppler hues (as fractions of the colour circle): from magenta-red through red,
orange and yellow (wrapping through 0)."""
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
    """Pixels painted in power Doppler colour: saturated red, orange or yellow (HSV).

    The B-mode picture is grey (or slightly tinted, saturation well below
    :data:`COLOUR_MIN_SATURATION`); power Doppler is drawn from dark red to yellow.
    """
    _check_image(image)
    hsv = rgb_to_hsv(image.astype(np.float32) / 255.0)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red_to_yellow = (hue >= COLOUR_HUES[0]) | (hue <= COLOUR_HUES[1])
    return (sat > COLOUR_MIN_SATURATION) & (val > COLOUR_MIN_VALUE) & red_to_yellow


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
    ``tests/test_errors.py`` and notebook 08); on real images check it by eye
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
    import matplotlib.pyplot as plt

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


# --------------------------------------------------------------------------- new scenes

BUILD_SIZE = 224
"""Scenes are laid out and checked at this size (the study's input size)."""
MAX_TRIES = 60


def fit_to_grade(spots: tuple[Spot, ...], grade: int) -> tuple[tuple[Spot, ...], str]:
    """Make a layout read as ``grade`` by removing or shrinking signal, never adding any.

    Raters and pixels disagree (blooming widens spots, small ones merge), so a
    clinical image graded 1 by its raters may *read* as grade 2. The new
    images are labelled with the raters' grade, so their layout must show it:

    - grade 0: no spots;
    - grade 1: a region "large" for the rules is shrunk to a confluent spot;
      then the largest spots allowed by the grade-1 rules are kept (one
      confluent spot and up to two single spots, two confluent spots, or up to
      three single spots);
    - grade 2: spots are shrunk in proportion until they cover under half of
      the synovium.

    Returns the spots and a note saying what changed ("" when nothing did).
    Raises ``ValueError`` when the layout reads *below* ``grade`` (signal would
    have to be invented).
    """
    if grade not in range(N_GRADES):
        raise ValueError(f"grade must be 0..3, got {grade!r}")
    rules = load_rules()
    current = _layout_grade(spots)
    if current == grade:
        return spots, ""
    if current < grade:
        raise ValueError(
            f"the layout reads as grade {current}, below the wanted grade {grade}; "
            "model_after only removes or shrinks signal (choose another source image)"
        )
    if grade == 0:
        return (), f"all {len(spots)} spots removed for grade 0"
    if grade == 2:
        total = sum(s.fraction for s in spots)
        factor = 0.45 / total
        shrunk = tuple(
            dataclasses.replace(s, fraction=s.fraction * factor, area=round(s.area * factor))
            for s in spots
        )
        return shrunk, f"spots shrunk to {factor:.0%} of their size to cover under half"
    confluent_cap = 0.5 * (rules.confluent_min_fraction + rules.large_region_fraction)
    resized = [
        dataclasses.replace(s, fraction=min(s.fraction, confluent_cap), kind="confluent")
        if s.kind == "large"
        else s
        for s in spots
    ]
    confluent = sorted((s for s in resized if s.kind == "confluent"), key=lambda s: -s.fraction)
    single = sorted((s for s in resized if s.kind == "single"), key=lambda s: -s.fraction)
    if confluent and single:
        kept = confluent[:1] + single[: rules.max_single_with_one_confluent]
    elif confluent:
        kept = confluent[: rules.max_confluent_alone]
    else:
        kept = single[: rules.max_single_alone]
    note = f"kept the {len(kept)} largest of {len(spots)} spots that grade 1 allows"
    if any(s.kind == "large" for s in spots):
        note += " (a large region shrunk to a confluent spot)"
    return tuple(kept), note


def _layout_grade(spots: tuple[Spot, ...]) -> int:
    """The grade the rules give a list of spots (from their kinds and total coverage)."""
    kinds = [s.kind for s in spots]
    return grade_from_counts(
        kinds.count("single"),
        kinds.count("confluent"),
        kinds.count("large"),
        sum(s.fraction for s in spots),
    )


@dataclass(frozen=True)
class _Recess:
    """Where a scene's synovium lies at :data:`BUILD_SIZE`: its columns and each one's rows."""

    mask: np.ndarray
    cols: np.ndarray
    top: np.ndarray
    bottom: np.ndarray

    @classmethod
    def of(cls, scene) -> _Recess:
        from synovis_lib.synth import render

        mask = render(scene.with_vessels([]), BUILD_SIZE).synovium
        cols = np.flatnonzero(mask.any(axis=0))
        if cols.size < 4:
            raise ValueError(f"scene {scene.id!r} has no synovium to place vessels in")
        top = np.array([np.flatnonzero(mask[:, c])[0] for c in cols])
        bottom = np.array([np.flatnonzero(mask[:, c])[-1] for c in cols])
        return cls(mask, cols, top, bottom)

    def place(self, u: float, v: float) -> tuple[float, float]:
        """Pixel (x, y) at relative position (u along, v deep)."""
        x = self.cols[0] + float(np.clip(u, 0, 1)) * (self.cols[-1] - self.cols[0])
        k = int(np.argmin(np.abs(self.cols - x)))
        y = self.top[k] + float(np.clip(v, 0, 1)) * (self.bottom[k] - self.top[k])
        return x, y


def _vessels_for(spots, recess: _Recess, rng: np.random.Generator, jitter: float):
    from synovis_lib.synth import Vessel

    area = float(recess.mask.sum())
    vessels = []
    for spot in spots:
        u = spot.u + rng.uniform(-jitter, jitter)
        v = spot.v + rng.uniform(-jitter, jitter)
        x, y = recess.place(u, v)
        pixels = spot.fraction * area * rng.uniform(1 - jitter, 1 + jitter)
        ry = np.sqrt(pixels / (np.pi * spot.elongation))
        rx = spot.elongation * ry
        vessels.append(
            Vessel(
                x=float(np.clip((x + 0.5) / BUILD_SIZE, 0, 1)),
                y=float(np.clip((y + 0.5) / BUILD_SIZE, 0, 1)),
                rx=float(np.clip(rx / BUILD_SIZE, 0.5 / BUILD_SIZE, 0.5)),
                ry=float(np.clip(ry / BUILD_SIZE, 0.5 / BUILD_SIZE, 0.5)),
                kind="spot" if spot.kind == "single" else "confluent",
                intensity=float(rng.uniform(0.75, 1.0)),
                angle=float(spot.angle),
            )
        )
    return vessels


def model_after(
    image: np.ndarray,
    n: int = 5,
    seed: int = 0,
    grade: int | None = None,
    source: str = "clinical image",
) -> list:
    """``n`` new scenes (:class:`synovis_lib.synth.Scene`) modelled on one clinical image.

    The image's layout is read by :func:`estimate_layout` (and, when ``grade``
    is given, made to show it by :func:`fit_to_grade`). Each new scene takes
    the joint of a basic scene of that grade (in turn) and places one vessel
    per spot at the spot's position *relative to the synovium* (along it and in
    depth), scaled to the scene's recess so that each keeps its share of the
    synovium and its shape. Every scene after the first moves and resizes the
    spots slightly (``seed``), so the images differ. A scene is kept only if
    :func:`synovis_lib.grading.grade_from_masks` gives it the intended grade
    with the same number of spots; up to 60 draws per scene, then
    ``RuntimeError``. Open them in the drawing studio with
    ``synovis_lib.widgets.drawing_studio(scene)``. Taught in notebook 08.
    """
    from synovis_lib.synth import load_basic_scenes, render

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    layout = estimate_layout(image)
    target = layout.grade.grade if grade is None else int(grade)
    spots, note = fit_to_grade(layout.spots, target)
    bases = [s for s in load_basic_scenes() if s.grade == target]
    recesses = [_Recess.of(b) for b in bases]
    rng = np.random.default_rng(seed)
    scenes = []
    for k in range(n):
        base, recess = bases[k % len(bases)], recesses[k % len(bases)]
        for attempt in range(MAX_TRIES):
            jitter = 0.0 if k == 0 and attempt == 0 else min(0.04 + 0.005 * attempt, 0.2)
            vessels = _vessels_for(spots, recess, rng, jitter)
            scene = base.with_vessels(vessels)
            rendered = render(scene, BUILD_SIZE)
            result = grade_from_masks(rendered.vascular, rendered.synovium)
            counted = result.n_single + result.n_confluent + result.n_large
            if result.grade == target and counted == len(spots):
                break
        else:
            raise RuntimeError(
                f"no scene on basic scene {base.id!r} kept grade {target} with {len(spots)} "
                f"spots in {MAX_TRIES} draws"
            )
        description = (
            f"Modelled after {source}: {len(spots)} spot(s) at their places in the synovium, "
            f"drawn on basic scene {base.id}" + (f"; {note}" if note else "") + "."
        )
        scenes.append(
            dataclasses.replace(
                scene,
                id=f"after_{_slug(source)}_{k + 1}",
                grade=target,
                description=description,
            )
        )
    return scenes


def _slug(text: str) -> str:
    stem = text.rsplit(".", 1)[0]
    return "".join(c if c.isalnum() else "_" for c in stem).strip("_") or "image"


def drawn_on(scene) -> str:
    """The basic scene whose joint tissue and bone layers ``scene`` uses ("" if none)."""
    from synovis_lib.synth import load_basic_scenes

    for base in load_basic_scenes():
        if (base.joint_tissue, base.bone_surface) == (scene.joint_tissue, scene.bone_surface):
            return base.id
    return ""


def new_images(scenes, size: int, source: str = "", seed: int = 0):
    """Render new scenes as a :class:`synovis_lib.synth.TrainingSet` of ``size`` pixels.

    Rendered at ``max(size, 64)`` and reduced with a box filter, as the
    generator does; the provenance names the basic scene each was drawn on
    (so the group-aware CV keeps them with their drawing) and the source image.
    """
    from PIL import Image

    from synovis_lib.synth import CHECK_MIN_SIZE, TrainingSet, render

    images = np.empty((len(scenes), size, size, 3), dtype=np.uint8)
    rows = []
    for k, scene in enumerate(scenes):
        rendered = render(scene, max(size, CHECK_MIN_SIZE))
        rgb = rendered.rgb
        if rgb.shape[0] != size:
            rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BOX))
        images[k] = rgb
        result = grade_from_masks(rendered.vascular, rendered.synovium)
        rows.append(
            {
                "id": scene.id,
                "grade": scene.grade,
                "basic_scene": drawn_on(scene),
                "modifications": json.dumps({"modelled_after": source}),
                "seed": seed,
                "attempts": 1,
                "n_single": result.n_single,
                "n_confluent": result.n_confluent,
                "n_large": result.n_large,
                "coverage": round(result.coverage, 4),
            }
        )
    provenance = pd.DataFrame(rows)
    return TrainingSet(images, provenance["grade"].to_numpy(np.int64), provenance)


def combine(*sets):
    """Training sets one after another (images, labels and provenance)."""
    from synovis_lib.synth import TrainingSet

    return TrainingSet(
        np.concatenate([s.images for s in sets]),
        np.concatenate([s.labels for s in sets]).astype(np.int64),
        pd.concat([s.provenance for s in sets], ignore_index=True),
    )


def placebo_set(training_set, extra, seed: int = 0):
    """A control for ``extra``: as many images of the same grades, copied from ``training_set``.

    Training on original + placebo changes the training set exactly as much as
    the new images do (count, grades, the shuffled order of every epoch) but
    adds no new information, so the gap between the initial and the placebo
    model is the yardstick for the gap between the initial and the second
    model. Not in the study. Taught in notebook 08.
    """
    from synovis_lib.synth import TrainingSet

    rng = np.random.default_rng(seed)
    picks = []
    for grade in extra.labels:
        pool = np.setdiff1d(np.flatnonzero(training_set.labels == grade), picks)
        if not len(pool):
            raise ValueError(f"the training set has no unused image of grade {grade} to copy")
        picks.append(int(rng.choice(pool)))
    provenance = training_set.provenance.iloc[picks].reset_index(drop=True)
    provenance["modifications"] = "placebo copy of " + provenance["id"].astype(str)
    return TrainingSet(training_set.images[picks], training_set.labels[picks], provenance)


# --------------------------------------------------------------------------- selection without peeking


@dataclass(frozen=True)
class PatientSplit:
    """The clinical cohort split by patient: a development part and a held-out part."""

    dev: np.ndarray
    """Row positions (in the cohort's order) of the development images."""
    held_out: np.ndarray
    """Row positions of the held-out images."""
    table: pd.DataFrame
    """The cohort's table with a ``part`` column (``"dev"`` or ``"held-out"``)."""

    def counts(self) -> pd.DataFrame:
        """Images and patients per part, and images per consensus grade."""
        table = self.table
        grades = pd.crosstab(table["part"], table["consensus"].astype("Int64"))
        grades.columns = [f"grade {g}" for g in grades.columns]
        out = grades.assign(
            images=table.groupby("part").size(),
            patients=table.groupby("part")["patient_id"].nunique(),
        )
        return out.loc[["dev", "held-out"]]

    def shared_patients(self) -> set[str]:
        """Patients with images in both parts (empty by construction)."""
        ids = self.table["patient_id"].astype(str).to_numpy()
        return set(ids[self.dev]) & set(ids[self.held_out])


def split_by_patient(cohort, dev_fraction: float = 0.5, seed: int = 0) -> PatientSplit:
    """Split a :class:`synovis_lib.clinic.Cohort` by patient, stratified by consensus grade.

    All images of a patient go to the same part (a patient's joints resemble
    each other: choosing a source image from a patient whose other joints are
    in the test part would leak). :class:`~sklearn.model_selection.StratifiedGroupKFold`
    with ``k = round(1 / dev_fraction)`` folds keeps the grade proportions as
    far as whole patients allow; one fold is the development part (so
    ``dev_fraction`` is used as 1/k: 0.5, 0.33, 0.25, ...). Images without a
    consensus are stratified as a class of their own.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0 < dev_fraction <= 0.5:
        raise ValueError(f"dev_fraction must be in (0, 0.5], got {dev_fraction}")
    table = cohort.table.reset_index(drop=True)
    for column in ("patient_id", "consensus"):
        if column not in table:
            raise ValueError(f"the cohort table has no {column!r} column")
    k = max(2, round(1 / dev_fraction))
    strata = table["consensus"].astype("Int64").fillna(-1).to_numpy(dtype=int)
    patients = table["patient_id"].astype(str).to_numpy()
    if len(set(patients)) < k:
        raise ValueError(f"{len(set(patients))} patients cannot be split into {k} parts")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    _, dev = next(splitter.split(np.zeros(len(table)), strata, patients))
    dev = np.sort(dev)
    held = np.setdiff1d(np.arange(len(table)), dev)
    part = np.where(np.isin(np.arange(len(table)), dev), "dev", "held-out")
    return PatientSplit(dev, held, table.assign(part=part))


def misclassified(
    table: pd.DataFrame, predicted, rows=None, truth: str = "consensus"
) -> pd.DataFrame:
    """The misclassified images: one row each (position, image, patient, true, predicted,
    probability of the predicted grade), sorted by (true, predicted).

    ``predicted`` is ``(N,)`` grades or ``(N, 4)`` probabilities in the table's
    order; ``rows`` restricts the analysis to those positions (e.g. the
    development part of a :class:`PatientSplit`); ``position`` is always the
    row in ``table``. Images without a ``truth`` grade are left out.
    """
    probs = np.asarray(predicted)
    grades = probs.argmax(axis=1) if probs.ndim == 2 else probs.astype(int)
    if len(grades) != len(table):
        raise ValueError(f"{len(grades)} predictions for {len(table)} table rows")
    true = table[truth].astype("Int64")
    frame = pd.DataFrame(
        {
            "position": np.arange(len(table)),
            "image": table["image"].to_numpy(),
            "patient_id": table["patient_id"].to_numpy(),
            "true": true.to_numpy(),
            "predicted": grades,
        }
    )
    if probs.ndim == 2:
        frame["probability"] = probs[np.arange(len(probs)), grades]
    wrong = true.notna().to_numpy() & (frame["true"].fillna(-1).to_numpy() != grades)
    if rows is not None:
        wrong &= np.isin(np.arange(len(table)), np.asarray(rows, dtype=int))
    return frame[wrong].sort_values(["true", "predicted", "position"]).reset_index(drop=True)


def error_pairs(errors: pd.DataFrame) -> pd.DataFrame:
    """How many misclassified images per (true, predicted) pair, most frequent first."""
    counts = errors.groupby(["true", "predicted"]).size().rename("images").reset_index()
    return counts.sort_values("images", ascending=False).reset_index(drop=True)


def reading_cohort(profile, cohort=None):
    """The cohort whose images are *read* (layouts, new drawings): at least ``REFERENCE_SIZE`` px.

    The model sees the clinical images at the profile's size (64 px in
    ``quick``), where a Doppler spot is a pixel or two; the study's
    rheumatologist drew from the full-size image. For the simulated cohort this
    renders the same cohort (same seed, same table, checked) at
    ``max(size, REFERENCE_SIZE)``; a user's cohort (:func:`synovis_lib.clinic.load_clinic`)
    is returned as it is. Taught in notebook 08.
    """
    from synovis_lib.clinic import cohort_for

    if cohort is not None and cohort.source != "simulated":
        return cohort
    size = profile.clinic_size or profile.image_size
    reading = cohort_for(dataclasses.replace(profile, clinic_size=max(size, REFERENCE_SIZE)))
    if cohort is not None and not reading.table.equals(cohort.table):
        raise ValueError(
            "the cohort is not the profile's simulated cohort (its table differs); "
            "pass the cohort whose images should be read"
        )
    return reading


def choose_sources(
    errors: pd.DataFrame,
    images: np.ndarray,
    n: int = 1,
    seed: int = 0,
    true: int = 1,
    predicted: int = 2,
) -> pd.DataFrame:
    """Pick ``n`` source images among the errors ``true -> predicted`` (the study: 1 -> 2).

    ``errors`` comes from :func:`misclassified` on the *development* part and
    ``errors.position`` indexes ``images`` (the cohort's images). The
    study chose at random; here the choice is random (``seed``) within the
    best available tier of candidates:

    1. the layout (:func:`estimate_layout`) reads as the true grade (the new
       images can copy it as it is);
    2. it reads above the true grade (:func:`fit_to_grade` trims it);

    images whose layout reads *below* the true grade cannot be modelled (that
    would invent signal). If no ``true -> predicted`` error qualifies, the
    other errors of true grade ``true`` are used, and the ``note`` column says
    so. Returns the chosen rows with ``read_as``, ``spots`` and ``note``;
    raises ``ValueError`` when nothing qualifies.
    """
    focus = errors[errors["true"] == true]
    pair = focus[focus["predicted"] == predicted]
    for pool, note in ((pair, ""), (focus, f"no usable {true} -> {predicted} error")):
        candidates = pool.copy()
        if candidates.empty:
            continue
        layouts = [estimate_layout(images[p]) for p in candidates["position"]]
        candidates["read_as"] = [layout.grade.grade for layout in layouts]
        candidates["spots"] = [layout.n_spots for layout in layouts]
        candidates["note"] = note
        for tier in (candidates["read_as"] == true, candidates["read_as"] > true):
            options = candidates[tier.to_numpy()]
            if len(options):
                rng = np.random.default_rng(seed)
                chosen = rng.choice(len(options), size=min(n, len(options)), replace=False)
                return options.iloc[np.sort(chosen)].reset_index(drop=True)
    raise ValueError(
        f"no misclassified image of true grade {true} whose layout can be modelled "
        f"({len(pair)} {true} -> {predicted} errors, {len(focus)} errors of grade {true})"
    )


def plot_error_gallery(trained, images: np.ndarray, errors: pd.DataFrame, limit: int = 8):
    """Misclassified images with the Grad-CAM of the grade the model gave them.

    ``trained`` is a :class:`synovis_lib.train.TrainedModel`; ``errors`` rows
    (from :func:`misclassified`) index ``images`` by ``position``.
    """
    from synovis_lib.explain import gradcam, plot_gradcam

    rows = errors.head(limit)
    if rows.empty:
        raise ValueError("no misclassified images to show")
    picked = images[rows["position"].to_numpy()]
    heat = gradcam(
        trained.model,
        picked,
        target=[int(p) for p in rows["predicted"]],
        image_size=trained.options.image_size,
    )
    titles = [f"{r.image}\ntrue {r.true} -> predicted {r.predicted}" for r in rows.itertuples()]
    return plot_gradcam(picked, heat, titles, ncols=min(4, len(rows)))


# --------------------------------------------------------------------------- the second model


def initial_model_for(profile, trial: int = 0):
    """The initial model of ``trial`` (:func:`synovis_lib.train.train_for` on the profile's
    artificial training set with its default validation set; cached, so notebook 05's
    models are reused)."""
    from synovis_lib.train import train_for

    return train_for(profile, None, trial, progress=False)


def second_model_for(profile, extra, trial: int = 0):
    """The second model of ``trial``: trained on the profile's training set plus ``extra``
    (a :class:`synovis_lib.synth.TrainingSet`), with the same options and the same seed as
    the initial model of that trial. Cached by the data's fingerprint."""
    from synovis_lib.synth import training_set_for
    from synovis_lib.train import train_for

    return train_for(profile, combine(training_set_for(profile), extra), trial, progress=False)


@dataclass
class Comparison:
    """The initial and the second model on the same images, trial by trial."""

    per_trial: pd.DataFrame
    """One row per (trial, model): accuracy, linear weighted kappa with CI, focus-grade AUC
    with CI (DeLong)."""
    mcnemar: pd.DataFrame
    """One row per trial: the discordant counts and McNemar's statistic and p-value."""
    confusions: dict[str, np.ndarray]
    """Model name -> ``(trials, 4, 4)`` confusion tables."""
    focus_grade: int = 1
    n_images: int = 0

    def summary(self) -> pd.DataFrame:
        """Mean ± sd over trials of each measure, one column per model."""
        numeric = self.per_trial.drop(columns="trial")
        grouped = numeric.groupby("model", sort=False)
        mean, sd = grouped.mean(), grouped.std(ddof=1)
        text = mean.map(lambda v: f"{v:.3f}")
        if len(self.per_trial["trial"].unique()) > 1:
            text = mean.map(lambda v: f"{v:.3f}") + " ± " + sd.map(lambda v: f"{v:.3f}")
        return text.T

    def grade_table(self, trial: int | None = None) -> pd.DataFrame:
        """Per-grade accuracy, precision, recall, F1 and specificity of both models side by
        side, for one trial or (``None``) from the tables summed over trials."""
        from synovis_lib.metrics import grade_report

        columns = ["accuracy", "precision", "recall", "f1", "specificity", "support"]
        parts = {}
        for model, tables in self.confusions.items():
            table = tables.sum(axis=0) if trial is None else tables[trial]
            parts[model] = grade_report(table)[columns]
        return pd.concat(parts, axis=1)

    def plot(self, trial: int | None = 0):
        """The two confusion tables side by side (one trial, or summed over trials)."""
        import matplotlib.pyplot as plt

        from synovis_lib.plots import plot_confusion

        fig, axes = plt.subplots(1, len(self.confusions), figsize=(8.6, 3.8), layout="constrained")
        for ax, (model, tables) in zip(np.atleast_1d(axes), self.confusions.items(), strict=True):
            table = tables.sum(axis=0) if trial is None else tables[trial]
            which = "all trials" if trial is None else f"trial {trial}"
            plot_confusion(table, title=f"{model} model ({which})", ax=ax)
        return fig


def compare_models(
    y_true,
    first,
    second,
    names: tuple[str, str] = ("initial", "second"),
    focus_grade: int = 1,
    weights: str = "linear",
) -> Comparison:
    """Compare two models on the same images over trials.

    ``first`` and ``second`` are lists (one entry per trial) of ``(N, 4)``
    probabilities or ``(N,)`` grades; trial ``t`` of one is paired with trial
    ``t`` of the other (same seed). Per trial and model: accuracy, weighted kappa
    with its 95 % CI (:func:`synovis_lib.metrics.weighted_kappa`) and, from
    probabilities, the focus grade's one-vs-rest AUC with DeLong CI; per trial,
    McNemar's test of the paired correct/wrong outcomes
    (:func:`synovis_lib.metrics.mcnemar`). Taught in notebook 08.
    """
    from synovis_lib import metrics

    y = metrics.grade_labels(y_true, "y_true")
    if len(first) != len(second) or not len(first):
        raise ValueError(f"need the same number of trials, got {len(first)} and {len(second)}")
    rows, tests = [], []
    confusions: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for trial, outputs in enumerate(zip(first, second, strict=True)):
        grades = []
        for name, output in zip(names, outputs, strict=True):
            out = np.asarray(output)
            pred = out.argmax(axis=1) if out.ndim == 2 else metrics.grade_labels(out, name)
            if len(pred) != len(y):
                raise ValueError(
                    f"{name} trial {trial}: {len(pred)} predictions for {len(y)} images"
                )
            grades.append(pred)
            table = metrics.confusion(y, pred)
            confusions[name].append(table)
            kappa = metrics.weighted_kappa(table, weights)
            row = {
                "trial": trial,
                "model": name,
                "accuracy": metrics.overall_accuracy(table),
                "kappa": kappa.kappa,
                "kappa_low": kappa.ci_low,
                "kappa_high": kappa.ci_high,
            }
            if out.ndim == 2:
                roc = metrics.roc_per_grade(y, out)[focus_grade]
                row.update(
                    {
                        f"auc_grade{focus_grade}": roc.auc,
                        f"auc_grade{focus_grade}_low": roc.ci_low,
                        f"auc_grade{focus_grade}_high": roc.ci_high,
                    }
                )
            rows.append(row)
        test = metrics.mcnemar(y, grades[0], grades[1])
        tests.append(
            {
                "trial": trial,
                f"{names[0]} right, {names[1]} wrong": int(test.table.iloc[0, 1]),
                f"{names[0]} wrong, {names[1]} right": int(test.table.iloc[1, 0]),
                "statistic": test.statistic,
                "pvalue": test.pvalue,
                "exact": test.exact,
            }
        )
    return Comparison(
        per_trial=pd.DataFrame(rows),
        mcnemar=pd.DataFrame(tests),
        confusions={name: np.stack(t) for name, t in confusions.items()},
        focus_grade=focus_grade,
        n_images=len(y),
    )


def paper_comparison(comparison: Comparison) -> pd.DataFrame:
    """The study's numbers for both models beside ours (means over trials, held-out part):
    overall accuracy, linear weighted kappa and the focus grade's AUC."""
    from synovis_lib import metrics

    published = metrics.paper_results()["models"]
    ours = comparison.per_trial.groupby("model", sort=False).mean(numeric_only=True)
    focus = comparison.focus_grade
    rows = []
    for model in ours.index:
        paper = published.get(model)
        rows.append(
            {
                "model": model,
                "paper accuracy": metrics.overall_accuracy(paper["confusion"]) if paper else np.nan,
                "our accuracy": ours.loc[model, "accuracy"],
                "paper kappa": paper["weighted_kappa"]["kappa"] if paper else np.nan,
                "our kappa": ours.loc[model, "kappa"],
                f"paper grade-{focus} AUC": paper["grades"][str(focus)]["auc"] if paper else np.nan,
                f"our grade-{focus} AUC": ours[f"auc_grade{focus}"].get(model, np.nan)
                if f"auc_grade{focus}" in ours
                else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("model")


def source_removal_check(y_true, predictions: dict[str, np.ndarray], sources) -> pd.DataFrame:
    """The study's leakage check: evaluate on all images, then without the source image(s).

    ``predictions`` maps a model name to ``(N,)`` grades or ``(N, 4)`` probabilities;
    ``sources`` are row positions of the source image(s). One row per (model,
    evaluation set): images, accuracy, linear weighted kappa.
    """
    from synovis_lib import metrics

    y = metrics.grade_labels(y_true, "y_true")
    keep = ~np.isin(np.arange(len(y)), np.asarray(sources, dtype=int))
    rows = []
    for name, output in predictions.items():
        out = np.asarray(output)
        pred = out.argmax(axis=1) if out.ndim == 2 else out.astype(int)
        for label, mask in (("all images", np.ones_like(keep)), ("without the source", keep)):
            table = metrics.confusion(y[mask], pred[mask])
            rows.append(
                {
                    "model": name,
                    "evaluated on": label,
                    "images": int(mask.sum()),
                    "accuracy": metrics.overall_accuracy(table),
                    "kappa": metrics.weighted_kappa(table).kappa,
                }
            )
    return pd.DataFrame(rows)


def assert_no_leak(split: PatientSplit, sources) -> None:
    """Raise ``AssertionError`` if a source image, or any image of a development patient,
    is in the held-out part."""
    shared = split.shared_patients()
    if shared:
        raise AssertionError(f"patients in both parts: {sorted(shared)}")
    leaked = set(np.asarray(sources, dtype=int).tolist()) & set(split.held_out.tolist())
    if leaked:
        raise AssertionError(f"source image(s) at row(s) {sorted(leaked)} are in the held-out part")


# --------------------------------------------------------------------------- the whole study


@dataclass
class SecondModelStudy:
    """Everything :func:`second_model_study` did, for the notebook and ``synovis second-model``."""

    profile: str
    split: PatientSplit
    errors: pd.DataFrame
    """Development-part errors of the initial model (trial 0); ``position`` = cohort row."""
    sources: pd.DataFrame
    """The chosen source image(s); ``position`` = cohort row."""
    scenes: list
    extra: Any
    """The new images (a :class:`synovis_lib.synth.TrainingSet`)."""
    probs_initial: list[np.ndarray]
    """Per trial, the initial model's probabilities on the whole cohort."""
    probs_second: list[np.ndarray]
    probs_placebo: list[np.ndarray]
    """Per trial, the placebo model's (:func:`placebo_set`) probabilities on the whole cohort."""
    comparison: Comparison
    """Both models on the held-out part only."""
    placebo: Comparison
    """The initial and the placebo model on the held-out part: the yardstick."""
    removal: pd.DataFrame
    """The study's check on the whole cohort, with and without the source image (trial 0)."""
    weights: str
    """Which network and weights were trained (e.g. the offline fallback)."""

    def headline(self) -> dict[str, Any]:
        """The numbers a results table needs (means over trials, held-out part)."""
        per = self.comparison.per_trial.groupby("model", sort=False).mean(numeric_only=True)
        focus = f"auc_grade{self.comparison.focus_grade}"
        out: dict[str, Any] = {
            "profile": self.profile,
            "weights": self.weights,
            "held_out_images": self.comparison.n_images,
            "trials": int(self.comparison.per_trial["trial"].nunique()),
            "sources": self.sources["image"].tolist(),
            "mcnemar_pvalues": self.comparison.mcnemar["pvalue"].round(4).tolist(),
        }
        placebo = self.placebo.per_trial.groupby("model", sort=False).mean(numeric_only=True)
        for model, row in pd.concat([per, placebo.iloc[1:]]).iterrows():
            for measure in ("accuracy", "kappa", focus):
                if measure in row:
                    out[f"{model}_{measure}"] = round(float(row[measure]), 4)
        out["placebo_mcnemar_pvalues"] = self.placebo.mcnemar["pvalue"].round(4).tolist()
        return out


def second_model_study(
    profile,
    dev_fraction: float = 0.5,
    seed: int = 0,
    n_new: int = 5,
    trials: int | None = None,
    cohort=None,
) -> SecondModelStudy:
    """The study's second half, without peeking: split, error analysis on the development
    part, new images modelled on a chosen grade-1 -> 2 error, second model, comparison on
    the held-out part, and the study's own check. ``trials`` defaults to
    ``profile.trials``; ``cohort`` to :func:`synovis_lib.clinic.cohort_for`. The source
    is read at :func:`reading_cohort` size; a placebo model (:func:`placebo_set`) gives
    the yardstick. Taught in notebook 08; run from the shell as ``synovis second-model``.
    """
    from synovis_lib.clinic import cohort_for
    from synovis_lib.synth import training_set_for

    cohort = cohort if cohort is not None else cohort_for(profile)
    reading = reading_cohort(profile, cohort)
    n_trials = profile.trials if trials is None else int(trials)
    split = split_by_patient(cohort, dev_fraction, seed)
    initial = [initial_model_for(profile, t) for t in range(n_trials)]
    probs_initial = [m.predict(cohort.images) for m in initial]
    errors = misclassified(cohort.table, probs_initial[0], rows=split.dev)
    sources = choose_sources(errors, reading.images, n=1, seed=seed)
    source = sources.iloc[0]
    assert_no_leak(split, sources["position"])
    scenes = model_after(
        reading.images[source["position"]],
        n_new,
        seed,
        grade=int(source["true"]),
        source=source["image"],
    )
    extra = new_images(scenes, profile.image_size, source=source["image"], seed=seed)
    second = [second_model_for(profile, extra, t) for t in range(n_trials)]
    probs_second = [m.predict(cohort.images) for m in second]
    placebo = placebo_set(training_set_for(profile), extra, seed)
    probs_placebo = [
        second_model_for(profile, placebo, t).predict(cohort.images) for t in range(n_trials)
    ]
    labels = cohort.table["consensus"].astype("Int64")
    held = split.held_out[labels.iloc[split.held_out].notna().to_numpy()]
    y_held = labels.iloc[held].to_numpy(dtype=int)
    comparison = compare_models(
        y_held, [p[held] for p in probs_initial], [p[held] for p in probs_second]
    )
    yardstick = compare_models(
        y_held,
        [p[held] for p in probs_initial],
        [p[held] for p in probs_placebo],
        names=("initial", "placebo"),
    )
    graded = np.flatnonzero(labels.notna().to_numpy())
    removal = source_removal_check(
        labels.iloc[graded].to_numpy(dtype=int),
        {"initial": probs_initial[0][graded], "second": probs_second[0][graded]},
        np.flatnonzero(np.isin(graded, sources["position"].to_numpy())),
    )
    return SecondModelStudy(
        profile=profile.name,
        split=split,
        errors=errors,
        sources=sources,
        scenes=scenes,
        extra=extra,
        probs_initial=probs_initial,
        probs_second=probs_second,
        probs_placebo=probs_placebo,
        comparison=comparison,
        placebo=yardstick,
        removal=removal,
        weights=initial[0].weights.summary(),
    )


def write_study(study: SecondModelStudy, out) -> Path:
    """Write the study's results under ``out``, each file atomically: ``second_model.json``
    (headline numbers), CSV tables, ``confusions.png`` and the new scenes as JSON (open them
    in the drawing studio)."""
    import matplotlib.pyplot as plt

    from synovis_lib import files

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(out / "second_model.json", study.headline())
    tables = {
        "per_trial.csv": study.comparison.per_trial,
        "mcnemar.csv": study.comparison.mcnemar,
        "placebo_per_trial.csv": study.placebo.per_trial,
        "placebo_mcnemar.csv": study.placebo.mcnemar,
        "grade_table.csv": study.comparison.grade_table().stack(level=0, future_stack=True),
        "split.csv": study.split.table,
        "sources.csv": study.sources,
        "dev_errors.csv": study.errors,
        "source_removal.csv": study.removal,
    }
    for name, frame in tables.items():
        with files.atomic_write(out / name) as tmp:
            frame.to_csv(tmp, index=name == "grade_table.csv")
    fig = study.comparison.plot(trial=None)
    with files.atomic_write(out / "confusions.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    for scene in study.scenes:
        scene.save(out / "scenes" / f"{scene.id}.json")
    return out


def _cli(args) -> int:
    from synovis_lib.profiles import get_profile

    profile = get_profile(args.profile)
    study = second_model_study(profile, args.dev_fraction, args.seed, args.new, args.trials)
    write_study(study, args.out)
    print(study.weights)
    print(study.comparison.summary().to_string())
    print(study.comparison.mcnemar.to_string(index=False))
    print("yardstick (initial vs placebo):")
    print(study.placebo.summary().to_string())
    print(f"wrote {args.out}")
    return 0


def add_cli(subparsers) -> None:
    """Register ``synovis second-model``."""
    p = subparsers.add_parser(
        "second-model",
        help="error analysis, new images modelled on a misclassified image, the second model",
    )
    p.add_argument("--profile", default="quick", help="ci, quick or paper (default quick)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the choice")
    p.add_argument(
        "--dev-fraction", type=float, default=0.5, help="share of patients for development"
    )
    p.add_argument("--new", type=int, default=5, help="new images to draw (the study: 5)")
    p.add_argument("--trials", type=int, default=None, help="trials (default: the profile's)")
    p.set_defaults(func=_cli)
