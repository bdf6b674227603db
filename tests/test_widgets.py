"""The drawing studio's state functions, its static figure and the ipywidgets wrapper."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from synovis_lib import synth, widgets
from synovis_lib.synth import Scene, Transform
from synovis_lib.widgets import (
    add_vessel,
    choose_scene,
    current_grade,
    delete_vessel,
    grade_warning,
    move_vessel,
    new_state,
    resize_vessel,
    save_scene,
    select_vessel,
    set_intended_grade,
    set_layer_transform,
    studio_figure,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_new_state_starts_from_a_basic_scene():
    state = new_state("g1_three_spots")
    assert state.scene == synth.basic_scene("g1_three_spots")
    assert state.intended_grade == 1 and state.selected is None
    assert new_state().scene.grade == 1
    assert current_grade(state).grade == 1 and grade_warning(state) is None


def test_adding_a_fourth_spot_breaks_grade_1_and_deleting_it_restores_it():
    state = new_state("g1_three_spots")
    state = add_vessel(state)
    assert len(state.scene.vessels) == 4 and state.selected == 3
    result = current_grade(state)
    assert (result.grade, result.n_single) == (2, 4)
    warning = grade_warning(state)
    assert warning and "grade 2, not the intended grade 1" in warning
    state = delete_vessel(state, 3)
    assert len(state.scene.vessels) == 3 and state.selected == 2
    assert current_grade(state).grade == 1 and grade_warning(state) is None


def test_adding_twice_gives_two_spots_not_one():
    state = add_vessel(add_vessel(new_state("g0_grey_scale_synovitis")))
    assert len(state.scene.vessels) == 2
    assert (current_grade(state).n_single, current_grade(state).grade) == (2, 1)


def test_new_vessels_land_in_the_synovium_and_can_be_moved_out():
    state = add_vessel(new_state("g0_grey_scale_synovitis"), kind="confluent")
    assert current_grade(state).n_confluent == 1
    state = move_vessel(state, 0, 0.5, 0.15)  # into the subcutis
    assert state.scene.vessels[0].x == 0.5 and state.selected == 0
    result = current_grade(state)
    assert result.grade == 0 and result.ignored_area > 0


def test_resize_keeps_shape_and_turns_a_spot_confluent():
    state = add_vessel(new_state("g0_grey_scale_synovitis"), kind="spot")
    assert current_grade(state).n_single == 1
    state = resize_vessel(state, 0, 0.04)
    vessel = state.scene.vessels[0]
    assert vessel.rx == vessel.ry == 0.04
    assert current_grade(state).n_confluent == 1
    state = resize_vessel(state, 0, 0.03, 0.015)
    assert (state.scene.vessels[0].rx, state.scene.vessels[0].ry) == (0.03, 0.015)


def test_layer_transforms_change_the_drawing_and_can_break_the_grade():
    state = new_state("g1_single_spot")
    moved = set_layer_transform(state, "vascularity", dy=-0.15)
    assert moved.scene.vascularity.transform == Transform(dy=-0.15)
    assert current_grade(moved).grade == 0 and grade_warning(moved)
    scaled = set_layer_transform(state, "bone_surface", scale=1.1, angle=3)
    assert scaled.scene.bone_surface.transform == Transform(scale=1.1, angle=3)
    assert not np.array_equal(synth.render(scaled.scene, 64).rgb, synth.render(state.scene, 64).rgb)
    with pytest.raises(ValueError, match="unknown layer 'skin'"):
        set_layer_transform(state, "skin", dx=0.1)
    with pytest.raises(ValueError, match=r"unknown transform field\(s\) \['shear'\]"):
        set_layer_transform(state, "bone_surface", shear=0.1)


def test_bad_indices_and_grades_are_explained():
    state = new_state("g1_single_spot")
    with pytest.raises(ValueError, match="vessel index 5 out of range: the scene has 1 vessel"):
        move_vessel(state, 5, 0.5, 0.5)
    with pytest.raises(ValueError, match="vessel index -1"):
        delete_vessel(state, -1)
    with pytest.raises(ValueError, match="outside the canvas"):
        move_vessel(state, 0, 1.5, 0.5)
    with pytest.raises(ValueError, match="intended grade must be"):
        set_intended_grade(state, 4)
    assert select_vessel(state, 0).selected == 0 and select_vessel(state, None).selected is None


def test_choose_scene_and_intended_grade():
    state = choose_scene(new_state("g1_single_spot"), "g3_small_joint")
    assert state.scene.id == "g3_small_joint" and state.intended_grade == 3
    state = set_intended_grade(state, 2)
    assert "not the intended grade 2" in grade_warning(state)


def test_save_scene_writes_valid_json_only_when_grade_matches(tmp_path):
    state = add_vessel(new_state("g0_grey_scale_synovitis"))
    with pytest.raises(ValueError, match="not saved"):
        save_scene(state, tmp_path / "wrong.json")
    assert not (tmp_path / "wrong.json").exists()
    state = set_intended_grade(state, 1)
    path = save_scene(state, tmp_path / "my_grade_1.json")
    saved = Scene.load(path)
    assert saved.id == "my_grade_1" and saved.grade == 1 and len(saved.vessels) == 1
    assert synth.check(saved).grade == 1


def test_studio_figure_is_static_and_titled_with_the_grade():
    state = add_vessel(new_state("g1_three_spots"))
    fig = studio_figure(state)
    ax = fig.axes[0]
    assert "grade 2 (intended 1)" in ax.get_title()
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["1", "2", "3", "4"]
    assert any("WARNING" in t.get_text() for t in fig.texts)


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


def test_the_widget_drives_the_same_state(tmp_path):
    studio = widgets.drawing_studio("g1_three_spots", save_dir=tmp_path)
    assert studio.state.scene.id == "g1_three_spots"
    studio.add_spot.click()
    assert len(studio.state.scene.vessels) == 4 and studio.state.selected == 3
    assert "grade 2" in studio.grade_html.value and "crimson" in studio.grade_html.value
    studio.vessel_x.value = 0.3
    assert studio.state.scene.vessels[3].x == pytest.approx(0.3)
    studio.delete.click()
    assert len(studio.state.scene.vessels) == 3
    studio.layer_picker.value = "bone_surface"
    studio.layer_sliders["dy"].value = 0.02
    assert studio.state.scene.bone_surface.transform.dy == pytest.approx(0.02)
    studio.save.click()
    assert (tmp_path / "my_scene.json").exists() and "saved" in studio.message.value
    studio.scene_picker.value = "g3_small_joint"
    assert studio.state.intended_grade == 3 and studio.grade_picker.value == 3
