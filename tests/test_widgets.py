"""The figures of scenes for the notebooks, and the canvas widgets driven as the browser
drives them (the messages canvas.js sends); tests/test_studio_browser.py drives them in a
real browser."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from synovis_lib import studio, synth, widgets


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plots_for_the_notebooks():
    examples = widgets.worked_examples()
    grades = [synth.check(scene).grade for _, scene in examples]
    assert grades == [1, 2, 1, 2, 1, 2, 0, 2, 3]
    fig = widgets.plot_scenes([s for _, s in examples[:3]], [t for t, _ in examples[:3]], ncols=3)
    assert "grade 1" in fig.axes[0].get_title()
    fig = widgets.plot_layers(synth.basic_scene("g2_large_region"), 64)
    assert len(fig.axes) == 4 and "grade 2" in fig.axes[3].get_title()
    ts = synth.generate_training_set(0, 32, {0: 2, 1: 2, 2: 2, 3: 2})
    fig = widgets.plot_gallery(ts, per_grade=2)
    assert len(fig.axes) == 8


# ----------------------------------------------------------------------------- the canvases


def _send(canvas, **content) -> None:
    """What canvas.js does: a custom message from the browser."""
    canvas._on_message(canvas, content, [])


def _picture(canvas) -> np.ndarray:
    header, data = canvas.image.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


def test_the_drawing_canvas_runs_the_studio_functions_on_pointer_events(tmp_path):
    canvas = widgets.drawing_studio("g0_grey_scale_synovitis", save_dir=tmp_path)
    assert (canvas.grade, canvas.warning, canvas.can_undo) == (0, "", False)
    assert _picture(canvas).shape == (studio.STUDIO_SIZE, studio.STUDIO_SIZE, 3)
    x, y = studio.free_point(canvas.state)
    _send(canvas, event="click", x=x, y=y)
    assert canvas.grade == 1 and "1 single spot" in canvas.explanation
    assert "not the intended grade 0" in canvas.warning and canvas.can_undo
    path = [[x - 0.05 + 0.005 * i, y] for i in range(21)]
    _send(canvas, event="stroke", tool="paint", points=path[:8], final=False)
    assert len(canvas.state.scene.strokes) == 0  # a drag in progress is shown, not kept
    _send(canvas, event="stroke", tool="paint", points=path, final=True)
    assert len(canvas.state.scene.strokes) == 1 and canvas.state.scene.strokes[0].mode == "paint"
    _send(canvas, event="undo")
    assert len(canvas.state.scene.strokes) == 0 and canvas.can_redo
    _send(canvas, event="redo")
    canvas.brush = 0.03
    _send(canvas, event="stroke", tool="erase", points=path, final=True)
    assert canvas.state.scene.strokes[-1].radius == pytest.approx(0.03)
    assert canvas.grade == 0


def test_the_drawing_canvas_moves_scales_and_turns_the_chosen_layer(tmp_path):
    canvas = widgets.drawing_studio("g1_single_spot", save_dir=tmp_path)
    canvas.layer = "bone_surface"
    _send(canvas, event="move", dx=0.02, dy=-0.01, final=False)
    assert canvas.state.scene.bone_surface.transform.dx == 0  # still dragging
    _send(canvas, event="move", dx=0.04, dy=-0.02, final=True)
    assert canvas.state.scene.bone_surface.transform.dx == pytest.approx(0.04)
    _send(canvas, event="wheel", steps=2, rotate=False)
    assert canvas.state.scene.bone_surface.transform.scale == pytest.approx(widgets.WHEEL_SCALE**2)
    _send(canvas, event="wheel", steps=-3, rotate=True)
    assert canvas.state.scene.bone_surface.transform.angle == pytest.approx(-3)


def test_the_drawing_canvas_saves_reports_errors_and_follows_its_pickers(tmp_path):
    canvas = widgets.drawing_studio("g1_three_spots", save_dir=tmp_path)
    _send(canvas, event="save")
    assert (tmp_path / "my_scene.json").exists() and canvas.message.startswith("saved")
    canvas.filename = "../elsewhere.json"
    _send(canvas, event="save")
    assert canvas.message_is_error and "give a file name, not a path" in canvas.message
    _send(canvas, event="undo")
    assert canvas.message == "nothing to undo" and canvas.message_is_error
    canvas.choice = "g3_small_joint"
    assert canvas.state.scene.id == "g3_small_joint" and canvas.intended == 3 and canvas.grade == 3
    canvas.intended = 2
    assert canvas.state.intended_grade == 2 and "not the intended grade 2" in canvas.warning
    _send(canvas, event="no such event")
    assert canvas.state.intended_grade == 2
