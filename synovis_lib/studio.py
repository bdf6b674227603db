"""The drawing studio's state: a scene being drawn, and every edit as a plain function.

The study's rheumatologist drew her 17 basic images with a pen tablet, in
layers, then moved and scaled the layers to make more. The studio does the same
to a :class:`~synovis_lib.synth.Scene`: a click places a single spot, a drag
paints (or erases) Doppler signal with a round brush, a drag in move mode
shifts a layer, the wheel scales or turns it, and each edit can be undone and
redone. After every edit the grade checker says which EULAR/OMERACT grade the
drawing shows and why, and warns when that is not the grade intended.

Everything here is a function from one :class:`StudioState` to the next, so
tests, scripts and notebooks drive the studio without a browser;
:mod:`synovis_lib.widgets` puts a canvas around the same functions.
Coordinates of clicks and strokes are *image* fractions (x to the right, y
down, 0..1: where the pointer is on the picture); the functions turn them into
the vascularity layer's own coordinates, so painting on a moved or scaled
layer lands under the pointer.

Taught in ``notebooks/01_eular_omeract_scoring.ipynb`` (the drawing studio).
"""

from __future__ import annotations

import dataclasses
import math
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from synovis_lib import synth
from synovis_lib.grading import GradeResult, grade_from_masks
from synovis_lib.profiles import INPUT_SIZE
from synovis_lib.synth import FIELD_RANGES, Scene, Stroke, Transform, Vessel

STUDIO_SIZE = 448
"""Pixels of the studio's picture (twice the network's input): the canvas shows it at this
size and the live grade is checked at it."""
UNDO_LIMIT = 100
"""Edits the studio can undo."""
BRUSH = 0.02
"""The default brush radius (image fraction): a stroke 4 % of the picture wide."""
OUTLINE_RGB = (0, 191, 255)
"""The synovium's outline in the studio's picture (deep sky blue, as in its figures)."""

Point = tuple[float, float]


@dataclass(frozen=True)
class StudioState:
    """What the studio shows: a scene, the grade it is meant to have, the selected vessel,
    and the edits that can be undone and redone (``(scene, selected)`` pairs)."""

    scene: Scene
    intended_grade: int
    selected: int | None = None
    """Index of the selected vessel in ``scene.vessels`` (``None``: none selected)."""
    size: int = STUDIO_SIZE
    """Pixels of the picture; the grade is checked at ``max(size, 64)``."""
    undo_stack: tuple[tuple[Scene, int | None], ...] = ()
    redo_stack: tuple[tuple[Scene, int | None], ...] = ()

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_stack)


def new_state(scene: Scene | str | None = None, size: int = STUDIO_SIZE) -> StudioState:
    """Start from a scene, or a basic scene id (default: the first grade-1 scene)."""
    if scene is None:
        scene = next(s for s in synth.load_basic_scenes() if s.grade == 1)
    elif isinstance(scene, str):
        scene = synth.basic_scene(scene)
    return StudioState(scene=scene, intended_grade=scene.grade, size=int(size))


def load_scene(path: str | os.PathLike, size: int = STUDIO_SIZE) -> StudioState:
    """Open a scene file (one the studio saved, or any scene JSON) to draw on."""
    return new_state(Scene.load(path), size)


def _edit(state: StudioState, scene: Scene, selected: int | None = None) -> StudioState:
    """``state`` with a new drawing; the old one goes on the undo stack, redo is cleared."""
    undo = (*state.undo_stack, (state.scene, state.selected))[-UNDO_LIMIT:]
    return dataclasses.replace(
        state, scene=scene, selected=selected, undo_stack=undo, redo_stack=()
    )


def _step(state: StudioState, back: bool) -> StudioState:
    """Take the last drawing off the undo (``back``) or redo stack, keeping the current one
    on the other."""
    source, target = (state.undo_stack, state.redo_stack)[:: 1 if back else -1]
    if not source:
        raise ValueError(f"nothing to {'undo' if back else 'redo'}")
    (scene, selected), source = source[-1], source[:-1]
    target = (*target, (state.scene, state.selected))
    stacks = (source, target) if back else (target, source)
    return dataclasses.replace(
        state, scene=scene, selected=selected, undo_stack=stacks[0], redo_stack=stacks[1]
    )


def undo(state: StudioState) -> StudioState:
    """The drawing before the last edit (``ValueError`` when there is none)."""
    return _step(state, back=True)


def redo(state: StudioState) -> StudioState:
    """The edit last undone, again (``ValueError`` when there is none)."""
    return _step(state, back=False)


def choose_scene(state: StudioState, scene_id: str) -> StudioState:
    """Replace the drawing by a basic scene (undoable); its grade becomes the intended one."""
    scene = synth.basic_scene(scene_id)
    return dataclasses.replace(_edit(state, scene), intended_grade=scene.grade)


def set_intended_grade(state: StudioState, grade: int) -> StudioState:
    if grade not in (0, 1, 2, 3):
        raise ValueError(f"intended grade must be 0, 1, 2 or 3, got {grade!r}")
    return dataclasses.replace(state, intended_grade=int(grade))


# ----------------------------------------------------------------------------- layers


def set_layer_transform(state: StudioState, layer: str, **changes: float) -> StudioState:
    """Change some of a layer's transform fields (``dx``, ``dy``, ``scale``, ``angle``, ``gain``)."""
    current = state.scene.layer(layer).transform
    valid = {f.name for f in dataclasses.fields(Transform)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise ValueError(f"unknown transform field(s) {unknown}; valid: {sorted(valid)}")
    transform = dataclasses.replace(current, **{k: float(v) for k, v in changes.items()})
    return _edit(state, state.scene.with_transform(layer, transform), state.selected)


def _clamped(field: str, value: float) -> float:
    return FIELD_RANGES["Transform"][field].clamp(value)


def move_layer(state: StudioState, layer: str, dx: float, dy: float) -> StudioState:
    """Drag ``layer`` by ``(dx, dy)`` (image fractions), stopping at the transform's range."""
    t = state.scene.layer(layer).transform
    return set_layer_transform(
        state, layer, dx=_clamped("dx", t.dx + dx), dy=_clamped("dy", t.dy + dy)
    )


def scale_layer(state: StudioState, layer: str, factor: float) -> StudioState:
    """Scale ``layer`` by ``factor`` about the image centre (the mouse wheel's step)."""
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"scale factor must be a positive number, got {factor!r}")
    scale = state.scene.layer(layer).transform.scale * factor
    return set_layer_transform(state, layer, scale=_clamped("scale", scale))


def rotate_layer(state: StudioState, layer: str, degrees: float) -> StudioState:
    """Turn ``layer`` by ``degrees`` about the image centre (the wheel with Shift)."""
    angle = state.scene.layer(layer).transform.angle + degrees
    return set_layer_transform(state, layer, angle=_clamped("angle", angle))


# ----------------------------------------------------------------------------- vessels


def _check_index(state: StudioState, index: int) -> None:
    n = len(state.scene.vessels)
    if not 0 <= index < n:
        raise ValueError(f"vessel index {index} out of range: the scene has {n} vessel(s)")


def _replace_vessel(state: StudioState, index: int, **changes: Any) -> StudioState:
    _check_index(state, index)
    vessels = list(state.scene.vessels)
    vessels[index] = dataclasses.replace(vessels[index], **changes)
    return _edit(state, state.scene.with_vessels(vessels), index)


def _to_layer(state: StudioState, x: float, y: float) -> Point:
    """The vascularity-layer point under image point ``(x, y)``, kept on the canvas."""
    for name, value in (("x", x), ("y", y)):
        if not (isinstance(value, int | float) and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    lx, ly = state.scene.vascularity.transform.invert(float(x), float(y))
    return float(np.clip(lx, 0, 1)), float(np.clip(ly, 0, 1))


def free_point(state: StudioState) -> Point:
    """Where a new vessel goes: the point of the visible synovium farthest from its edge and
    from every vessel drawn (so "add" twice gives two spots, not one on top of the other),
    in vascularity-layer coordinates. ``(0.5, 0.5)`` when no synovium is visible."""
    rendered = synth.render(state.scene, max(state.size, synth.CHECK_MIN_SIZE))
    room = rendered.synovium & ~rendered.vascular
    if not room.any():
        room = rendered.synovium
    if not room.any():
        return 0.5, 0.5
    depth = ndimage.distance_transform_edt(np.pad(room, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    x, y = (col + 0.5) / room.shape[1], (row + 0.5) / room.shape[0]
    return _to_layer(state, x, y)


def add_vessel(
    state: StudioState,
    x: float | None = None,
    y: float | None = None,
    kind: str = "spot",
    rx: float | None = None,
    ry: float | None = None,
    intensity: float = 0.9,
) -> StudioState:
    """Add a vessel at layer point ``(x, y)`` (default: :func:`free_point`) and select it.

    Spots default to radius 0.01, confluent spots to 0.045 x 0.028 (image fractions).
    """
    default = (0.01, 0.01) if kind == "spot" else (0.045, 0.028)
    if x is None or y is None:
        x, y = free_point(state)
    vessel = Vessel(round(x, 4), round(y, 4), rx or default[0], ry or default[1], kind, intensity)
    scene = state.scene.with_vessels([*state.scene.vessels, vessel])
    return _edit(state, scene, len(scene.vessels) - 1)


def place_spot(state: StudioState, x: float, y: float, kind: str = "spot") -> StudioState:
    """A click on the picture at image point ``(x, y)``: a single spot (or a confluent one)
    appears under the pointer, whatever its layer's transform."""
    return add_vessel(state, *_to_layer(state, x, y), kind=kind)


def move_vessel(state: StudioState, index: int, x: float, y: float) -> StudioState:
    """Move vessel ``index`` to ``(x, y)`` (layer coordinates, 0..1)."""
    return _replace_vessel(state, index, x=float(x), y=float(y))


def resize_vessel(
    state: StudioState, index: int, rx: float, ry: float | None = None
) -> StudioState:
    """Set vessel ``index``'s radii; with ``ry=None`` the shape (rx:ry) is kept."""
    _check_index(state, index)
    old = state.scene.vessels[index]
    ry = old.ry * rx / old.rx if ry is None else ry
    return _replace_vessel(state, index, rx=float(rx), ry=float(ry))


def delete_vessel(state: StudioState, index: int) -> StudioState:
    """Remove vessel ``index``; the selection moves to the previous vessel, if any."""
    _check_index(state, index)
    vessels = [v for i, v in enumerate(state.scene.vessels) if i != index]
    selected = min(index, len(vessels) - 1) if vessels else None
    return _edit(state, state.scene.with_vessels(vessels), selected)


def select_vessel(state: StudioState, index: int | None) -> StudioState:
    if index is not None:
        _check_index(state, index)
    return dataclasses.replace(state, selected=index)


# ----------------------------------------------------------------------------- the brush


def thin_path(points: Sequence[Point], spacing: float) -> list[Point]:
    """A pointer's path with points closer than ``spacing`` to the last kept one dropped
    (the last point always kept), then at most :data:`~synovis_lib.synth.MAX_STROKE_POINTS`
    evenly chosen: a drag sends a point per mouse event, a stroke needs far fewer."""
    kept: list[Point] = []
    for point in points:
        if not kept or math.dist(point, kept[-1]) >= spacing:
            kept.append(point)
    if len(points) > 1 and kept[-1] != points[-1]:
        kept.append(points[-1])
    if len(kept) > synth.MAX_STROKE_POINTS:
        picks = np.linspace(0, len(kept) - 1, synth.MAX_STROKE_POINTS).round().astype(int)
        kept = [kept[i] for i in picks]
    return kept


def _stroke(
    state: StudioState, points: Sequence[Point], radius: float, mode: str, intensity: float
) -> StudioState:
    if len(points) == 0:
        raise ValueError("a stroke needs at least one point")
    if len(state.scene.strokes) >= synth.MAX_STROKES:
        raise ValueError(
            f"the drawing has {synth.MAX_STROKES} strokes, the most a scene may have: "
            "undo some, or save it and start a new one"
        )
    scale = state.scene.vascularity.transform.scale
    layer_points = [_to_layer(state, x, y) for x, y in points]
    path = thin_path(layer_points, radius / scale / 4)
    stroke = Stroke(
        tuple((round(x, 4), round(y, 4)) for x, y in path), radius / scale, mode, intensity
    )
    return _edit(state, state.scene.with_strokes([*state.scene.strokes, stroke]), state.selected)


def paint(
    state: StudioState, points: Sequence[Point], radius: float = BRUSH, intensity: float = 0.9
) -> StudioState:
    """Paint Doppler signal along a drag through image points ``points`` with a brush of
    ``radius`` (image fraction); one point is a dab. The stroke joins the scene."""
    return _stroke(state, points, radius, "paint", intensity)


def erase(state: StudioState, points: Sequence[Point], radius: float = BRUSH) -> StudioState:
    """Clear all signal (vessels and paint) along a drag through image points ``points``."""
    return _stroke(state, points, radius, "erase", 0.9)


# ----------------------------------------------------------------------------- grade and files


def current_grade(state: StudioState) -> GradeResult:
    """The checker's grade of the drawing (at ``max(size, 64)`` pixels) and its explanation."""
    return synth.check(state.scene, state.size)


def grade_warning(state: StudioState, result: GradeResult | None = None) -> str | None:
    """A warning when the drawing no longer shows its intended grade, else ``None``."""
    result = result or current_grade(state)
    if result.grade == state.intended_grade:
        return None
    return (
        f"This drawing is grade {result.grade}, not the intended grade "
        f"{state.intended_grade}: {result.rule}."
    )


def save_scene(state: StudioState, path: str | os.PathLike, scene_id: str | None = None) -> Path:
    """Save the drawing as a scene JSON (atomically) with the intended grade.

    Refuses (``ValueError``) when the checker disagrees with the intended grade, at the
    studio's size or at the network's input size (where variants are checked): such a
    scene could never yield a variant. The id defaults to the file name, made safe
    (:func:`synovis_lib.synth.to_id`).
    """
    path = Path(path)
    warning = grade_warning(state)
    if warning:
        raise ValueError(f"not saved to {path}: {warning}")
    at_input = synth.check(state.scene, INPUT_SIZE)
    if at_input.grade != state.intended_grade:
        raise ValueError(
            f"not saved to {path}: at {INPUT_SIZE} px, the size variants are checked at, "
            f"the drawing is grade {at_input.grade} ({at_input.rule}); make it less borderline"
        )
    scene = dataclasses.replace(
        state.scene, id=scene_id or synth.to_id(path.stem), grade=state.intended_grade
    )
    return scene.save(path)


# ----------------------------------------------------------------------------- pictures


def snapshot(state: StudioState) -> tuple[np.ndarray, GradeResult]:
    """The studio's picture (RGB uint8, ``size`` x ``size``: the drawing with the synovium
    outlined and the selected vessel ringed) and the drawing's grade, from one rendering:
    what the canvas shows after every stroke, drawn in NumPy so it keeps up with the pointer
    (``benchmarks/bench_studio.py``)."""
    rendered = synth.render(state.scene, state.size)
    if state.size >= synth.CHECK_MIN_SIZE:
        result = grade_from_masks(rendered.vascular, rendered.synovium)
    else:
        result = current_grade(state)
    rgb = rendered.rgb.copy()
    edge = rendered.synovium & ~ndimage.binary_erosion(rendered.synovium)
    rgb[edge] = OUTLINE_RGB
    if state.selected is not None:
        vessel = state.scene.vessels[state.selected]
        transform = state.scene.vascularity.transform
        x, y = transform.apply(vessel.x, vessel.y)
        radius = (max(vessel.rx, vessel.ry) * transform.scale + 0.012) * state.size
        rows, cols = np.ogrid[: state.size, : state.size]
        d = np.hypot(cols + 0.5 - x * state.size, rows + 0.5 - y * state.size)
        rgb[np.abs(d - radius) < 1.0] = (0, 255, 255)
    return rgb, result


def studio_figure(state: StudioState) -> Any:
    """A static picture of the studio: the drawing with the synovium outlined, the
    vessels numbered, the grade, its explanation and any warning."""
    import matplotlib.pyplot as plt
    from matplotlib import patheffects

    fig, ax = plt.subplots(figsize=(6.4, 6.4))
    rgb, result = snapshot(state)
    ax.imshow(rgb, extent=(0, 1, 1, 0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    transform = state.scene.vascularity.transform
    for i, vessel in enumerate(state.scene.vessels):
        x, y = transform.apply(vessel.x, vessel.y)
        selected = i == state.selected
        ax.annotate(
            str(i + 1),
            (x, y),
            xytext=(6, -6),
            textcoords="offset points",
            color="cyan" if selected else "white",
            fontsize=9,
            fontweight="bold" if selected else "normal",
            path_effects=[patheffects.withStroke(linewidth=2, foreground="black")],
        )
    warning = grade_warning(state, result)
    painted = f", {len(state.scene.strokes)} brush stroke(s)" if state.scene.strokes else ""
    ax.set_title(
        f"{state.scene.id}{painted}: grade {result.grade} (intended {state.intended_grade})",
        color="crimson" if warning else "black",
    )
    text = textwrap.fill(result.explanation, 95)
    if warning:
        text += "\n" + textwrap.fill("WARNING: " + warning, 95)
    fig.text(0.02, 0.01, text, fontsize=8, va="bottom", color="crimson" if warning else "black")
    fig.subplots_adjust(bottom=0.16, top=0.94, left=0.02, right=0.98)
    return fig
