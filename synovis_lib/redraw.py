"""Drawing new artificial scenes modelled on a clinical image's Doppler layout.

The study's rheumatologist drew five new images modelled on a misclassified
clinical image. :func:`model_after` does that with a layout read by
:func:`synovis_lib.layout.estimate_layout`: it keeps the spots' positions,
sizes and shapes (trimmed by :func:`fit_to_grade` when the picture reads above
the raters' grade, never adding signal), lays them into the synovium of
basic scenes of :mod:`synovis_lib.synth`, and accepts each new scene only when
the grade checker confirms it. :func:`new_images` renders them as a training
set; :func:`placebo_set` makes the control that adds nothing new.

Taught in ``notebooks/08_error_driven_augmentation.ipynb``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from synovis_lib.grading import N_GRADES, grade_from_counts, grade_from_masks, load_rules
from synovis_lib.layout import Spot, estimate_layout
from synovis_lib.profiles import INPUT_SIZE
from synovis_lib.synth import (
    CHECK_MIN_SIZE,
    TrainingSet,
    Vessel,
    load_basic_scenes,
    render,
    to_id,
)

BUILD_SIZE = INPUT_SIZE
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
                id=f"after_{to_id(source.rsplit('.', 1)[0], 'image')}_{k + 1}",
                grade=target,
                description=description,
            )
        )
    return scenes


def drawn_on(scene) -> str:
    """The basic scene whose joint tissue and bone layers ``scene`` uses ("" if none)."""
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
