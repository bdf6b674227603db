"""The drawing studio, and the figures that show scenes, layers and training images.

The studio edits a :class:`~synovis_lib.synth.Scene` the way the study's
rheumatologist edited her drawings: pick a basic scene, move and scale its
layers, add, move and delete vessel spots, and see at once which
EULAR/OMERACT grade the checker gives and why. Everything it does is a plain
function of a :class:`StudioState` (``add_vessel``, ``move_vessel``,
``set_layer_transform``, ``current_grade``, ...), so it can be scripted and
tested; :func:`studio_figure` draws a state as a static matplotlib figure (for
headless runs and the book), and :func:`drawing_studio` wraps the same
functions in ipywidgets sliders, dropdowns and buttons with a matplotlib
output, which works in JupyterLab and Colab without extra extensions.

Taught in ``notebooks/01_eular_omeract_scoring.ipynb`` (studio, worked examples)
and ``notebooks/02_artificial_training_set.ipynb`` (scenes, layers, gallery).
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from synovis_lib import synth
from synovis_lib.grading import N_GRADES, GradeResult, grade_from_masks
from synovis_lib.profiles import INPUT_SIZE
from synovis_lib.synth import LAYERS, Scene, Transform, Vessel

MIN_STUDIO_SIZE = synth.CHECK_MIN_SIZE


@dataclass(frozen=True)
class StudioState:
    """What the studio shows: a scene, the grade it is meant to have, the selected vessel."""

    scene: Scene
    intended_grade: int
    selected: int | None = None
    """Index of the selected vessel in ``scene.vessels`` (``None``: none selected)."""
    size: int = 160
    """Pixels of the preview (grades are checked at ``max(size, 64)``)."""


def new_state(scene: Scene | str | None = None, size: int = 160) -> StudioState:
    """Start from a scene, or a basic scene id (default: the first grade-1 scene)."""
    if scene is None:
        scene = next(s for s in synth.load_basic_scenes() if s.grade == 1)
    elif isinstance(scene, str):
        scene = synth.basic_scene(scene)
    return StudioState(scene=scene, intended_grade=scene.grade, size=int(size))


def choose_scene(state: StudioState, scene_id: str) -> StudioState:
    """Replace the drawing by a basic scene; its grade becomes the intended one."""
    return new_state(scene_id, state.size)


def set_intended_grade(state: StudioState, grade: int) -> StudioState:
    if grade not in (0, 1, 2, 3):
        raise ValueError(f"intended grade must be 0, 1, 2 or 3, got {grade!r}")
    return dataclasses.replace(state, intended_grade=int(grade))


def set_layer_transform(state: StudioState, layer: str, **changes: float) -> StudioState:
    """Change some of a layer's transform fields (``dx``, ``dy``, ``scale``, ``angle``, ``gain``)."""
    current = state.scene.layer(layer).transform
    valid = {f.name for f in dataclasses.fields(Transform)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise ValueError(f"unknown transform field(s) {unknown}; valid: {sorted(valid)}")
    transform = dataclasses.replace(current, **{k: float(v) for k, v in changes.items()})
    return dataclasses.replace(state, scene=state.scene.with_transform(layer, transform))


def _check_index(state: StudioState, index: int) -> None:
    n = len(state.scene.vessels)
    if not 0 <= index < n:
        raise ValueError(f"vessel index {index} out of range: the scene has {n} vessel(s)")


def _replace_vessel(state: StudioState, index: int, **changes: Any) -> StudioState:
    _check_index(state, index)
    vessels = list(state.scene.vessels)
    vessels[index] = dataclasses.replace(vessels[index], **changes)
    return dataclasses.replace(state, scene=state.scene.with_vessels(vessels), selected=index)


def free_point(state: StudioState) -> tuple[float, float]:
    """Where a new vessel goes: the point of the visible synovium farthest from its edge and
    from every vessel drawn (so "add" twice gives two spots, not one on top of the other),
    in vascularity-layer coordinates. ``(0.5, 0.5)`` when no synovium is visible."""
    rendered = synth.render(state.scene, max(state.size, MIN_STUDIO_SIZE))
    room = rendered.synovium & ~rendered.vascular
    if not room.any():
        room = rendered.synovium
    if not room.any():
        return 0.5, 0.5
    depth = ndimage.distance_transform_edt(np.pad(room, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    x, y = (col + 0.5) / room.shape[1], (row + 0.5) / room.shape[0]
    lx, ly = state.scene.vascularity.transform.invert(x, y)
    return float(np.clip(lx, 0, 1)), float(np.clip(ly, 0, 1))


def add_vessel(
    state: StudioState,
    x: float | None = None,
    y: float | None = None,
    kind: str = "spot",
    rx: float | None = None,
    ry: float | None = None,
    intensity: float = 0.9,
) -> StudioState:
    """Add a vessel (default: at :func:`free_point`) and select it.

    Spots default to radius 0.01, confluent spots to 0.045 x 0.028 (image fractions).
    """
    default = (0.01, 0.01) if kind == "spot" else (0.045, 0.028)
    if x is None or y is None:
        x, y = free_point(state)
    vessel = Vessel(round(x, 4), round(y, 4), rx or default[0], ry or default[1], kind, intensity)
    scene = state.scene.with_vessels([*state.scene.vessels, vessel])
    return dataclasses.replace(state, scene=scene, selected=len(scene.vessels) - 1)


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
    return dataclasses.replace(state, scene=state.scene.with_vessels(vessels), selected=selected)


def select_vessel(state: StudioState, index: int | None) -> StudioState:
    if index is not None:
        _check_index(state, index)
    return dataclasses.replace(state, selected=index)


def current_grade(state: StudioState) -> GradeResult:
    """The checker's grade of the drawing (at ``max(size, 64)`` pixels) and its explanation."""
    return synth.check(state.scene, max(state.size, MIN_STUDIO_SIZE))


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

    Refuses (``ValueError``) when the checker disagrees with the intended grade:
    such a scene could never yield a variant. The id defaults to the file name, made safe
    (:func:`synovis_lib.synth.to_id`).
    """
    path = Path(path)
    result = current_grade(state)
    warning = grade_warning(state, result)
    if warning:
        raise ValueError(f"not saved to {path}: {warning}")
    scene = dataclasses.replace(
        state.scene, id=scene_id or synth.to_id(path.stem), grade=state.intended_grade
    )
    return scene.save(path)


# ----------------------------------------------------------------------------- figures


def _show_scene(ax: Any, scene: Scene, size: int, outline: bool = True) -> GradeResult:
    rendered = synth.render(scene, size)
    ax.imshow(rendered.rgb, extent=(0, 1, 1, 0), interpolation="nearest")
    if outline and rendered.synovium.any():
        ax.contour(
            np.linspace(0.5 / size, 1 - 0.5 / size, size),
            np.linspace(0.5 / size, 1 - 0.5 / size, size),
            rendered.synovium.astype(float),
            levels=[0.5],
            colors="deepskyblue",
            linewidths=0.8,
        )
    ax.set_xticks([])
    ax.set_yticks([])
    check = synth.render(scene, max(size, MIN_STUDIO_SIZE)) if size < MIN_STUDIO_SIZE else rendered
    return grade_from_masks(check.vascular, check.synovium)


def studio_figure(state: StudioState) -> Any:
    """A static picture of the studio: the drawing with the synovium outlined, the
    vessels numbered, the grade, its explanation and any warning."""
    import matplotlib.pyplot as plt
    from matplotlib import patheffects

    fig, ax = plt.subplots(figsize=(6.4, 6.4))
    _show_scene(ax, state.scene, max(state.size, INPUT_SIZE))
    result = current_grade(state)
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
        if selected:
            radius = max(vessel.rx, vessel.ry) * transform.scale + 0.015
            ax.add_patch(plt.Circle((x, y), radius, fill=False, color="cyan", linewidth=1.2))
    warning = grade_warning(state, result)
    ax.set_title(
        f"{state.scene.id}: grade {result.grade} (intended {state.intended_grade})",
        color="crimson" if warning else "black",
    )
    text = textwrap.fill(result.explanation, 95)
    if warning:
        text += "\n" + textwrap.fill("WARNING: " + warning, 95)
    fig.text(0.02, 0.01, text, fontsize=8, va="bottom", color="crimson" if warning else "black")
    fig.subplots_adjust(bottom=0.16, top=0.94, left=0.02, right=0.98)
    return fig


def plot_scenes(
    scenes: Sequence[Scene],
    titles: Sequence[str] | None = None,
    size: int = INPUT_SIZE,
    ncols: int = 4,
    outline: bool = False,
    explain: bool = True,
) -> Any:
    """Scenes side by side, each titled with the checker's grade (and its counts)."""
    import matplotlib.pyplot as plt

    nrows = -(-len(scenes) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.9 * ncols, 3.1 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(scenes):
            ax.axis("off")
            continue
        result = _show_scene(ax, scenes[k], size, outline)
        title = titles[k] if titles else scenes[k].id
        if explain:
            title += (
                f"\ngrade {result.grade}: {result.n_single} single, {result.n_confluent} "
                f"confluent, {result.n_large} large, {result.coverage:.0%}"
            )
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def _describe(transform: Transform) -> str:
    parts = []
    if transform.dx or transform.dy:
        parts.append(f"moved ({transform.dx:+.2f}, {transform.dy:+.2f})")
    if transform.scale != 1:
        parts.append(f"scaled x{transform.scale:.2f}")
    if transform.angle:
        parts.append(f"rotated {transform.angle:+.1f} deg")
    if transform.gain != 1:
        parts.append(f"gain x{transform.gain:.2f}")
    return ", ".join(parts) or "unchanged"


def plot_layers(scene: Scene, size: int = INPUT_SIZE) -> Any:
    """The study's Figure 2: the three layers (with their modifications) and the image they make."""
    import matplotlib.pyplot as plt

    layers = synth.render_layers(scene, size)
    fig, axes = plt.subplots(1, 4, figsize=(8.8, 2.9))
    names = {"joint_tissue": "joint tissue", "bone_surface": "bone surface"}
    for ax, (name, image) in zip(axes, layers.items(), strict=False):
        ax.imshow(image)
        transform = scene.layer(name).transform
        ax.set_title(f"{names.get(name, name)}\n{_describe(transform)}", fontsize=9)
    result = _show_scene(axes[3], scene, size, outline=False)
    axes[3].set_title(f"combined image\ngrade {result.grade} (checked)", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_gallery(training_set: synth.TrainingSet, per_grade: int = 6, seed: int = 0) -> Any:
    """A row of randomly chosen training images per grade, titled with their id and source."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(4, per_grade, figsize=(2.4 * per_grade, 10.4), squeeze=False)
    for grade in range(N_GRADES):
        pool = np.flatnonzero(training_set.labels == grade)
        picks = rng.choice(pool, size=min(per_grade, len(pool)), replace=False) if len(pool) else []
        for ax in axes[grade]:
            ax.axis("off")
        for ax, index in zip(axes[grade], sorted(picks), strict=False):
            row = training_set.provenance.iloc[index]
            ax.imshow(training_set.images[index], interpolation="nearest")
            ax.set_title(f"{row['id']}\n{row['basic_scene']}", fontsize=8)
        axes[grade][0].text(
            -0.08,
            0.5,
            f"grade {grade}",
            transform=axes[grade][0].transAxes,
            rotation=90,
            va="center",
            ha="right",
            fontsize=10,
        )
    fig.tight_layout()
    return fig


def worked_examples() -> list[tuple[str, Scene]]:
    """Drawings on either side of each grade boundary, and a vessel outside the synovium.

    All start from the distended, flow-free recess ``g0_grey_scale_synovitis``;
    vessels are placed with :func:`synovis_lib.synth.place_vessels` (fixed seeds).
    """
    base = synth.basic_scene("g0_grey_scale_synovitis")
    one_confluent = synth.place_vessels(base, 1, "confluent", seed=4)
    outside = base.with_vessels([Vessel(0.45, 0.22, 0.02, 0.012, "spot", 0.8)])
    examples = [
        ("3 single spots", synth.place_vessels(base, 3, "spot", seed=1)),
        ("4 single spots", synth.place_vessels(base, 4, "spot", seed=1)),
        ("2 confluent spots", synth.place_vessels(base, 2, "confluent", seed=2)),
        ("3 confluent spots", synth.place_vessels(base, 3, "confluent", seed=2)),
        ("1 confluent + 2 single", synth.place_vessels(one_confluent, 2, "spot", seed=5)),
        ("1 confluent + 3 single", synth.place_vessels(one_confluent, 3, "spot", seed=5)),
        ("vessel in the subcutis only", outside),
        ("one large region", synth.basic_scene("g2_large_region")),
        ("signal over most of the synovium", synth.basic_scene("g3_filled_recess")),
    ]
    return [
        (title, dataclasses.replace(scene, id=f"example_{i + 1}"))
        for i, (title, scene) in enumerate(examples)
    ]


# ----------------------------------------------------------------------------- the widget


class DrawingStudio:
    """The interactive studio: ipywidgets controls around the functions above.

    ``studio.state`` is the current :class:`StudioState`; ``studio.widget`` the
    box to display (a notebook displays the studio itself).
    """

    def __init__(self, state: StudioState, save_dir: str | os.PathLike = "studio_scenes"):
        import ipywidgets as w

        self.state = state
        self.save_dir = Path(save_dir)
        self._syncing = False
        slider = {"continuous_update": False, "readout_format": ".3f"}
        ids = [s.id for s in synth.load_basic_scenes()]
        self.scene_picker = w.Dropdown(
            options=ids,
            value=state.scene.id if state.scene.id in ids else None,
            description="scene",
        )
        self.grade_picker = w.Dropdown(
            options=[0, 1, 2, 3], value=state.intended_grade, description="intended"
        )
        self.layer_picker = w.ToggleButtons(options=list(LAYERS), value="vascularity")
        self.layer_sliders = {
            "dx": w.FloatSlider(min=-0.2, max=0.2, step=0.005, description="move x", **slider),
            "dy": w.FloatSlider(min=-0.2, max=0.2, step=0.005, description="move y", **slider),
            "scale": w.FloatSlider(
                value=1, min=0.7, max=1.3, step=0.01, description="scale", **slider
            ),
            "angle": w.FloatSlider(min=-15, max=15, step=0.5, description="rotate", **slider),
            "gain": w.FloatSlider(
                value=1, min=0.5, max=1.5, step=0.01, description="intensity", **slider
            ),
        }
        self.vessel_picker = w.Dropdown(description="vessel")
        self.vessel_x = w.FloatSlider(min=0, max=1, step=0.002, description="x", **slider)
        self.vessel_y = w.FloatSlider(min=0, max=1, step=0.002, description="y", **slider)
        self.vessel_size = w.FloatSlider(
            min=0.004, max=0.15, step=0.001, description="size", **slider
        )
        self.add_spot = w.Button(description="add spot")
        self.add_confluent = w.Button(description="add confluent")
        self.delete = w.Button(description="delete vessel", button_style="warning")
        self.filename = w.Text(value="my_scene.json", description="save as")
        self.save = w.Button(description="save scene", button_style="success")
        self.message = w.HTML()
        self.grade_html = w.HTML()
        self.output = w.Output()
        self.widget = w.HBox(
            [
                self.output,
                w.VBox(
                    [
                        w.HBox([self.scene_picker, self.grade_picker]),
                        w.HTML("<b>Layer</b>"),
                        self.layer_picker,
                        *self.layer_sliders.values(),
                        w.HTML("<b>Vessels</b>"),
                        self.vessel_picker,
                        self.vessel_x,
                        self.vessel_y,
                        self.vessel_size,
                        w.HBox([self.add_spot, self.add_confluent, self.delete]),
                        w.HBox([self.filename, self.save]),
                        self.grade_html,
                        self.message,
                    ]
                ),
            ]
        )
        self.scene_picker.observe(lambda c: self._apply(choose_scene, c["new"]), "value")
        self.grade_picker.observe(lambda c: self._apply(set_intended_grade, c["new"]), "value")
        self.layer_picker.observe(lambda c: self._sync(), "value")
        for name, control in self.layer_sliders.items():
            control.observe(
                lambda c, name=name: self._apply(
                    set_layer_transform, self.layer_picker.value, **{name: c["new"]}
                ),
                "value",
            )
        self.vessel_picker.observe(lambda c: self._apply(select_vessel, c["new"]), "value")
        self.vessel_x.observe(lambda c: self._edit_vessel(), "value")
        self.vessel_y.observe(lambda c: self._edit_vessel(), "value")
        self.vessel_size.observe(lambda c: self._edit_vessel(), "value")
        self.add_spot.on_click(lambda b: self._apply(add_vessel, kind="spot"))
        self.add_confluent.on_click(lambda b: self._apply(add_vessel, kind="confluent"))
        self.delete.on_click(lambda b: self._delete())
        self.save.on_click(lambda b: self._save())
        self._sync()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _apply(self, function: Any, *args: Any, **kwargs: Any) -> None:
        if self._syncing:
            return
        try:
            self.state = function(self.state, *args, **kwargs)
            self.message.value = ""
        except ValueError as exc:
            self.message.value = f"<span style='color:crimson'>{exc}</span>"
        self._sync()

    def _edit_vessel(self) -> None:
        if self._syncing or self.state.selected is None:
            return
        index, x, y = self.state.selected, self.vessel_x.value, self.vessel_y.value
        size = self.vessel_size.value
        self._apply(lambda state: resize_vessel(move_vessel(state, index, x, y), index, size))

    def _delete(self) -> None:
        if self.state.selected is not None:
            self._apply(delete_vessel, self.state.selected)

    def _save(self) -> None:
        try:
            name = self.filename.value.strip()
            if not name or Path(name).name != name or name.startswith("."):
                raise ValueError(f"save as {name!r}: give a file name, not a path")
            path = save_scene(self.state, self.save_dir / name)
            self.message.value = f"saved {path}"
        except ValueError as exc:
            self.message.value = f"<span style='color:crimson'>{exc}</span>"

    def _sync(self) -> None:
        """Show the state: controls, grade and figure."""
        import matplotlib.pyplot as plt
        from IPython.display import clear_output, display

        self._syncing = True
        try:
            state = self.state
            transform = state.scene.layer(self.layer_picker.value).transform
            for name, control in self.layer_sliders.items():
                control.value = getattr(transform, name)
            self.grade_picker.value = state.intended_grade
            self.vessel_picker.options = [
                (f"{i + 1}: {v.kind} ({v.x:.2f}, {v.y:.2f})", i)
                for i, v in enumerate(state.scene.vessels)
            ]
            self.vessel_picker.value = state.selected
            if state.selected is not None:
                vessel = state.scene.vessels[state.selected]
                self.vessel_x.value, self.vessel_y.value = vessel.x, vessel.y
                self.vessel_size.value = vessel.rx
            result = current_grade(state)
            warning = grade_warning(state, result)
            colour = "crimson" if warning else "seagreen"
            self.grade_html.value = (
                f"<b style='color:{colour}'>grade {result.grade}</b> "
                f"(intended {state.intended_grade})<br>{result.explanation}"
                + (f"<br><b style='color:crimson'>{warning}</b>" if warning else "")
            )
        finally:
            self._syncing = False
        with self.output:
            clear_output(wait=True)
            fig = studio_figure(self.state)
            display(fig)
            plt.close(fig)


def drawing_studio(
    scene: Scene | str | None = None, save_dir: str | os.PathLike = "studio_scenes", size: int = 160
) -> DrawingStudio:
    """The interactive drawing studio (display it in a notebook). Saved scenes go to ``save_dir``."""
    return DrawingStudio(new_state(scene, size), save_dir)
