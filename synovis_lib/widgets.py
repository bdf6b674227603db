"""The studio's canvas widgets, and the figures that show scenes, layers and training images.

Two widgets share one small ES module (``synovis_lib/static/canvas.js``) through
`anywidget <https://anywidget.dev>`_:

- :func:`drawing_studio`: draw a scene with the mouse or a pen: click a spot,
  paint or erase with a brush, drag a layer, scale or turn it with the wheel,
  undo and redo, with the live EULAR/OMERACT grade and a warning when the
  drawing leaves its intended grade. Every edit is a function of
  :mod:`synovis_lib.studio`.
- :func:`scoring_aid`: open a clinical image, outline the synovium, and read the
  grade of the Doppler signal inside (:mod:`synovis_lib.outline`).

Why anywidget: a widget is a Python class and an ES module, with no front-end
build or extension to install, and the same widget runs in JupyterLab 4,
Notebook 7, VS Code and Colab (where anywidget turns on Colab's custom widget
manager itself; ``pip install synovis`` brings anywidget along). The kernel keeps
the state; the browser only draws the picture and sends pointer events, so what
the canvas does is exactly what the library functions do.

Taught in ``notebooks/01_eular_omeract_scoring.ipynb`` (studio, worked examples),
``notebooks/02_artificial_training_set.ipynb`` (scenes, layers, gallery) and
``notebooks/03_clinical_images_and_raters.ipynb`` (the scoring aid).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from PIL import Image

from synovis_lib import outline, studio, synth
from synovis_lib.grading import N_GRADES, GradeResult, grade_from_masks
from synovis_lib.profiles import INPUT_SIZE
from synovis_lib.synth import LAYERS, Scene, Transform, Vessel

CANVAS_JS = Path(__file__).parent / "static" / "canvas.js"
WHEEL_SCALE = 1.02
"""A wheel step scales the layer by this factor (2 %)."""
WHEEL_DEGREES = 1.0
"""A wheel step with Shift turns the layer by this much."""
OUTLINE_SPACING = 0.004
"""A traced outline keeps points at least this far apart (image fraction): a pointer sends
one per mouse event, and the outline's mask costs time per point."""


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
    check = synth.render(scene, synth.CHECK_MIN_SIZE) if size < synth.CHECK_MIN_SIZE else rendered
    return grade_from_masks(check.vascular, check.synovium)


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


# ----------------------------------------------------------------------------- the widgets


def png_data_url(rgb: np.ndarray) -> str:
    """An RGB uint8 image as a PNG ``data:`` URL (fast compression: it is sent per stroke)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class _Canvas(anywidget.AnyWidget):
    """What both canvases share: the picture, the grade panel and the toolbar's traits."""

    _esm = CANVAS_JS
    mode = traitlets.Unicode("draw").tag(sync=True)
    display_size = traitlets.Int(studio.STUDIO_SIZE).tag(sync=True)
    image = traitlets.Unicode("").tag(sync=True)
    tool = traitlets.Unicode("spot").tag(sync=True)
    choices = traitlets.List(traitlets.Unicode()).tag(sync=True)
    choice = traitlets.Unicode("").tag(sync=True)
    grade = traitlets.Int(-1).tag(sync=True)
    explanation = traitlets.Unicode("").tag(sync=True)
    warning = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    message_is_error = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._on_message)

    def _say(self, text: str, error: bool = False) -> None:
        self.message, self.message_is_error = text, error

    def _show_grade(self, result: GradeResult | None, warning: str | None = None) -> None:
        self.grade = -1 if result is None else result.grade
        self.explanation = "" if result is None else result.explanation
        self.warning = warning or ""

    def _on_message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        handler = self._handlers().get(content.get("event"))
        if handler is None:
            return
        try:
            handler(content)
        except (ValueError, TypeError, KeyError, FileExistsError) as exc:
            self._say(str(exc), error=True)

    def _handlers(self) -> dict[str, Callable[[dict], None]]:
        raise NotImplementedError


class DrawingCanvas(_Canvas):
    """The drawing studio on a canvas. ``canvas.state`` is the current
    :class:`~synovis_lib.studio.StudioState`; scenes are saved to ``save_dir``."""

    intended = traitlets.Int(1).tag(sync=True)
    grades = traitlets.List(traitlets.Int(), list(range(N_GRADES))).tag(sync=True)
    layer = traitlets.Unicode("vascularity").tag(sync=True)
    layers = traitlets.List(traitlets.Unicode(), list(LAYERS)).tag(sync=True)
    brush = traitlets.Float(studio.BRUSH).tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    can_redo = traitlets.Bool(False).tag(sync=True)
    filename = traitlets.Unicode("my_scene.json").tag(sync=True)

    def __init__(self, state: studio.StudioState, save_dir: str | os.PathLike = "studio_scenes"):
        ids = [s.id for s in synth.load_basic_scenes()]
        super().__init__(mode="draw", display_size=state.size, choices=ids, choice=state.scene.id)
        self.save_dir = Path(save_dir)
        self.state = state
        self._show(state)
        self.observe(self._on_choice, "choice")
        self.observe(self._on_intended, "intended")

    def _show(self, state: studio.StudioState) -> None:
        """Put ``state`` on the canvas: picture, grade, warning, undo and redo."""
        rgb, result = studio.snapshot(state)
        self.image = png_data_url(rgb)
        self._show_grade(result, studio.grade_warning(state, result))
        self.intended = state.intended_grade
        self.can_undo, self.can_redo = state.can_undo, state.can_redo

    def apply(
        self, function: Callable[..., studio.StudioState], *args: Any, final: bool = True
    ) -> None:
        """Run one studio function on the state and show the result; a drag in progress
        (``final=False``) is shown but not kept, so it is one undo step when it ends."""
        state = function(self.state, *args)
        if final:
            self.state = state
            self._say("")
        self._show(state)

    def _on_choice(self, change: dict) -> None:
        if change["new"] in self.choices and change["new"] != self.state.scene.id:
            self.apply(studio.choose_scene, change["new"])

    def _on_intended(self, change: dict) -> None:
        if change["new"] != self.state.intended_grade:
            self.apply(studio.set_intended_grade, change["new"])

    def _save(self, _content: dict) -> None:
        name = self.filename.strip()
        if not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"save as {name!r}: give a file name, not a path")
        path = studio.save_scene(self.state, self.save_dir / name)
        self._say(f"saved {path}")

    def _stroke(self, content: dict) -> None:
        brush = studio.erase if content["tool"] == "erase" else studio.paint
        points = [(float(x), float(y)) for x, y in content["points"]]
        self.apply(brush, points, self.brush, final=bool(content.get("final", True)))

    def _wheel(self, content: dict) -> None:
        steps = int(content["steps"])
        if content.get("rotate"):
            self.apply(studio.rotate_layer, self.layer, steps * WHEEL_DEGREES)
        else:
            self.apply(studio.scale_layer, self.layer, WHEEL_SCALE**steps)

    def _handlers(self) -> dict[str, Callable[[dict], None]]:
        return {
            "click": lambda c: self.apply(studio.place_spot, float(c["x"]), float(c["y"])),
            "stroke": self._stroke,
            "move": lambda c: self.apply(
                studio.move_layer, self.layer, float(c["dx"]), float(c["dy"]), final=c["final"]
            ),
            "wheel": self._wheel,
            "undo": lambda c: self.apply(studio.undo),
            "redo": lambda c: self.apply(studio.redo),
            "save": self._save,
        }


class ScoringCanvas(_Canvas):
    """The scoring aid on a canvas: clinical images, an outline drawn on one, its grade.
    Outlines are saved to ``save_dir`` as ``<image>.outline.json``."""

    outline = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)

    def __init__(
        self,
        names: Sequence[str],
        images: np.ndarray,
        save_dir: str | os.PathLike = "outlines",
        display_size: int = studio.STUDIO_SIZE,
    ):
        if len(names) != len(images) or not len(names):
            raise ValueError(f"{len(names)} image names for {len(images)} images")
        super().__init__(
            mode="score",
            tool="outline",
            display_size=display_size,
            choices=[str(n) for n in names],
            choice=str(names[0]),
        )
        self.images = images
        self.save_dir = Path(save_dir)
        self.result: GradeResult | None = None
        self._open(self.choice)
        self.observe(lambda change: self._open(change["new"]), "choice")

    def _open(self, name: str) -> None:
        image = self.images[self.choices.index(name)]
        big = Image.fromarray(image).resize((self.display_size,) * 2, Image.Resampling.NEAREST)
        self.image = png_data_url(np.asarray(big))
        self.set_outline([])

    def set_outline(self, points: Sequence[tuple[float, float]]) -> GradeResult | None:
        """Outline the synovium of the open image (image fractions) and grade inside it."""
        image = self.images[self.choices.index(self.choice)]
        self.result = outline.grade_outline(image, points) if len(points) else None
        self.outline = [[float(x), float(y)] for x, y in points]
        self._show_grade(self.result)
        self._say("" if points else "Outline the synovium: drag around it with the mouse or pen.")
        return self.result

    def _save(self, _content: dict) -> None:
        if self.result is None:
            raise ValueError("outline the synovium before saving")
        path = outline.save_outline(self.save_dir, self.choice, self.outline, self.result)
        self._say(f"saved {path}")

    def _handlers(self) -> dict[str, Callable[[dict], None]]:
        return {
            "outline": lambda c: self.set_outline(
                studio.thin_path([(float(x), float(y)) for x, y in c["points"]], OUTLINE_SPACING)
            ),
            "clear": lambda c: self.set_outline([]),
            "save": self._save,
        }


def drawing_studio(
    scene: Scene | str | None = None,
    save_dir: str | os.PathLike = "studio_scenes",
    size: int = studio.STUDIO_SIZE,
) -> DrawingCanvas:
    """The interactive drawing studio (display it in a notebook). Saved scenes go to ``save_dir``."""
    return DrawingCanvas(studio.new_state(scene, size), save_dir)


def scoring_aid(
    names: Sequence[str], images: np.ndarray, save_dir: str | os.PathLike = "outlines"
) -> ScoringCanvas:
    """The interactive scoring aid over clinical images (e.g. a cohort's ``table["image"]``
    and ``images``, simulated or from :func:`synovis_lib.clinic.load_clinic`)."""
    return ScoringCanvas(names, images, save_dir)
