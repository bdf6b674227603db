"""Every field of a scene is checked when it is read: finite numbers in documented ranges,
ids that are safe file names, bounded size; errors name the source and the field."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings

import numpy as np
import pytest

from synovis_lib import redraw, synth
from synovis_lib.synth import (
    FIELD_RANGES,
    LAYERS,
    MAX_DESCRIPTION,
    MAX_SCENE_BYTES,
    MAX_STROKE_POINTS,
    MAX_STROKES,
    MAX_VESSELS,
    BoneSurface,
    JointTissue,
    Scene,
    Stroke,
    Transform,
    Vascularity,
    Vessel,
    apply_modifications,
    basic_scene,
    check_id,
    draw_modifications,
    generate_training_set,
    load_basic_scenes,
    to_id,
    variant_scene,
    variants_of,
)

CLASSES = {cls.__name__: cls for cls in (Transform, JointTissue, BoneSurface, Vessel, Stroke)}
BAD_NUMBERS = [math.nan, math.inf, -math.inf, 1e300, -1e300, 10**400, "0.5", True, None, [0.1]]
SCENE = "g2_three_confluent"  # has vessels; _scene() adds a stroke, so every class appears
STROKE = Stroke(((0.4, 0.5), (0.45, 0.52)), 0.01)


WHERE = {
    "Transform": "layers.joint_tissue.transform",
    "JointTissue": "layers.joint_tissue",
    "BoneSurface": "layers.bone_surface",
    "Vessel": "layers.vascularity.vessels[0]",
    "Stroke": "layers.vascularity.strokes[0]",
}
"""Where the tests change a field of each class in the scene JSON."""


def _fields(data: dict, cls: str) -> dict:
    """The object at ``WHERE[cls]`` in the scene dict ``data``."""
    layers = data["layers"]
    return {
        "Transform": layers["joint_tissue"]["transform"],
        "JointTissue": layers["joint_tissue"],
        "BoneSurface": layers["bone_surface"],
        "Vessel": layers["vascularity"]["vessels"][0],
        "Stroke": layers["vascularity"]["strokes"][0],
    }[cls]


def _fields_of(scene: Scene, cls: str) -> Transform | JointTissue | BoneSurface | Vessel:
    """The object at ``WHERE[cls]`` in ``scene``."""
    return {
        "Transform": scene.joint_tissue.transform,
        "JointTissue": scene.joint_tissue,
        "BoneSurface": scene.bone_surface,
        "Vessel": scene.vessels[0],
        "Stroke": scene.strokes[0],
    }[cls]


def _scene_dict() -> dict:
    return json.loads(basic_scene(SCENE).with_strokes([STROKE]).to_json())


FIELDS = [(cls, name) for cls, ranges in FIELD_RANGES.items() for name in ranges]


# ----------------------------------------------------------------------------- ranges


def test_every_numeric_field_has_a_range_stated_in_its_docstring():
    assert set(FIELD_RANGES) == set(CLASSES)
    for name, cls in CLASSES.items():
        numeric = {f.name for f in dataclasses.fields(cls) if f.type == "float"}
        assert set(FIELD_RANGES[name]) == numeric, name
        doc = " ".join(cls.__doc__.split())
        for field, rng in FIELD_RANGES[name].items():
            assert f"``{field}`` {rng}" in doc, (name, field, str(rng))
    assert str(FIELD_RANGES["Vessel"]["rx"]) == "(0, 0.5]"
    assert str(FIELD_RANGES["Transform"]["angle"]) == "[-45, 45]"


@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=repr)
@pytest.mark.parametrize(("cls", "name"), FIELDS, ids=lambda v: v)
def test_bad_numbers_are_refused_in_every_field_naming_source_and_field(cls, name, bad):
    data = _scene_dict()
    _fields(data, cls)[name] = bad
    where = re.escape(f"bad.json: {WHERE[cls]}: {name}")
    with pytest.raises(ValueError, match=rf"^{where}( = | must be )"):
        Scene.from_dict(data, source="bad.json")
    with pytest.raises(ValueError, match=rf"^{where}( = | must be )"):
        Scene.from_json(json.dumps(data), source="bad.json")  # NaN, Infinity as JSON writes them


@pytest.mark.parametrize(("cls", "name"), FIELDS, ids=lambda v: v)
def test_constructors_refuse_nan_and_infinity(cls, name):
    required = {"Vessel": {"x": 0.5, "y": 0.5}, "Stroke": {"points": STROKE.points}}.get(cls, {})
    for bad in (math.nan, math.inf, -math.inf, np.float32("nan")):
        with pytest.raises(ValueError, match=rf"^{name}( = | must be ).*(nan|inf)"):
            CLASSES[cls](**{**required, name: bad})


@pytest.mark.parametrize(("cls", "name"), FIELDS, ids=lambda v: v)
def test_bounds_are_as_documented(cls, name):
    rng = FIELD_RANGES[cls][name]
    data = _scene_dict()
    fields = _fields(data, cls)
    fields[name] = rng.high
    if name == "head_rise":  # must also stay below head_radius, itself at most 0.5
        with pytest.raises(ValueError, match=r"head_rise \(0\.5\) must be smaller"):
            Scene.from_dict(data)
    else:
        assert getattr(_fields_of(Scene.from_dict(data), cls), name) == rng.high
    for outside in (math.nextafter(rng.high, math.inf), math.nextafter(rng.low, -math.inf)):
        fields[name] = outside
        with pytest.raises(
            ValueError, match=rf"^scene: {re.escape(WHERE[cls])}: {name}( = | must)"
        ):
            Scene.from_dict(data)
    fields[name] = rng.low
    if rng.open_low:
        with pytest.raises(ValueError, match=re.escape(f"{name} must be > {rng.low:g} and")):
            Scene.from_dict(data)
    else:
        assert getattr(_fields_of(Scene.from_dict(data), cls), name) == rng.low


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["layers"]["vascularity"]["vessels"][2].update(rx=math.nan),
            "bad.json: layers.vascularity.vessels[2]: rx must be > 0 and <= 0.5, got nan",
        ),
        (
            lambda d: d["layers"]["joint_tissue"].update(tendon_gap=1e300),
            "bad.json: layers.joint_tissue: tendon_gap must be within 0..0.2, got 1e+300",
        ),
        (
            lambda d: d["layers"]["bone_surface"]["transform"].update(scale=math.inf),
            "bad.json: layers.bone_surface.transform: scale must be > 0.25 and <= 4, got inf",
        ),
        (
            lambda d: d["layers"]["vascularity"]["vessels"][0].update(x=-math.inf),
            "bad.json: layers.vascularity.vessels[0]: x = -inf is outside the canvas [0, 1]",
        ),
        (
            lambda d: d["layers"]["vascularity"]["vessels"][1].update(angle="45"),
            "bad.json: layers.vascularity.vessels[1]: angle must be a number, got '45'",
        ),
        (
            lambda d: d["layers"]["vascularity"]["vessels"][1].update(angle=200),
            "bad.json: layers.vascularity.vessels[1]: angle must be within -180..180, got 200",
        ),
        (
            lambda d: d["layers"]["joint_tissue"].update(recess_offset=-0.6),
            "bad.json: layers.joint_tissue: recess_offset must be within -0.5..0.5, got -0.6",
        ),
        (
            lambda d: d["layers"]["vascularity"]["transform"].update(gain=5),
            "bad.json: layers.vascularity.transform: gain must be > 0 and <= 4, got 5",
        ),
        (
            lambda d: d["layers"]["bone_surface"].update(head_rise=0.3),
            "bad.json: layers.bone_surface: head_rise (0.3) must be smaller than head_radius",
        ),
        (
            lambda d: d["layers"]["joint_tissue"].update(skin_y=10**400),
            "bad.json: layers.joint_tissue: skin_y must be within 0..0.5, got 1000",
        ),
        (lambda d: d.update(grade=2.0), "bad.json: grade must be 0, 1, 2 or 3, got 2.0"),
        (lambda d: d.update(grade=math.nan), "bad.json: grade must be 0, 1, 2 or 3, got nan"),
        (
            lambda d: d["layers"]["vascularity"].update(vessels={"x": 0.5}),
            "bad.json: layers.vascularity.vessels must be a list, got dict",
        ),
        (
            lambda d: d["layers"].update(joint_tissue=[]),
            "bad.json: layers.joint_tissue: expected an object, got list",
        ),
    ],
)
def test_messages_name_source_field_rule_and_value(edit, message):
    data = _scene_dict()
    edit(data)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        Scene.from_json(json.dumps(data), source="bad.json")


def test_numbers_are_stored_as_floats_and_numpy_numbers_accepted():
    vessel = Vessel(np.float32(0.25), np.int64(1), rx=1 / 8, angle=np.float64(-30))
    assert (vessel.x, vessel.y, vessel.angle) == (0.25, 1.0, -30.0)
    assert all(type(getattr(vessel, f)) is float for f in FIELD_RANGES["Vessel"])
    scene = dataclasses.replace(basic_scene(SCENE), grade=np.int64(2)).with_vessels([vessel])
    assert type(scene.grade) is int
    assert Scene.from_json(scene.to_json()) == scene


def test_wrong_types_of_layers_transforms_and_vessels_are_refused():
    with pytest.raises(ValueError, match=r"^joint_tissue must be a JointTissue, got \{\}"):
        Scene("a", 1, joint_tissue={})
    with pytest.raises(ValueError, match=r"^transform must be a Transform, got \{'dx': 0\}"):
        BoneSurface(transform={"dx": 0})
    with pytest.raises(ValueError, match=r"^vessels\[1\] must be a Vessel, got \(0\.5, 0\.5\)"):
        Vascularity((Vessel(0.5, 0.5), (0.5, 0.5)))
    with pytest.raises(ValueError, match=r"^kind must be one of \('spot', 'confluent'\), got \['"):
        Vessel(0.5, 0.5, kind=["spot"])


def test_to_json_and_save_never_write_nan(tmp_path):
    scene = Scene.from_dict(_scene_dict())  # a copy: the cached basic scene stays intact
    object.__setattr__(scene.vessels[0], "rx", math.nan)  # bypasses the checks
    named = r"vascularity\.vessels\[0\]: rx must be > 0 and <= 0\.5, got nan"
    with pytest.raises(ValueError, match=named):
        scene.to_json()
    with pytest.raises(ValueError, match=named):
        scene.save(tmp_path / "scene.json")
    assert not (tmp_path / "scene.json").exists()


# ----------------------------------------------------------------------------- shipped and derived


@pytest.mark.parametrize("scene", load_basic_scenes(), ids=lambda s: s.id)
def test_basic_scenes_round_trip_through_dict_and_json(scene, tmp_path):
    assert Scene.from_dict(scene.to_dict()) == scene
    assert Scene.from_json(scene.to_json()) == scene
    assert Scene.load(scene.save(tmp_path / f"{scene.id}.json")) == scene
    assert check_id(scene.id) == scene.id


def test_from_dict_accepts_vessels_as_list_or_tuple():
    scene = basic_scene(SCENE)
    data = scene.to_dict()
    assert isinstance(data["layers"]["vascularity"]["vessels"], tuple) and scene.vessels
    assert Scene.from_dict(data) == scene
    data["layers"]["vascularity"]["vessels"] = list(data["layers"]["vascularity"]["vessels"])
    assert Scene.from_dict(data) == scene


def test_every_generated_variant_is_valid_and_round_trips():
    ts = generate_training_set(3, 64, [5, 5, 5, 5])
    assert len(ts) == 20
    for row in ts.provenance.to_dict("records"):
        assert check_id(row["id"]) == row["id"]
        scene = variant_scene(row)
        assert Scene.from_dict(scene.to_dict()) == scene
        assert Scene.from_json(scene.to_json()) == scene


def test_every_drawable_modification_stays_in_range():
    rng = np.random.default_rng(11)
    for scene in load_basic_scenes():
        assert all(scene.layer(name).transform == Transform() for name in LAYERS)
        for _ in range(40):
            variant = apply_modifications(scene, draw_modifications(rng, len(scene.vessels)))
            assert Scene.from_dict(variant.to_dict()) == variant
    # Each op appears at most once per layer, so these are the largest transforms drawn.
    for r in synth._RANGES.values():
        for sign in (-1, 1):
            Transform(
                dx=sign * r["move"],
                dy=-sign * r["move"],
                scale=1 + sign * r["scale"],
                angle=sign * r["rotate"],
                gain=1 + sign * r["intensity"],
            )
    moved = apply_modifications(
        basic_scene(SCENE), [{"layer": "vascularity", "op": "move_spots", "seed": 0, "max": 1.0}]
    )
    assert all(0 <= v.x <= 1 and 0 <= v.y <= 1 for v in moved.vessels)


def test_modifications_with_bad_numbers_are_refused():
    scene = basic_scene(SCENE)
    for op, key in [("scale", "factor"), ("rotate", "degrees"), ("intensity", "gain")]:
        for bad in (math.nan, math.inf, 1e300):
            mods = [{"layer": "bone_surface", "op": op, key: bad}]
            with pytest.raises(ValueError, match=r"^modifications of bone_surface: \w+ must be"):
                apply_modifications(scene, mods)


def test_vessels_redraw_can_draw_are_in_range():
    # redraw clips x, y to [0, 1] and rx, ry to [0.5 px, 0.5], draws intensity in
    # [0.75, 1] and takes the angle from arctan2 (degrees in [-180, 180]).
    for x, y, r, intensity, angle in [
        (0, 0, 0.5 / redraw.BUILD_SIZE, 0.75, -180),
        (1, 1, 0.5, 1, 180),
    ]:
        vessel = Vessel(x, y, r, r, "confluent", intensity, angle)
        assert Vessel(**dataclasses.asdict(vessel)) == vessel
    for source in ("p001_img1", "clinical image", "x", "case 12/scan", "Patiënt 3", "x" * 200):
        assert check_id(f"after_{to_id(source, 'image')}_5")


def test_every_field_renders_at_its_bounds_without_warnings():
    base = basic_scene(SCENE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cls, name in FIELDS:
            rng = FIELD_RANGES[cls][name]
            low = math.nextafter(rng.low, math.inf) if rng.open_low else rng.low
            for value in (low, rng.high):
                if name in ("head_rise", "head_radius"):  # head_rise < head_radius <= 0.5
                    value = min(value, 0.49) if name == "head_rise" else value
                    bone = dataclasses.replace(base.bone_surface, head_radius=0.5, head_rise=0)
                    scene = dataclasses.replace(
                        base, bone_surface=dataclasses.replace(bone, **{name: value})
                    )
                elif cls == "Transform":
                    scene = base
                    for layer in LAYERS:
                        transform = dataclasses.replace(Transform(), **{name: value})
                        scene = scene.with_transform(layer, transform)
                elif cls == "Vessel":
                    scene = base.with_vessels(
                        [dataclasses.replace(v, **{name: value}) for v in base.vessels]
                    )
                elif cls == "Stroke":
                    stroke = dataclasses.replace(STROKE, **{name: value})
                    scene = base.with_strokes([stroke, dataclasses.replace(stroke, mode="erase")])
                else:
                    layer = "joint_tissue" if cls == "JointTissue" else "bone_surface"
                    changed = dataclasses.replace(base.layer(layer), **{name: value})
                    scene = dataclasses.replace(base, **{layer: changed})
                assert synth.check(scene, 64).grade in range(4), (cls, name, value)


# ----------------------------------------------------------------------------- ids


@pytest.mark.parametrize("good", ["a", "g0_flat_head", "A.b-c_1", "x" * 100, "art_g3_0199", "9"])
def test_safe_ids_pass(good):
    assert check_id(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../../../X",
        "a/b",
        "a\\b",
        "..",
        "a..b",
        ".hidden",
        "-rf",
        "_x",
        "x" * 101,
        "a b",
        "café",
        "a\n",
        "a\x00b",
        "C:x",
    ],
)
def test_unsafe_ids_are_refused_naming_where_and_value(bad):
    with pytest.raises(
        ValueError, match=rf"^scene id must be 1-100 letters.*got {re.escape(repr(bad)[:20])}"
    ):
        check_id(bad, "scene id")
    with pytest.raises(
        ValueError, match=rf"^bad\.json: id must be .*got {re.escape(repr(bad)[:20])}"
    ):
        Scene.from_dict({**_scene_dict(), "id": bad}, source="bad.json")
    with pytest.raises(ValueError, match=r"^id must be"):
        dataclasses.replace(basic_scene(SCENE), id=bad)


@pytest.mark.parametrize("bad", [None, 7, b"abc", ["a"]], ids=repr)
def test_ids_must_be_text(bad):
    with pytest.raises(ValueError, match=rf"^image id must be text, got {re.escape(repr(bad))}$"):
        check_id(bad, "image id")


def test_variant_ids_are_checked_before_any_drawing():
    long = dataclasses.replace(basic_scene(SCENE), id="v" * 96)
    with pytest.raises(ValueError, match=r"^variant id must be .*got 'vvv"):
        variants_of(long, 2)


# ----------------------------------------------------------------------------- size and nesting


def test_the_largest_valid_scene_saves_and_loads_under_the_size_limit(tmp_path):
    vessel = Vessel(0.123456789, 0.987654321, 0.5, 0.5, "confluent", 0.987654321, -179.123456789)
    points = ((0.123456789, 0.987654321),) * MAX_STROKE_POINTS
    stroke = Stroke(points, 0.0987654321, "erase", 0.987654321)
    scene = Scene(
        "x" * 100,
        3,
        vascularity=Vascularity((vessel,) * MAX_VESSELS, strokes=(stroke,) * MAX_STROKES),
        description="\U0001f600" * MAX_DESCRIPTION,
    )
    path = scene.save(tmp_path / "largest.json")
    assert path.stat().st_size < MAX_SCENE_BYTES / 2
    assert Scene.load(path) == scene
    assert Scene.from_dict(scene.to_dict()) == scene


def test_too_many_vessels_or_too_long_a_description_are_refused():
    data = _scene_dict()
    data["layers"]["vascularity"]["vessels"] = [{"x": 0.5, "y": 0.5}] * (MAX_VESSELS + 1)
    with pytest.raises(
        ValueError,
        match=r"^bad\.json: layers\.vascularity\.vessels: at most 256 vessels allowed, got 257$",
    ):
        Scene.from_dict(data, source="bad.json")
    with pytest.raises(ValueError, match=r"^vessels: at most 256 vessels allowed, got 257$"):
        basic_scene(SCENE).with_vessels([Vessel(0.5, 0.5)] * (MAX_VESSELS + 1))
    data = _scene_dict()
    data["description"] = "d" * (MAX_DESCRIPTION + 1)
    with pytest.raises(
        ValueError, match=r"^bad\.json: description must be at most 10000 characters, got 10001$"
    ):
        Scene.from_dict(data, source="bad.json")
    for bad in (7, None, ["text"]):
        data["description"] = bad
        with pytest.raises(ValueError, match=r"^bad\.json: description must be text, got "):
            Scene.from_dict(data, source="bad.json")


def test_huge_text_is_refused_before_parsing(tmp_path):
    with pytest.raises(
        ValueError, match=r"^big\.json: 4,000,001 bytes is more than a scene may have \(4,000,000"
    ):
        Scene.from_json("x" * (MAX_SCENE_BYTES + 1), source="big.json")
    # The limit counts UTF-8 bytes, not characters.
    with pytest.raises(ValueError, match=r"^big\.json: 4,000,002 bytes is more"):
        Scene.from_json("é" * 2_000_001, source="big.json")
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_SCENE_BYTES + 5))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: 4,000,005 bytes is more"):
        Scene.load(path)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 100_000, "[" * 5000 + "]" * 5000])
def test_deeply_nested_json_is_a_value_error_naming_the_file(tmp_path, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: not valid JSON \(nested"):
        Scene.load(path)


def test_non_utf8_files_and_other_broken_json_name_the_file(tmp_path):
    path = tmp_path / "latin1.json"
    data = {**_scene_dict(), "description": "Synovite très vascularisée"}
    path.write_bytes(json.dumps(data, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: not UTF-8 text"):
        Scene.load(path)
    with pytest.raises(ValueError, match=r"^s\.json: not valid JSON \(Exceeds the limit"):
        Scene.from_json('{"id": "a", "grade": ' + "1" * 5000 + "}", source="s.json")
    with pytest.raises(
        ValueError, match=r"^s\.json: not valid JSON \(key\(s\) \['grade'\] given twice"
    ):
        Scene.from_json('{"id": "a", "grade": 0, "grade": 3, "layers": {}}', source="s.json")
    with pytest.raises(ValueError, match=r"^s\.json: scene JSON must be text, got bytes$"):
        Scene.from_json(b"{}", source="s.json")
    with pytest.raises(ValueError, match=r"^s\.json: a scene must be a JSON object$"):
        Scene.from_json("[1, 2]", source="s.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Patiënt 3.png", "Pati_nt_3_png"), ("../../x", "x"), ("", "scene"), ("a" * 120, "a" * 80)],
)
def test_to_id_makes_any_text_a_safe_id(text, expected):
    assert to_id(text) == expected and check_id(to_id(text)) == expected


# ----------------------------------------------------------------------------- strokes


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([], r"points must be a list of 1 to 256 \[x, y\] pairs, got \[\]"),
        ([[0.5, 0.5]] * (MAX_STROKE_POINTS + 1), r"points must be a list of 1 to 256"),
        ([[0.5, 0.5], [0.5]], r"points\[1\] must be an \[x, y\] pair, got \[0\.5\]"),
        ([[0.5, 0.5], [0.2, 1.5]], r"points\[1\] = 1\.5 is outside the canvas \[0, 1\]"),
        ([[0.5, math.nan]], r"points\[0\] = nan is outside the canvas"),
        ([[0.5, "0.5"]], r"points\[0\] must be a number, got '0\.5'"),
        ("0.5, 0.5", r"points must be a list of 1 to 256"),
    ],
)
def test_bad_stroke_points_are_refused_naming_the_stroke_and_point(points, message):
    data = _scene_dict()
    data["layers"]["vascularity"]["strokes"][0]["points"] = points
    with pytest.raises(
        ValueError, match=rf"^bad\.json: layers\.vascularity\.strokes\[0\]: {message}"
    ):
        Scene.from_dict(data, source="bad.json")


def test_bad_stroke_modes_counts_and_fields_are_refused():
    data = _scene_dict()
    data["layers"]["vascularity"]["strokes"][0]["mode"] = "smudge"
    with pytest.raises(ValueError, match=r"strokes\[0\]: mode must be one of \('paint', 'erase'\)"):
        Scene.from_dict(data, source="bad.json")
    data = _scene_dict()
    data["layers"]["vascularity"]["strokes"][0]["colour"] = "red"
    with pytest.raises(ValueError, match=r"strokes\[0\]: unknown field\(s\) \['colour'\]"):
        Scene.from_dict(data, source="bad.json")
    data = _scene_dict()
    data["layers"]["vascularity"]["strokes"] = [STROKE.__dict__] * (MAX_STROKES + 1)
    with pytest.raises(ValueError, match=r"strokes: at most 64 strokes allowed, got 65$"):
        Scene.from_dict(data, source="bad.json")
    data["layers"]["vascularity"]["strokes"] = {"points": [[0.5, 0.5]]}
    with pytest.raises(ValueError, match=r"strokes must be a list, got dict$"):
        Scene.from_dict(data, source="bad.json")


def test_a_scene_without_strokes_writes_what_it_always_did_and_strokes_round_trip(tmp_path):
    plain = basic_scene(SCENE)
    assert "strokes" not in plain.to_dict()["layers"]["vascularity"]
    painted = plain.with_strokes([STROKE, Stroke(((0.42, 0.51),), 0.02, "erase")])
    written = json.loads(painted.to_json())["layers"]["vascularity"]["strokes"]
    assert written[1] == {
        "points": [[0.42, 0.51]],
        "radius": 0.02,
        "mode": "erase",
        "intensity": 0.9,
    }
    assert Scene.load(painted.save(tmp_path / "painted.json")) == painted
    assert painted.vessels == plain.vessels
