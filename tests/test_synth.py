"""Scenes, rendering, checked variants, the cached training set and ``synovis generate``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from synovis_lib import cli, synth
from synovis_lib.grading import grade_from_masks
from synovis_lib.pipeline import training_set_for
from synovis_lib.profiles import get_profile
from synovis_lib.synth import (
    Scene,
    Transform,
    Vessel,
    apply_modifications,
    basic_scene,
    check,
    generate_training_set,
    load_basic_scenes,
    load_training_set,
    place_vessels,
    render,
    render_layers,
    save_training_set,
    variant_scene,
    variants_of,
)

SMALL = {0: 5, 1: 4, 2: 4, 3: 4}


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    return load_basic_scenes()


@pytest.fixture(scope="module")
def small_set() -> synth.TrainingSet:
    return generate_training_set(seed=0, size=64, counts=SMALL)


def test_seventeen_basic_scenes_five_four_four_four(scenes):
    assert len(scenes) == 17
    assert [sum(s.grade == g for s in scenes) for g in range(4)] == [5, 4, 4, 4]
    assert len({s.id for s in scenes}) == 17
    assert all(s.description for s in scenes)


@pytest.mark.parametrize("size", [64, 128, 224])
def test_every_basic_scene_has_its_grade_at_any_size(scenes, size):
    for scene in scenes:
        rendered = render(scene, size)
        assert grade_from_masks(rendered.vascular, rendered.synovium).grade == scene.grade, scene.id


def test_basic_scenes_are_visibly_different(scenes):
    shapes = {(s.joint_tissue, s.bone_surface) for s in scenes}
    assert len(shapes) == 17, "every scene has its own joint shape or recess"
    images = np.stack([render(s, 64).rgb.astype(float) for s in scenes])
    for i in range(17):
        for j in range(i + 1, 17):
            assert np.abs(images[i] - images[j]).mean() > 2, (scenes[i].id, scenes[j].id)


@pytest.mark.parametrize("size", [32, 64, 224, 300])
def test_render_shapes_and_types(size):
    rendered = render(basic_scene("g2_three_confluent"), size)
    assert rendered.rgb.shape == (size, size, 3) and rendered.rgb.dtype == np.uint8
    assert rendered.vascular.shape == rendered.synovium.shape == (size, size)
    assert rendered.vascular.dtype == rendered.synovium.dtype == bool
    assert rendered.synovium.sum() > 0 and rendered.vascular.sum() > 0


def test_image_looks_like_a_power_doppler_scan():
    rendered = render(basic_scene("g3_filled_recess"), 224)
    rgb = rendered.rgb.astype(int)
    grey = ~rendered.vascular
    # B-mode is grey, Doppler is red -> orange -> yellow (red channel dominant, little blue).
    assert (rgb[grey, 0] == rgb[grey, 1]).all() and (rgb[grey, 1] == rgb[grey, 2]).all()
    colour = rgb[rendered.vascular]
    assert (colour[:, 0] >= colour[:, 1]).all() and (colour[:, 0] > colour[:, 2]).all()
    assert colour[:, 0].min() > 100
    # Dark background (gel and acoustic shadow), bright bone line, darker synovium.
    assert rgb[:3].mean() < 20 and rgb[-20:].mean() < 20
    assert rgb.max() > 230
    assert rgb[rendered.synovium & grey].mean() < rgb[:, :, 0][grey].mean()


def test_coverage_does_not_depend_on_size():
    scene = basic_scene("g2_large_region")
    coverages = [check(scene, size).coverage for size in (64, 128, 224, 320)]
    assert max(coverages) - min(coverages) < 0.03


def test_json_round_trip(scenes, tmp_path):
    for scene in scenes:
        assert Scene.from_json(scene.to_json()) == scene
    path = scenes[5].save(tmp_path / "scene.json")
    assert Scene.load(path) == scenes[5]


def _scene_dict() -> dict:
    return json.loads(basic_scene("g1_three_spots").to_json())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["layers"].update(bones={}), r"unknown layer\(s\) \['bones'\]"),
        (
            lambda d: d["layers"]["vascularity"]["vessels"][1].update(rx=-0.01),
            r"layers\.vascularity\.vessels\[1\]: rx must be > 0",
        ),
        (
            lambda d: d["layers"]["vascularity"]["vessels"][0].update(x=1.3),
            r"layers\.vascularity\.vessels\[0\]: x = 1.3 is outside the canvas",
        ),
        (
            lambda d: d["layers"]["joint_tissue"].update(recess_width=-0.2),
            r"layers\.joint_tissue: recess_width must be > 0",
        ),
        (
            lambda d: d["layers"]["bone_surface"].update(cortex_colour=3),
            r"layers\.bone_surface: unknown field\(s\) \['cortex_colour'\]",
        ),
        (
            lambda d: d["layers"]["bone_surface"]["transform"].update(scale=0),
            r"layers\.bone_surface\.transform: scale must be > 0",
        ),
        (
            lambda d: d["layers"]["vascularity"]["vessels"][2].update(kind="blob"),
            r"vessels\[2\]: kind must be one of",
        ),
        (lambda d: d.update(grade=5), "grade must be 0, 1, 2 or 3"),
        (lambda d: d.update(grade=True), "grade must be 0, 1, 2 or 3, got True"),
        (lambda d: d.update(description=7), "description must be text"),
        (
            lambda d: d["layers"]["vascularity"]["vessels"][0].update(rx="big"),
            r"layers\.vascularity\.vessels\[0\]: rx must be a number, got 'big'",
        ),
        (
            lambda d: d["layers"]["joint_tissue"].update(recess_skew=0.95),
            r"layers\.joint_tissue: recess_skew must be within -0\.9\.\.0\.9, got 0\.95",
        ),
        (lambda d: d.pop("id"), "missing field 'id'"),
    ],
)
def test_invalid_scene_json_names_the_field(edit, message):
    data = _scene_dict()
    edit(data)
    with pytest.raises(ValueError, match=message):
        Scene.from_json(json.dumps(data), source="bad.json")


def test_invalid_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Scene.load(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        Scene.load(tmp_path / "broken.json")
    with pytest.raises(ValueError, match="outside the canvas"):
        Vessel(-0.1, 0.5)


def test_transform_invert_undoes_apply():
    tr = Transform(dx=0.03, dy=-0.02, scale=1.1, angle=5)
    x, y = tr.apply(0.3, 0.6)
    assert tr.invert(x, y) == pytest.approx((0.3, 0.6))


def test_layer_transforms_move_the_layer():
    scene = basic_scene("g1_single_spot")
    base = render(scene, 100)
    down = render(scene.with_transform("bone_surface", Transform(dy=0.05)), 100)
    # The bone line moves 5 px down: the first bright pixel of column 10 moves by 5.
    assert np.argmax(down.rgb[:, 10, 0] > 200) - np.argmax(base.rgb[:, 10, 0] > 200) == 5
    moved = render(scene.with_transform("vascularity", Transform(dx=0.1)), 100)
    shift = np.argwhere(moved.vascular).mean(0) - np.argwhere(base.vascular).mean(0)
    assert shift == pytest.approx([0, 10], abs=0.6)
    brighter = render(scene.with_transform("joint_tissue", Transform(gain=1.2)), 100)
    assert brighter.rgb.mean() > base.rgb.mean()


def test_apply_modifications_and_errors():
    scene = basic_scene("g2_six_spots")
    mods = [
        {"layer": "bone_surface", "op": "move", "dx": 0.01, "dy": -0.02},
        {"layer": "bone_surface", "op": "scale", "factor": 1.1},
        {"layer": "joint_tissue", "op": "rotate", "degrees": 3.0},
        {"layer": "vascularity", "op": "intensity", "gain": 0.8},
        {"layer": "vascularity", "op": "move_spots", "seed": 1, "max": 0.01},
    ]
    out = apply_modifications(scene, mods)
    assert out.bone_surface.transform == Transform(dx=0.01, dy=-0.02, scale=1.1)
    assert out.joint_tissue.transform.angle == 3.0
    assert out.vascularity.transform.gain == 0.8
    moved = [abs(a.x - b.x) for a, b in zip(out.vessels, scene.vessels, strict=True)]
    assert 0 < max(moved) <= 0.01
    with pytest.raises(ValueError, match="unknown layer 'skin'"):
        apply_modifications(scene, [{"layer": "skin", "op": "move", "dx": 0, "dy": 0}])
    with pytest.raises(ValueError, match="unknown modification op 'warp'"):
        apply_modifications(scene, [{"layer": "joint_tissue", "op": "warp"}])


def test_training_set_counts_labels_and_provenance(small_set):
    ts = small_set
    assert ts.images.shape == (17, 64, 64, 3) and ts.images.dtype == np.uint8
    assert ts.labels.dtype == np.int64 and ts.counts() == SMALL
    p = ts.provenance
    assert list(p.columns[:5]) == ["id", "grade", "basic_scene", "modifications", "seed"]
    assert (p["grade"].to_numpy() == ts.labels).all() and p["id"].is_unique
    assert (p["seed"] == 0).all()
    # Grade g's images cycle through the basic scenes of grade g: here each once.
    assert sorted(p["basic_scene"]) == sorted(s.id for s in load_basic_scenes())
    assert all(len(json.loads(m)) >= 1 for m in p["modifications"])


def test_every_image_replays_from_provenance_with_its_grade(small_set):
    for row, image in zip(small_set.provenance.to_dict("records"), small_set.images, strict=True):
        rendered = render(variant_scene(row), 64)
        assert grade_from_masks(rendered.vascular, rendered.synovium).grade == row["grade"]
        assert np.array_equal(rendered.rgb, image)


def test_full_paper_set_at_32_px_has_exact_counts_and_checked_grades():
    ts = generate_training_set(seed=0, size=32)
    assert ts.counts() == {0: 212, 1: 236, 2: 222, 3: 200} and len(ts) == 870
    assert ts.images.shape == (870, 32, 32, 3)
    rows = ts.provenance.to_dict("records")
    rechecked = [check(variant_scene(r), 32).grade for r in rows]
    assert (np.array(rechecked) == ts.labels).all()
    for i in (0, 300, 869):  # small images are box-filtered from the 64 px check render
        assert np.array_equal(synth.rerender(rows[i], 32), ts.images[i])
    # Every image is a real variant: none is a copy of its basic scene's own image.
    basics = {
        s.id: synth.rerender({"basic_scene": s.id, "modifications": "[]"}, 32)
        for s in load_basic_scenes()
    }
    copies = [
        r["id"]
        for r, im in zip(rows, ts.images, strict=True)
        if np.array_equal(im, basics[r["basic_scene"]])
    ]
    assert copies == []
    vesselless = {s.id for s in load_basic_scenes() if not s.vessels}
    assert not any(
        m["layer"] == "vascularity"
        for r in rows
        if r["basic_scene"] in vesselless
        for m in json.loads(r["modifications"])
    ), "an empty vascularity layer was 'modified'"
    summary = synth.modification_summary(ts.provenance)
    assert list(summary.index) == ["joint_tissue", "bone_surface", "vascularity"]
    assert set(summary.columns) == {"move", "scale", "rotate", "intensity", "move_spots"}
    assert summary.loc["joint_tissue", "move_spots"] == 0 and summary.to_numpy().min() >= 0
    assert summary.to_numpy().sum() == sum(
        len(json.loads(m)) for m in ts.provenance["modifications"]
    )


def test_same_seed_same_bytes_other_seed_other_images(small_set):
    again = generate_training_set(seed=0, size=64, counts=SMALL)
    assert np.array_equal(again.images, small_set.images)
    pd.testing.assert_frame_equal(again.provenance, small_set.provenance)
    other = generate_training_set(seed=1, size=64, counts=SMALL)
    assert not np.array_equal(other.images, small_set.images)
    differing = [
        not np.array_equal(a, b) for a, b in zip(other.images, small_set.images, strict=True)
    ]
    assert sum(differing) >= 15


def test_smaller_counts_give_a_prefix(small_set):
    fewer = generate_training_set(seed=0, size=64, counts={0: 2, 1: 0, 2: 1, 3: 0})
    assert np.array_equal(fewer.images[:2], small_set.images[:2])
    assert np.array_equal(fewer.images[2], small_set.images[9])


def test_counts_are_validated():
    with pytest.raises(ValueError, match="counts needs 4 numbers"):
        generate_training_set(counts=[1, 2, 3])
    with pytest.raises(ValueError, match="grades 0-3"):
        generate_training_set(counts={5: 1})


def test_save_load_and_profile_cache(tmp_path, small_set):
    path = save_training_set(small_set, tmp_path / "set.npz")
    loaded = load_training_set(path)
    assert np.array_equal(loaded.images, small_set.images)
    assert np.array_equal(loaded.labels, small_set.labels)
    pd.testing.assert_frame_equal(loaded.provenance, small_set.provenance, check_dtype=False)
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        load_training_set(tmp_path / "missing.npz")
    profile = get_profile("ci", announce=False, train_counts=(2, 2, 2, 2))
    first = training_set_for(profile)
    from synovis_lib import cache

    files = list((cache.cache_dir() / "training_set").iterdir())
    assert {f.suffix for f in files} == {".npz", ".csv"}
    second = training_set_for(profile)
    assert np.array_equal(first.images, second.images) and first.counts() == second.counts()
    assert first.images.shape[1] == profile.image_size


def test_cli_writes_image_folder_and_manifest(tmp_path, capsys):
    args = ["generate", "--seed", "0", "--size", "32", "--counts", "2", "1", "2", "1"]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 0
    manifest = pd.read_csv(tmp_path / "a" / "manifest.csv")
    assert len(manifest) == 6 and list(manifest["grade"]) == [0, 0, 1, 2, 2, 3]
    for g, n in enumerate([2, 1, 2, 1]):
        assert len(list((tmp_path / "a" / f"grade_{g}").glob("*.png"))) == n
    ts = generate_training_set(0, 32, [2, 1, 2, 1])
    for row, image in zip(manifest.itertuples(), ts.images, strict=True):
        assert row.file.startswith(f"grade_{row.grade}/")
        assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / row.file)), image)
        assert (tmp_path / "a" / row.file).read_bytes() == (tmp_path / "b" / row.file).read_bytes()
    assert cli.main([*args[:2], "1", *args[3:], "--out", str(tmp_path / "c")]) == 0
    first = manifest["file"][0]
    assert (tmp_path / "a" / first).read_bytes() != (tmp_path / "c" / first).read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary left"
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0  # an earlier output is replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert cli.main([*args, "--out", str(tmp_path / "mine")]) == 2
    assert "synovis did not write it" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_place_vessels_adds_what_was_asked():
    base = basic_scene("g0_grey_scale_synovitis")
    for n, kind, grade in [
        (3, "spot", 1),
        (4, "spot", 2),
        (2, "confluent", 1),
        (3, "confluent", 2),
    ]:
        scene = place_vessels(base, n, kind, seed=3)
        result = check(scene)
        assert len(scene.vessels) == n and result.grade == grade
        assert (result.n_single if kind == "spot" else result.n_confluent) == n
    with pytest.raises(ValueError, match="no room"):
        place_vessels(base, 60, "confluent")


def test_variants_of_one_scene():
    scene = place_vessels(basic_scene("g0_grey_scale_synovitis"), 2, "spot", seed=0)
    scene = dataclasses.replace(scene, id="new_grade_1", grade=1)
    ts = variants_of(scene, 5, seed=2, size=64)
    assert ts.counts() == {0: 0, 1: 5, 2: 0, 3: 0}
    assert list(ts.provenance["id"]) == [f"new_grade_1_v{i:03d}" for i in range(5)]


def test_render_layers_like_figure_2():
    layers = render_layers(basic_scene("g2_large_region"), 96)
    assert list(layers) == ["joint_tissue", "bone_surface", "vascularity"]
    assert all(img.shape == (96, 96, 3) and img.dtype == np.uint8 for img in layers.values())
    assert layers["vascularity"][..., 0].max() > 200 and layers["vascularity"][..., 2].mean() < 5
    assert (layers["bone_surface"][..., 0] == layers["bone_surface"][..., 2]).all()


def test_a_brush_stroke_paints_a_capsule_that_moves_with_its_layer_and_erase_clears_it():
    size = 400
    line = synth.Stroke(((0.3, 0.2), (0.6, 0.2)), radius=0.025)
    scene = synth.Scene("painted", 1, vascularity=synth.Vascularity(strokes=(line,)))
    painted = synth.render(scene, size).vascular
    capsule = (0.3 * 2 * 0.025 + np.pi * 0.025**2) * size**2
    assert painted.sum() == pytest.approx(capsule, rel=0.03)
    rows, cols = np.nonzero(painted)
    assert (rows.mean() + 0.5) / size == pytest.approx(0.2, abs=0.003)
    assert (cols.mean() + 0.5) / size == pytest.approx(0.45, abs=0.003)
    moved = scene.with_transform("vascularity", synth.Transform(dy=0.1, scale=1.5))
    moved_paint = synth.render(moved, size).vascular  # (0.45, 0.2) -> (0.425, 0.05) + dy
    rows, cols = np.nonzero(moved_paint)
    assert (rows.mean() + 0.5) / size == pytest.approx(0.15, abs=0.003)
    assert (cols.mean() + 0.5) / size == pytest.approx(0.425, abs=0.003)
    assert moved_paint.sum() == pytest.approx(capsule * 1.5**2, rel=0.03)
    spot = synth.Vessel(0.45, 0.2, 0.02, 0.02)
    rubbed = synth.Stroke(((0.45, 0.2),), radius=0.05, mode="erase")
    erased = scene.with_vessels([spot]).with_strokes([line, rubbed])
    left = synth.render(erased, size).vascular
    assert 0 < left.sum() < painted.sum() and not left[80, 180]  # the middle is cleared
    order = scene.with_strokes([rubbed, line])  # erasing first clears nothing drawn later
    assert synth.render(order, size).vascular.sum() == painted.sum()
