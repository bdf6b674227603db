"""The drawing studio's state functions: every edit the canvas makes, without a browser."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from synovis_lib import synth
from synovis_lib.profiles import INPUT_SIZE
from synovis_lib.studio import (
    STUDIO_SIZE,
    UNDO_LIMIT,
    add_vessel,
    choose_scene,
    current_grade,
    delete_vessel,
    erase,
    grade_warning,
    load_scene,
    move_layer,
    move_vessel,
    new_state,
    paint,
    place_spot,
    redo,
    resize_vessel,
    rotate_layer,
    save_scene,
    scale_layer,
    select_vessel,
    set_intended_grade,
    set_layer_transform,
    snapshot,
    studio_figure,
    thin_path,
    undo,
)
from synovis_lib.synth import Scene, Transform


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


# ----------------------------------------------------------------------------- the canvas's edits


def _synovium_centre(state) -> tuple[float, float]:
    """The image point at the middle of the visible synovium (image fractions)."""
    mask = synth.render(state.scene, 224).synovium
    rows, cols = np.nonzero(mask)
    row, col = int(np.median(rows)), int(np.median(cols))
    assert mask[row, col]
    return (col + 0.5) / 224, (row + 0.5) / 224


def _across(state, half_width: float, n: int = 30) -> list[tuple[float, float]]:
    """A horizontal drag through the synovium's middle."""
    x, y = _synovium_centre(state)
    return [(x - half_width + 2 * half_width * i / (n - 1), y) for i in range(n)]


def test_a_click_places_a_spot_under_the_pointer_even_on_a_moved_layer():
    state = new_state("g0_grey_scale_synovitis")
    assert state.size == STUDIO_SIZE
    x, y = _synovium_centre(state)
    clicked = place_spot(state, x, y)
    assert (clicked.scene.vessels[0].x, clicked.scene.vessels[0].y) == pytest.approx(
        (x, y), abs=1e-4
    )
    assert current_grade(clicked).n_single == 1 and current_grade(clicked).grade == 1
    moved = set_layer_transform(state, "vascularity", dx=0.05, scale=1.2, angle=10)
    vessel = place_spot(moved, x, y).scene.vessels[0]
    assert moved.scene.vascularity.transform.apply(vessel.x, vessel.y) == pytest.approx(
        (x, y), abs=2e-4
    )
    with pytest.raises(ValueError, match="x must be a finite number, got nan"):
        place_spot(state, float("nan"), 0.5)


def test_painting_a_drag_makes_a_confluent_area_and_a_wide_one_grade_3():
    state = new_state("g0_grey_scale_synovitis")
    stroke = paint(state, _across(state, 0.06), radius=0.015)
    result = current_grade(stroke)
    assert (result.grade, result.n_confluent, result.n_single) == (1, 1, 0)
    assert len(stroke.scene.strokes) == 1 and stroke.scene.strokes[0].mode == "paint"
    dab = paint(state, [_synovium_centre(state)], radius=0.004)
    assert current_grade(dab).n_single == 1
    flooded = paint(state, _across(state, 0.3), radius=0.1)
    assert current_grade(flooded).grade == 3 and current_grade(flooded).coverage > 0.5
    assert "not the intended grade 0" in grade_warning(flooded)


def test_the_brush_size_sets_the_painted_area():
    state = new_state("g0_grey_scale_synovitis")
    areas = [current_grade(paint(state, _across(state, 0.05), r)).signal_area for r in (0.01, 0.02)]
    assert 1.6 < areas[1] / areas[0] < 2.4  # a capsule's area grows about with its width


def test_erasing_across_a_painted_area_splits_it_and_erasing_a_spot_removes_it():
    state = new_state("g0_grey_scale_synovitis")
    painted = paint(state, _across(state, 0.08), radius=0.015)
    x, y = _synovium_centre(state)
    split = erase(painted, [(x, y - 0.05), (x, y + 0.05)], radius=0.01)
    assert current_grade(split).n_confluent == 2
    assert [s.mode for s in split.scene.strokes] == ["paint", "erase"]
    spot = place_spot(state, x, y)
    assert current_grade(erase(spot, [(x, y)], radius=0.02)).grade == 0
    assert len(erase(spot, [(x, y)]).scene.vessels) == 1  # the vessel stays, covered by the eraser


def test_dragging_scaling_and_turning_a_layer_stop_at_its_ranges():
    state = new_state("g1_single_spot")
    moved = move_layer(state, "vascularity", 0.0, -0.15)
    assert moved.scene.vascularity.transform == Transform(dy=-0.15)
    assert current_grade(moved).grade == 0 and grade_warning(moved)
    far = move_layer(moved, "bone_surface", 0.9, 0.0)
    assert far.scene.bone_surface.transform.dx == 0.5
    assert scale_layer(state, "joint_tissue", 1.1).scene.joint_tissue.transform.scale == 1.1
    assert scale_layer(state, "joint_tissue", 100).scene.joint_tissue.transform.scale == 4
    assert rotate_layer(state, "bone_surface", -90).scene.bone_surface.transform.angle == -45
    with pytest.raises(ValueError, match="scale factor must be a positive number"):
        scale_layer(state, "joint_tissue", 0)


def test_paint_on_a_scaled_layer_keeps_the_brush_size_on_the_picture():
    state = new_state("g0_grey_scale_synovitis")
    plain = current_grade(paint(state, _across(state, 0.04), 0.012)).signal_area
    scaled = set_layer_transform(state, "vascularity", scale=2.0)
    stroke = paint(scaled, _across(state, 0.04), 0.012)
    assert stroke.scene.strokes[0].radius == pytest.approx(0.006)
    assert current_grade(stroke).signal_area == pytest.approx(plain, rel=0.1)


def test_undo_and_redo_walk_the_edits_and_a_new_edit_clears_redo():
    state = new_state("g0_grey_scale_synovitis")
    assert not state.can_undo and not state.can_redo
    with pytest.raises(ValueError, match="nothing to undo"):
        undo(state)
    one = place_spot(state, *_synovium_centre(state))
    two = paint(one, _across(state, 0.05))
    assert undo(two).scene == one.scene and undo(undo(two)).scene == state.scene
    assert redo(undo(two)).scene == two.scene and redo(undo(two)).can_redo is False
    branched = move_layer(undo(two), "bone_surface", 0.01, 0.0)
    assert branched.can_undo and not branched.can_redo
    with pytest.raises(ValueError, match="nothing to redo"):
        redo(branched)
    assert undo(choose_scene(two, "g3_small_joint")).scene == two.scene
    many = state
    for _ in range(UNDO_LIMIT + 5):
        many = move_layer(many, "bone_surface", 0.001, 0.0)
    assert len(many.undo_stack) == UNDO_LIMIT


def test_a_drawn_scene_saves_loads_and_makes_variants_of_its_grade(tmp_path):
    state = new_state("g0_grey_scale_synovitis")
    state = paint(state, _across(state, 0.05), radius=0.012)
    state = place_spot(state, *_synovium_centre(state))
    state = set_intended_grade(state, current_grade(state).grade)
    path = save_scene(state, tmp_path / "My drawing.json")
    saved = json.loads(path.read_text())
    assert saved["id"] == "My_drawing" and len(saved["layers"]["vascularity"]["strokes"]) == 1
    loaded = load_scene(path)
    assert (
        loaded.scene.strokes == state.scene.strokes
        and loaded.intended_grade == state.intended_grade
    )
    assert current_grade(loaded).grade == current_grade(state).grade
    for size in (64, INPUT_SIZE, 600):  # a drawing renders at any size, same grade
        assert synth.check(loaded.scene, size).grade == loaded.intended_grade
    variants = synth.variants_of(loaded.scene, 4, seed=3)
    assert list(variants.labels) == [loaded.intended_grade] * 4
    mods = [json.loads(m) for m in variants.provenance["modifications"]]
    assert all(mods)


def test_too_many_strokes_are_refused_with_a_way_out():
    state = new_state("g0_grey_scale_synovitis")
    for _ in range(synth.MAX_STROKES):
        state = paint(state, [(0.5, 0.5)], 0.005)
    with pytest.raises(ValueError, match="64 strokes, the most a scene may have: undo some"):
        paint(state, [(0.5, 0.5)], 0.005)
    with pytest.raises(ValueError, match="a stroke needs at least one point"):
        erase(new_state(), [])


def test_thin_path_drops_close_points_and_caps_the_count():
    assert thin_path([(0.1, 0.1), (0.1001, 0.1), (0.2, 0.1)], 0.01) == [(0.1, 0.1), (0.2, 0.1)]
    assert thin_path([(0.1, 0.1), (0.1001, 0.1)], 0.01) == [(0.1, 0.1), (0.1001, 0.1)]
    long = [(i / 10_000, 0.5) for i in range(10_000)]
    thinned = thin_path(long, 0.0)
    assert (
        len(thinned) == synth.MAX_STROKE_POINTS
        and thinned[0] == long[0]
        and thinned[-1] == long[-1]
    )


def test_the_snapshot_outlines_the_synovium_rings_the_selection_and_grades_once():
    state = new_state("g0_grey_scale_synovitis", size=200)
    rgb, result = snapshot(state)
    assert result == current_grade(state)
    assert rgb.shape == (200, 200, 3) and rgb.dtype == np.uint8
    outline = np.all(rgb == (0, 191, 255), axis=-1)
    synovium = synth.render(state.scene, 200).synovium
    assert outline.any() and (outline <= synovium).all()
    selected = place_spot(state, *_synovium_centre(state))
    rgb, result = snapshot(selected)
    assert np.all(rgb == (0, 255, 255), axis=-1).sum() > 20 and result.n_single == 1
    tiny = new_state("g1_three_spots", size=32)  # graded at 64 px, as everywhere
    assert snapshot(tiny)[0].shape == (32, 32, 3) and snapshot(tiny)[1] == current_grade(tiny)
