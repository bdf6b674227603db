"""Artificial illustrated power Doppler images of a dorsal MCP joint, built from layers.

A :class:`Scene` is a small editable spec of three layers, in normalised
coordinates (x to the right = distal, y down = deep, both 0..1), so it renders
at any size:

- ``joint_tissue`` (:class:`JointTissue`): gel, skin line, subcutis, the
  fibrillar extensor tendon, the joint capsule, the hypoechoic synovial recess
  and the anechoic cartilage over the metacarpal head;
- ``bone_surface`` (:class:`BoneSurface`): the bright cortex of the metacarpal
  head and the proximal phalanx base, with the acoustic shadow below;
- ``vascularity`` (:class:`Vascularity`): power Doppler signal, red -> orange
  -> yellow :class:`Vessel` spots and confluent areas, and the brush strokes
  (:class:`Stroke`) painted or erased over them in the drawing studio.

Each layer carries a :class:`Transform` (move, scale, small rotation about the
image centre, intensity gain). :func:`render` composites the layers and returns
the RGB image with the vascular and synovium masks that
:func:`synovis_lib.grading.grade_from_masks` grades.

The 17 basic scenes of the study (grades 0/1/2/3: 5/4/4/4) ship as JSON in
``synovis_lib/data/scenes``. :func:`generate_training_set` derives the 870
training images from them: each applies random modifications to one or more
layers and is kept only when the grade checker confirms the intended grade.

Build a scene in code::

    scene = load_basic_scenes()[0]
    scene = scene.with_vessels([Vessel(0.42, 0.55), Vessel(0.47, 0.52, 0.05, 0.03, "confluent")])
    rendered = render(scene, INPUT_SIZE)

Every field is checked when a scene is built or read: numbers against
:data:`FIELD_RANGES`, ids by :func:`check_id`, JSON against :data:`MAX_SCENE_BYTES`;
errors name the source and the field.

Taught in ``notebooks/02_artificial_training_set.ipynb`` (and the drawing
studio of ``notebooks/01_eular_omeract_scoring.ipynb``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import os
import re
import reprlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from synovis_lib import files, profiles
from synovis_lib.config import show_progress
from synovis_lib.doppler import ILLUSTRATION_LUT
from synovis_lib.grading import N_GRADES, GradeResult, grade_from_masks
from synovis_lib.profiles import INPUT_SIZE

LAYERS = ("joint_tissue", "bone_surface", "vascularity")
"""The layer names, bottom to top."""
KINDS = ("spot", "confluent")
STROKE_MODES = ("paint", "erase")
PAPER_COUNTS = dict(enumerate(profiles.PAPER_COUNTS))
"""The study's images per grade (870 in all)."""
CHECK_MIN_SIZE = 64
"""Grades are checked on masks at least this large (single spots need pixels)."""
PIVOT = (0.5, 0.5)
MAX_ATTEMPTS = 200

# Profiles of the joint are tabulated on a fine x grid wider than the canvas,
# so moved, scaled or rotated layers still find their profile.
_X0, _X1, _NX = -0.75, 1.75, 2500
_XS = np.linspace(_X0, _X1, _NX)
_DX = (_X1 - _X0) / (_NX - 1)
_NO_BONE = 9.0

# Grey levels of the joint tissue regions, top to bottom, and their speckle strength.
_REGIONS = (
    "gel",
    "skin",
    "subcutis",
    "tendon",
    "periarticular",
    "capsule",
    "synovium",
    "cartilage",
    "deep",
)
_GREY = dict(zip(_REGIONS, (6, 185, 72, 150, 92, 128, 42, 8, 14), strict=True))
_SPECKLE = dict(zip(_REGIONS, (0.0, 0.08, 0.16, 0.08, 0.16, 0.08, 0.2, 0.0, 0.1), strict=True))


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


def _shown(value: Any) -> str:
    """``repr(value)``, shortened (a huge or deeply nested value stays a short message)."""
    return _REPR.repr(value)


MAX_SCENE_BYTES = 4_000_000
"""The largest scene JSON (UTF-8 bytes) :meth:`Scene.from_json` and :meth:`Scene.load` read;
the largest valid scene (:data:`MAX_VESSELS` vessels, :data:`MAX_STROKES` strokes of
:data:`MAX_STROKE_POINTS` points, :data:`MAX_DESCRIPTION` characters of description) saves to
well under it."""
MAX_VESSELS = 256
"""The most vessels a scene may have (the basic scenes have at most 16): rendering memory
grows with vessels times their area, about 1 GB for 200 of the largest at 224 px."""
MAX_STROKES = 64
"""The most brush strokes a scene may have (the studio's undo keeps them one by one)."""
MAX_STROKE_POINTS = 256
"""The most points of one stroke (the studio thins a drag to points a quarter brush apart)."""
MAX_DESCRIPTION = 10_000
"""The longest scene description, in characters."""
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_id(text: str, where: str = "id") -> str:
    """``text`` if it is a safe file name: 1-100 ASCII letters, digits, ``.``, ``_`` or ``-``,
    starting with a letter or digit and without ``..``; else ``ValueError`` naming ``where``.

    Scene and image ids become file names (``<id>.png``, ``<id>.json``), so an id
    such as ``"../../x"`` must never reach a writer.
    """
    _check(isinstance(text, str), f"{where} must be text, got {_shown(text)}")
    _check(
        _ID.fullmatch(text) is not None and ".." not in text,
        f"{where} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or "
        f"digit, without '..'; got {_shown(text)}",
    )
    return text


def to_id(text: str, default: str = "scene") -> str:
    """A safe id made from any text (a file name, a patient's image name): every character
    but ASCII letters and digits becomes ``_``, at most 80 characters; ``default`` if
    nothing is left. The result always passes :func:`check_id`."""
    stem = "".join(c if c.isascii() and c.isalnum() else "_" for c in text).strip("_")[:80]
    return stem.strip("_") or default


class Range(NamedTuple):
    """The values a numeric scene field may take: ``low <= value <= high`` (written
    ``[low, high]``), or ``low < value <= high`` (``(low, high]``) when ``open_low``."""

    low: float
    high: float
    open_low: bool = False
    outside: str = ""
    """What the range is, for the message (``"the canvas"``: ``x = 1.3 is outside the canvas``)."""

    def __str__(self) -> str:
        return f"{'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"

    def clamp(self, value: float) -> float:
        """``value`` moved to the nearest value inside the range."""
        low = math.nextafter(self.low, math.inf) if self.open_low else self.low
        return float(min(max(value, low), self.high))

    def check(self, name: str, value: Any) -> float:
        """``value`` as a float if it is a real number (not a bool) in the range, else
        ``ValueError`` naming ``name``. NaN and +-inf fail: the bounds are finite, and every
        comparison with NaN is False."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be a number, got {_shown(value)}")
        inside = self.low < value if self.open_low else self.low <= value
        if not (inside and value <= self.high):
            if self.outside:
                raise ValueError(f"{name} = {_shown(value)} is outside {self.outside} {self}")
            rule = (
                f"> {self.low:g} and <= {self.high:g}"
                if self.open_low
                else f"within {self.low:g}..{self.high:g}"
            )
            raise ValueError(f"{name} must be {rule}, got {_shown(value)}")
        return float(value)


FIELD_RANGES: dict[str, dict[str, Range]] = {
    "Transform": {
        "dx": Range(-0.5, 0.5),
        "dy": Range(-0.5, 0.5),
        "scale": Range(0.25, 4, open_low=True),
        "angle": Range(-45, 45),
        "gain": Range(0, 4, open_low=True),
    },
    "JointTissue": {
        "skin_y": Range(0, 0.5),
        "skin_thickness": Range(0, 0.1, open_low=True),
        "tendon_gap": Range(0, 0.2),
        "tendon_thickness": Range(0, 0.3, open_low=True),
        "recess_offset": Range(-0.5, 0.5),
        "recess_width": Range(0.01, 1, open_low=True),
        "recess_height": Range(0, 0.5),
        "recess_skew": Range(-0.9, 0.9),
        "cartilage_thickness": Range(0, 0.1),
    },
    "BoneSurface": {
        "joint_x": Range(0, 1),
        "gap": Range(0, 0.2, open_low=True),
        "shaft_y": Range(0, 1),
        "head_radius": Range(0, 0.5, open_low=True),
        "head_rise": Range(0, 0.5),
        "phalanx_y": Range(0, 1),
        "lip": Range(0, 0.2),
        "cortex": Range(0, 0.05, open_low=True),
    },
    "Stroke": {
        "radius": Range(0, 0.1, open_low=True),
        "intensity": Range(0, 1, open_low=True),
    },
    "Vessel": {
        "x": Range(0, 1, outside="the canvas"),
        "y": Range(0, 1, outside="the canvas"),
        "rx": Range(0, 0.5, open_low=True),
        "ry": Range(0, 0.5, open_low=True),
        "intensity": Range(0, 1, open_low=True),
        "angle": Range(-180, 180),
    },
}
"""Every numeric field of the scene classes (by class name) and its :class:`Range`; the
classes check them on construction, so a scene read from JSON is checked too. The ranges
hold every basic scene, every variant :func:`draw_modifications` can draw, the drawing
studio's edits (clamped to these ranges) and the scenes :mod:`synovis_lib.redraw` draws."""


def _check_numbers(obj: Any) -> None:
    """Check ``obj``'s numeric fields against :data:`FIELD_RANGES` and store them as floats."""
    for name, rng in FIELD_RANGES[type(obj).__name__].items():
        object.__setattr__(obj, name, rng.check(name, getattr(obj, name)))


def _check_transform(layer: Any) -> None:
    _check(
        isinstance(layer.transform, Transform),
        f"transform must be a Transform, got {_shown(layer.transform)}",
    )


def _check_fields(cls: type, data: Mapping[str, Any], where: str) -> None:
    """An object with only ``cls``'s fields, or an error naming the unknown ones (the
    dataclass then checks the values)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"{where}: unknown field(s) {_shown(unknown)}; valid fields are {sorted(names)}"
        )


@dataclass(frozen=True)
class Transform:
    """A layer modification: move (dx, dy), scale and rotate (degrees) about the image
    centre, and an intensity ``gain`` (grey level for tissue and bone, Doppler
    intensity for vascularity).

    Ranges (:data:`FIELD_RANGES`): ``dx`` [-0.5, 0.5], ``dy`` [-0.5, 0.5], ``scale``
    (0.25, 4], ``angle`` [-45, 45], ``gain`` (0, 4].
    """

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    angle: float = 0.0
    gain: float = 1.0

    def __post_init__(self) -> None:
        _check_numbers(self)

    @property
    def is_identity(self) -> bool:
        return self == Transform()

    def apply(self, x: float, y: float) -> tuple[float, float]:
        """Where the layer point ``(x, y)`` lands in the image."""
        a = math.radians(self.angle)
        u, v = (x - PIVOT[0]) * self.scale, (y - PIVOT[1]) * self.scale
        return (
            PIVOT[0] + u * math.cos(a) - v * math.sin(a) + self.dx,
            PIVOT[1] + u * math.sin(a) + v * math.cos(a) + self.dy,
        )

    def invert(self, x: float, y: float) -> tuple[float, float]:
        """The layer point that lands on image point ``(x, y)`` (inverse of :meth:`apply`)."""
        a = math.radians(self.angle)
        u, v = x - PIVOT[0] - self.dx, y - PIVOT[1] - self.dy
        return (
            PIVOT[0] + (u * math.cos(a) + v * math.sin(a)) / self.scale,
            PIVOT[1] + (-u * math.sin(a) + v * math.cos(a)) / self.scale,
        )


@dataclass(frozen=True)
class JointTissue:
    """Soft tissue of the dorsal MCP joint (depths are fractions of the image height).

    The synovial recess is a bump of ``recess_height`` on the cartilage/bone
    surface, centred ``recess_offset`` from the top of the metacarpal head
    (negative = proximal), ``recess_width`` wide, leaning by ``recess_skew``
    (positive = longer distal slope).

    Ranges (:data:`FIELD_RANGES`): ``skin_y`` [0, 0.5], ``skin_thickness`` (0, 0.1],
    ``tendon_gap`` [0, 0.2], ``tendon_thickness`` (0, 0.3], ``recess_offset`` [-0.5, 0.5],
    ``recess_width`` (0.01, 1], ``recess_height`` [0, 0.5], ``recess_skew`` [-0.9, 0.9],
    ``cartilage_thickness`` [0, 0.1].
    """

    skin_y: float = 0.04
    skin_thickness: float = 0.014
    tendon_gap: float = 0.03
    """Fat between the extensor tendon and the bone or joint capsule below it."""
    tendon_thickness: float = 0.07
    recess_offset: float = -0.1
    recess_width: float = 0.5
    recess_height: float = 0.14
    recess_skew: float = 0.2
    cartilage_thickness: float = 0.018
    transform: Transform = field(default_factory=Transform)

    def __post_init__(self) -> None:
        _check_numbers(self)
        _check_transform(self)


@dataclass(frozen=True)
class BoneSurface:
    """Metacarpal head (left, proximal) and proximal phalanx base (right), with shadow.

    Ranges (:data:`FIELD_RANGES`): ``joint_x`` [0, 1], ``gap`` (0, 0.2], ``shaft_y`` [0, 1],
    ``head_radius`` (0, 0.5], ``head_rise`` [0, 0.5] (and below ``head_radius``),
    ``phalanx_y`` [0, 1], ``lip`` [0, 0.2], ``cortex`` (0, 0.05].
    """

    joint_x: float = 0.62
    """Centre of the joint space."""
    gap: float = 0.035
    shaft_y: float = 0.6
    """Depth of the metacarpal shaft cortex."""
    head_radius: float = 0.22
    head_rise: float = 0.08
    """How far the top of the head stands above the shaft."""
    phalanx_y: float = 0.56
    lip: float = 0.025
    """Height of the dorsal lip of the phalanx base."""
    cortex: float = 0.012
    """Thickness of the bright cortical line."""
    transform: Transform = field(default_factory=Transform)

    def __post_init__(self) -> None:
        _check_numbers(self)
        _check_transform(self)
        _check(
            self.head_rise < self.head_radius,
            f"head_rise ({self.head_rise}) must be smaller than head_radius ({self.head_radius})",
        )


@dataclass(frozen=True)
class Vessel:
    """One power Doppler signal: an ellipse centred at ``(x, y)`` with radii ``rx, ry``,
    its long axis turned by ``angle`` degrees.

    ``kind`` is ``"spot"`` (a single vessel; the default size) or
    ``"confluent"`` (drawn with a lobed outline). Whether the checker counts it
    as single, confluent or large depends only on its share of the synovium.
    ``intensity`` moves the colour from red towards yellow.

    Ranges (:data:`FIELD_RANGES`): ``x`` [0, 1], ``y`` [0, 1] (the canvas), ``rx`` (0, 0.5],
    ``ry`` (0, 0.5], ``intensity`` (0, 1], ``angle`` [-180, 180].
    """

    x: float
    y: float
    rx: float = 0.01
    ry: float = 0.01
    kind: str = "spot"
    intensity: float = 0.9
    angle: float = 0.0

    def __post_init__(self) -> None:
        _check_numbers(self)
        _check(self.kind in KINDS, f"kind must be one of {KINDS}, got {_shown(self.kind)}")


_CANVAS = Range(0, 1, outside="the canvas")


@dataclass(frozen=True)
class Stroke:
    """A brush stroke on the vascularity layer, as drawn with the mouse or a pen.

    ``points`` is the path ``((x, y), ...)`` (layer coordinates, 0..1; one point is a
    dab). Everything within ``radius`` of the path is painted with Doppler signal of
    ``intensity`` (``mode="paint"``, brightest along the path) or cleared of all signal
    drawn before it, vessels and earlier strokes alike (``mode="erase"``). Strokes scale,
    move and rotate with their layer, so a painted scene renders at any size and makes
    variants like any other.

    Ranges (:data:`FIELD_RANGES`): every point in [0, 1] (the canvas), ``radius`` (0, 0.1],
    ``intensity`` (0, 1]; 1 to :data:`MAX_STROKE_POINTS` points.
    """

    points: tuple[tuple[float, float], ...]
    radius: float = 0.02
    mode: str = "paint"
    intensity: float = 0.9

    def __post_init__(self) -> None:
        _check_numbers(self)
        _check(
            self.mode in STROKE_MODES,
            f"mode must be one of {STROKE_MODES}, got {_shown(self.mode)}",
        )
        points = self.points
        _check(
            isinstance(points, list | tuple) and 1 <= len(points) <= MAX_STROKE_POINTS,
            f"points must be a list of 1 to {MAX_STROKE_POINTS} [x, y] pairs, got {_shown(points)}",
        )
        checked = []
        for i, point in enumerate(points):
            _check(
                isinstance(point, list | tuple) and len(point) == 2,
                f"points[{i}] must be an [x, y] pair, got {_shown(point)}",
            )
            checked.append(tuple(_CANVAS.check(f"points[{i}]", v) for v in point))
        object.__setattr__(self, "points", tuple(checked))


_ITEMS: dict[str, tuple[type, int]] = {
    "vessels": (Vessel, MAX_VESSELS),
    "strokes": (Stroke, MAX_STROKES),
}
"""The vascularity layer's lists: their class and how many a scene may have."""


def _check_count(name: str, n: int, where: str) -> None:
    limit = _ITEMS[name][1]
    _check(n <= limit, f"{where}: at most {limit} {name} allowed, got {n}")


@dataclass(frozen=True)
class Vascularity:
    """The power Doppler layer: vessels (at most :data:`MAX_VESSELS`) drawn on top of the
    grey image, then brush strokes (at most :data:`MAX_STROKES`) in the order drawn."""

    vessels: tuple[Vessel, ...] = ()
    transform: Transform = field(default_factory=Transform)
    strokes: tuple[Stroke, ...] = ()

    def __post_init__(self) -> None:
        for name, (cls, _) in _ITEMS.items():
            items = tuple(getattr(self, name))
            object.__setattr__(self, name, items)
            _check_count(name, len(items), name)
            for i, item in enumerate(items):
                _check(
                    isinstance(item, cls),
                    f"{name}[{i}] must be a {cls.__name__}, got {_shown(item)}",
                )
        _check_transform(self)


_LAYER_TYPES = {
    "joint_tissue": JointTissue,
    "bone_surface": BoneSurface,
    "vascularity": Vascularity,
}


@dataclass(frozen=True)
class Scene:
    """A drawing: three layers and the grade it is meant to show.

    ``id`` must pass :func:`check_id` (it names files); ``description`` is text of at
    most :data:`MAX_DESCRIPTION` characters.
    """

    id: str
    grade: int
    joint_tissue: JointTissue = field(default_factory=JointTissue)
    bone_surface: BoneSurface = field(default_factory=BoneSurface)
    vascularity: Vascularity = field(default_factory=Vascularity)
    description: str = ""

    def __post_init__(self) -> None:
        check_id(self.id)
        _check(
            isinstance(self.grade, numbers.Integral)
            and not isinstance(self.grade, bool)
            and 0 <= self.grade <= 3,
            f"grade must be 0, 1, 2 or 3, got {_shown(self.grade)}",
        )
        object.__setattr__(self, "grade", int(self.grade))
        for name, cls in _LAYER_TYPES.items():
            layer = getattr(self, name)
            _check(isinstance(layer, cls), f"{name} must be a {cls.__name__}, got {_shown(layer)}")
        _check(
            isinstance(self.description, str),
            f"description must be text, got {_shown(self.description)}",
        )
        _check(
            len(self.description) <= MAX_DESCRIPTION,
            f"description must be at most {MAX_DESCRIPTION} characters, "
            f"got {len(self.description)}",
        )

    @property
    def vessels(self) -> tuple[Vessel, ...]:
        return self.vascularity.vessels

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        return self.vascularity.strokes

    def layer(self, name: str) -> JointTissue | BoneSurface | Vascularity:
        _check(name in LAYERS, f"unknown layer {name!r}; valid layers: {', '.join(LAYERS)}")
        return getattr(self, name)

    def with_vessels(self, vessels: Sequence[Vessel]) -> Scene:
        """This scene with its vessels replaced (the vascularity transform is kept)."""
        return dataclasses.replace(
            self, vascularity=dataclasses.replace(self.vascularity, vessels=tuple(vessels))
        )

    def with_strokes(self, strokes: Sequence[Stroke]) -> Scene:
        """This scene with its brush strokes replaced (vessels and transform kept)."""
        return dataclasses.replace(
            self, vascularity=dataclasses.replace(self.vascularity, strokes=tuple(strokes))
        )

    def with_transform(self, layer: str, transform: Transform) -> Scene:
        """This scene with ``layer``'s transform replaced."""
        return dataclasses.replace(
            self, **{layer: dataclasses.replace(self.layer(layer), transform=transform)}
        )

    def to_dict(self) -> dict[str, Any]:
        """The scene as plain data (``strokes`` only when there are some, so a scene without
        painting writes what it always did)."""
        layers = {name: dataclasses.asdict(getattr(self, name)) for name in LAYERS}
        if not self.strokes:
            del layers["vascularity"]["strokes"]
        return {
            "id": self.id,
            "grade": self.grade,
            "description": self.description,
            "layers": layers,
        }

    def to_json(self) -> str:
        """The scene as JSON text, checked again first: a field changed behind the
        dataclass's back (``object.__setattr__``) is named, never written as NaN."""
        data = self.to_dict()
        Scene.from_dict(data, source=f"scene {self.id!r}")
        return json.dumps(data, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "scene") -> Scene:
        """Build and validate a scene; errors name the source and the field, e.g.
        ``scene.json: layers.vascularity.vessels[2]: rx must be > 0 and <= 0.5, got nan``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: a scene must be a JSON object")
        allowed = {"id", "grade", "description", "layers"}
        unknown = sorted(set(data) - allowed)
        _check(
            not unknown, f"{source}: unknown field(s) {_shown(unknown)}; valid: {sorted(allowed)}"
        )
        for key in ("id", "grade", "layers"):
            _check(key in data, f"{source}: missing field {key!r}")
        layers = data["layers"]
        _check(isinstance(layers, Mapping), f"{source}: layers must be an object")
        bad = sorted(set(layers) - set(LAYERS))
        _check(
            not bad,
            f"{source}: unknown layer(s) {_shown(bad)} in layers; valid: {', '.join(LAYERS)}",
        )
        built: dict[str, Any] = {}
        for name in LAYERS:
            built[name] = _layer_from_dict(name, layers.get(name, {}), f"{source}: layers.{name}")
        try:
            return cls(
                id=data["id"],
                grade=data["grade"],
                description=data.get("description", ""),
                **built,
            )
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None

    @classmethod
    def from_json(cls, text: str, source: str = "scene") -> Scene:
        """Parse and validate scene JSON of at most :data:`MAX_SCENE_BYTES`; errors name
        ``source``. A key given twice in one object is an error, not a silent overwrite."""
        _check(
            isinstance(text, str), f"{source}: scene JSON must be text, got {type(text).__name__}"
        )
        _check_size(len(text.encode("utf-8", "surrogatepass")), source)
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except RecursionError:
            raise ValueError(f"{source}: not valid JSON (nested too deeply)") from None
        except ValueError as exc:
            raise ValueError(f"{source}: not valid JSON ({exc})") from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Scene:
        """Read a scene JSON file (UTF-8, at most :data:`MAX_SCENE_BYTES`); errors name it."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"scene file {path} does not exist")
        _check_size(path.stat().st_size, str(path))
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text ({exc})") from None
        return cls.from_json(text, source=str(path))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the scene as JSON, atomically."""
        return files.write_text(path, self.to_json())


def _check_size(size: int, source: str) -> None:
    _check(
        size <= MAX_SCENE_BYTES,
        f"{source}: {size:,} bytes is more than a scene may have ({MAX_SCENE_BYTES:,} bytes)",
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict; a key given twice is an error."""
    data = dict(pairs)
    if len(data) < len(pairs):
        twice = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise ValueError(f"key(s) {_shown(twice)} given twice in one object")
    return data


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    _check_fields(cls, data, where)
    try:
        return cls(**data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _layer_from_dict(name: str, data: Mapping[str, Any], where: str) -> Any:
    cls = _LAYER_TYPES[name]
    _check_fields(cls, data, where)
    data = dict(data)
    if "transform" in data:
        data["transform"] = _build(Transform, data["transform"], f"{where}.transform")
    if name == "vascularity":
        for key, (item_cls, _) in _ITEMS.items():
            items = data.get(key, [])
            _check(
                isinstance(items, list | tuple),
                f"{where}.{key} must be a list, got {type(items).__name__}",
            )
            _check_count(key, len(items), f"{where}.{key}")
            data[key] = tuple(
                _build(item_cls, v, f"{where}.{key}[{i}]") for i, v in enumerate(items)
            )
    return _build(cls, data, where)


# ----------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Rendered:
    """A rendered scene: the image and the two masks the grade checker reads."""

    rgb: np.ndarray
    """uint8 (H, W, 3)."""
    vascular: np.ndarray
    """bool (H, W): power Doppler signal anywhere in the image."""
    synovium: np.ndarray
    """bool (H, W): the visible synovial recess."""


@functools.lru_cache(maxsize=16)
def _grid(size: int) -> np.ndarray:
    """Pixel centres in normalised coordinates."""
    return ((np.arange(size) + 0.5) / size).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _speckle_t(size: int) -> np.ndarray:
    """A fixed, smooth noise field (unit variance, stored transposed) that gives tissue grain."""
    noise = np.random.default_rng(20240417).standard_normal((size, size))
    noise = ndimage.gaussian_filter(noise, sigma=max(0.7, size / 140))
    return np.ascontiguousarray((noise / noise.std()).T, dtype=np.float32)


@functools.lru_cache(maxsize=64)
def _bone_profile(bone: BoneSurface) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bone surface depth per x (``_NO_BONE`` in the joint space), line thickness, and
    the x-mask of the metacarpal head (where cartilage lies)."""
    x = _XS
    top = bone.shaft_y - bone.head_rise
    r = bone.head_radius
    cx = bone.joint_x - bone.gap / 2 - r
    arc = top + r - np.sqrt(np.clip(r**2 - (x - cx) ** 2, 0, None))
    metacarpal = _smooth(np.where(x <= cx, np.minimum(bone.shaft_y, arc), arc), 0.012)
    metacarpal = np.where(x < bone.joint_x - bone.gap / 2, metacarpal, _NO_BONE)
    x0 = bone.joint_x + bone.gap / 2
    r2 = 0.05
    base_top = bone.phalanx_y - bone.lip
    corner = base_top + r2 - np.sqrt(np.clip(r2**2 - (x - x0 - r2) ** 2, 0, None))
    lip = bone.phalanx_y - bone.lip * np.exp(-(((x - x0 - r2) / 0.07) ** 2))
    phalanx = np.where(x < x0, _NO_BONE, np.where(x < x0 + r2, corner, lip))
    surface = np.minimum(metacarpal, phalanx)
    finite = surface < _NO_BONE
    slope = np.gradient(np.where(finite, surface, top + r), _DX)
    thickness = bone.cortex * np.clip(np.sqrt(1 + slope**2), 1, 3)
    neck = cx - math.sqrt(r**2 - (r - bone.head_rise) ** 2)
    head = (x >= neck) & (x < bone.joint_x - bone.gap / 2)
    return surface, thickness, head


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter1d(values, sigma / _DX, mode="nearest")


@functools.lru_cache(maxsize=64)
def _tissue_profile(tissue: JointTissue, bone: BoneSurface) -> np.ndarray:
    """Depths of the tissue boundaries per x: skin top, skin bottom, tendon top, tendon
    bottom, capsule top, recess top, cartilage top, bone; an (8, _NX) table."""
    x = _XS
    surface, thickness, head = _bone_profile(bone)
    r = bone.head_radius
    cx = bone.joint_x - bone.gap / 2 - r
    floor = bone.shaft_y - bone.head_rise + r + 0.03
    gap = surface >= _NO_BONE
    bone_ref = np.where(gap, floor, surface)
    cart = np.where(head, tissue.cartilage_thickness * thickness / bone.cortex, 0.0)
    cart_top = bone_ref - cart
    cart_top = np.where(gap & (np.abs(x - bone.joint_x) < 0.2), floor - 0.07, cart_top)
    centre = cx + tissue.recess_offset
    half = tissue.recess_width / 2
    t = (x - centre) / (half * (1 + np.where(x < centre, -1, 1) * tissue.recess_skew))
    bump = tissue.recess_height * np.cos(np.clip(t, -1, 1) * np.pi / 2) ** 1.5
    inside = bump > 1e-4
    recess_top = np.where(inside, np.minimum(_smooth(cart_top - bump, 0.035), cart_top), cart_top)
    capsule_top = np.where(inside, recess_top - 0.01, recess_top)
    bridged = np.interp(x, x[~gap], surface[~gap])
    envelope = np.minimum(np.where(gap, bridged, capsule_top), bridged) - tissue.tendon_gap
    tendon_bot = np.minimum(_smooth(envelope, 0.05), capsule_top - 0.004)
    tendon_top = tendon_bot - tissue.tendon_thickness
    skin_top = tissue.skin_y + 0.05 * (x - 0.5) ** 2
    skin_bot = skin_top + tissue.skin_thickness
    return np.stack(
        [skin_top, skin_bot, tendon_top, tendon_bot, capsule_top, recess_top, cart_top, bone_ref]
    )


@functools.lru_cache(maxsize=256)
def _tissue_tables(
    tissue_key: tuple, bone_key: tuple, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Boundaries (K, _NX) of the tissue regions at ``size`` (the tendon split into
    fibrillar stripes), and per region: grey level, speckle strength x grey, is-synovium."""
    tissue = _unkey(tissue_key)
    base = _tissue_profile(tissue, _unkey(bone_key))
    stripes = int(np.clip(round(tissue.tendon_thickness / max(0.012, 3.0 / size)), 1, 12))
    inner = [base[2] + (base[3] - base[2]) * k / stripes for k in range(1, stripes)]
    bounds = np.maximum.accumulate(np.vstack([base[:3], *inner, base[3:]]), axis=0)
    tendon = [_GREY["tendon"] * (1.15 if k % 2 == 0 else 0.8) for k in range(stripes)]
    names = ["gel", "skin", "subcutis", *["tendon"] * stripes, *_REGIONS[4:]]
    grey = np.array(
        [_GREY[n] for n in names[:3]] + tendon + [_GREY[n] for n in names[3 + stripes :]]
    )
    speckle = np.array([_SPECKLE[n] for n in names])
    is_synovium = np.array([n == "synovium" for n in names])
    return (
        bounds.astype(np.float32),
        grey.astype(np.float32),
        (grey * speckle).astype(np.float32),
        is_synovium,
    )


@functools.lru_cache(maxsize=256)
def _bone_tables(bone_key: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries (6, _NX) of the cortex line and the fading acoustic shadow, and their
    grey levels (-1 = no bone: the tissue shows through)."""
    surface, thickness, _ = _bone_profile(_unkey(bone_key))
    bounds = np.stack(
        [
            surface,
            surface + thickness / 2,
            surface + thickness,
            surface + thickness + 0.012,
            surface + thickness + 0.026,
            surface + thickness + 0.045,
        ]
    )
    grey = np.array([-1, 245, 212, 58, 30, 14, 5], dtype=np.float32)
    return bounds.astype(np.float32), grey


def _column(x: np.ndarray) -> np.ndarray:
    return np.clip(((x - _X0) / _DX + 0.5).astype(np.intp), 0, _NX - 1)


def _runs(bounds: np.ndarray, transform: Transform, size: int) -> np.ndarray:
    """Run lengths (W, K+1) of the K+1 regions down each pixel column of the layer,
    moved and scaled by ``transform`` (its rotation is applied later).

    Every profile is a function of x only, so without rotation a layer is a stack
    of vertical runs: the boundary depths of each column map to row numbers.
    """
    g = _grid(size)
    s = transform.scale
    col = _column((g - PIVOT[0] - transform.dx) / s + PIVOT[0])
    y = (bounds[:, col] - PIVOT[1]) * s + PIVOT[1] + transform.dy
    rows = np.clip(np.ceil(y * size - 0.5), 0, size).astype(np.intp)
    edges = np.vstack([np.zeros((1, size), np.intp), rows, np.full((1, size), size, np.intp)])
    return np.ascontiguousarray(np.diff(edges, axis=0).T)


def _paint(values: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Fill the runs with their region's value: a (W, H) image (transposed)."""
    size = runs.shape[0]
    return np.repeat(np.tile(values, size), runs.ravel()).reshape(size, -1)


def _rotation_index(transform: Transform, size: int) -> np.ndarray | None:
    """Flat (W, H) indices that rotate an unrotated layer about its moved pivot
    (nearest pixel; edges repeat), or ``None`` without rotation."""
    if transform.angle == 0:
        return None
    g = _grid(size)
    a = math.radians(transform.angle)
    c, s = np.float32(math.cos(a)), np.float32(math.sin(a))
    px, py = PIVOT[0] + transform.dx, PIVOT[1] + transform.dy
    u = (g - px)[:, None]
    v = (g - py)[None, :]
    qx = np.clip(((px + c * u + s * v) * size).astype(np.intp), 0, size - 1)
    qy = np.clip(((py - s * u + c * v) * size).astype(np.intp), 0, size - 1)
    return qx * size + qy


def _tissue_t(scene: Scene, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Transposed (W, H) grey levels and synovium mask of the joint tissue layer."""
    tissue = scene.joint_tissue
    bounds, grey, texture, is_synovium = _tissue_tables(
        _static(tissue), _static(scene.bone_surface), size
    )
    tr = tissue.transform
    runs = _runs(bounds, tr, size)
    gain = np.float32(tr.gain)
    image = _paint(grey * gain, runs) + _paint(texture * gain, runs) * _speckle_t(size)
    synovium = _paint(is_synovium, runs)
    index = _rotation_index(tr, size)
    if index is not None:
        image, synovium = image.ravel()[index], synovium.ravel()[index]
    return image, synovium


def _bone_t(scene: Scene, size: int) -> np.ndarray:
    """Transposed (W, H) grey levels of the bone layer; negative where there is no bone."""
    bone = scene.bone_surface
    bounds, grey = _bone_tables(_static(bone))
    runs = _runs(bounds, bone.transform, size)
    image = _paint(grey * np.float32(bone.transform.gain), runs)
    index = _rotation_index(bone.transform, size)
    return image if index is None else image.ravel()[index]


def _static(layer: Any) -> tuple:
    """The layer's fields without its transform: the key of its cached profile tables."""
    fields = [f.name for f in dataclasses.fields(layer) if f.name != "transform"]
    return (type(layer), *((name, getattr(layer, name)) for name in fields))


def _unkey(key: tuple) -> Any:
    return key[0](**dict(key[1:]))


def _placed_vessels(vascularity: Vascularity) -> list[Vessel]:
    """The vessels where the vascularity transform puts them (centres may leave the canvas)."""
    tr = vascularity.transform
    placed = []
    for v in vascularity.vessels:
        x, y = tr.apply(v.x, v.y)
        values = (x, y, v.rx * tr.scale, v.ry * tr.scale, v.kind, min(1.0, v.intensity * tr.gain))
        placed.append(_unchecked(Vessel, *values, v.angle + tr.angle))
    return placed


def _unchecked(cls: type, *values: Any) -> Any:
    """A ``cls`` (``Vessel`` or ``Stroke``) from its field values without the range checks:
    placed by a layer's transform, it may reach past the canvas."""
    item = object.__new__(cls)
    for f, value in zip(dataclasses.fields(cls), values, strict=True):
        object.__setattr__(item, f.name, value)
    return item


def _vessel_layer(vessels: Sequence[Vessel], size: int) -> np.ndarray:
    """Doppler level per pixel (float32 (H, W), 0 = no signal).

    All vessels are evaluated at once on equal boxes around their centres
    (``(n, B, B)`` arrays), then merged into the canvas by maximum. Confluent
    spots get a lobed rim, written with Chebyshev polynomials of the direction
    (cos 3t, cos 5t) to avoid a per-pixel arctan.
    """
    level = np.zeros((size, size), dtype=np.float32)
    if not vessels:
        return level
    table = np.array(
        [(v.x, v.y, v.rx, v.ry, v.intensity, v.angle, v.kind == "confluent") for v in vessels],
        dtype=np.float64,
    )
    cx, cy = table[:, 0] * size - 0.5, table[:, 1] * size - 0.5
    rx, ry = np.maximum(table[:, 2] * size, 0.75), np.maximum(table[:, 3] * size, 0.75)
    confluent = table[:, 6] > 0
    reach = np.maximum(rx, ry) * np.where(confluent, 1.14, 1.0) + 1
    box = int(2 * reach.max()) + 3
    x0 = np.round(cx).astype(np.intp) - box // 2
    y0 = np.round(cy).astype(np.intp) - box // 2
    keep = (x0 + box > 0) & (x0 < size) & (y0 + box > 0) & (y0 < size)
    if not keep.any():
        return level
    cx, cy, rx, ry, x0, y0 = cx[keep], cy[keep], rx[keep], ry[keep], x0[keep], y0[keep]
    table, confluent = table[keep], confluent[keep]
    steps = np.arange(box)
    dx = (x0[:, None] + steps[None, :] - cx[:, None]).astype(np.float32)[:, None, :]
    dy = (y0[:, None] + steps[None, :] - cy[:, None]).astype(np.float32)[:, :, None]
    a = np.radians(table[:, 5])
    cos, sin = (
        np.cos(a).astype(np.float32)[:, None, None],
        np.sin(a).astype(np.float32)[:, None, None],
    )
    u = dx * cos + dy * sin
    w = dy * cos - dx * sin
    rho2 = (u / rx.astype(np.float32)[:, None, None]) ** 2 + (
        w / ry.astype(np.float32)[:, None, None]
    ) ** 2
    if confluent.any():
        r = np.sqrt(u * u + w * w) + np.float32(1e-6)
        c, s = u / r, w / r
        c3, s3 = c * (4 * c * c - 3), s * (3 - 4 * s * s)
        c5 = c * (16 * c**4 - 20 * c * c + 5)
        s5 = s * (16 * s**4 - 20 * s * s + 5)
        phase = 17.0 * table[:, 0] + 31.0 * table[:, 1]
        p1 = [np.float32(f(phase))[:, None, None] for f in (np.cos, np.sin)]
        p2 = [np.float32(f(2 * phase))[:, None, None] for f in (np.cos, np.sin)]
        rim = 0.08 * (c3 * p1[0] - s3 * p1[1]) + 0.06 * (c5 * p2[0] - s5 * p2[1])
        rim = 1 + rim * confluent.astype(np.float32)[:, None, None]
        rho2 = rho2 / (rim * rim)
    speckle = _speckle_t(size)
    grain = speckle[
        (x0[:, None, None] + steps[None, None, :]) % size,
        (y0[:, None, None] + steps[None, :, None]) % size,
    ]
    value = table[:, 4].astype(np.float32)[:, None, None] * (0.3 + 0.7 * (1 - rho2))
    value = np.where(rho2 <= 1, np.clip(value * (1 + 0.12 * grain), 0.02, 1.0), np.float32(0))
    for k in range(len(value)):
        ya, xa = max(y0[k], 0), max(x0[k], 0)
        yb, xb = min(y0[k] + box, size), min(x0[k] + box, size)
        target = level[ya:yb, xa:xb]
        np.maximum(target, value[k, ya - y0[k] : yb - y0[k], xa - x0[k] : xb - x0[k]], out=target)
    return level


def _placed_strokes(vascularity: Vascularity) -> list[Stroke]:
    """The strokes where the vascularity transform puts them (points may leave the canvas)."""
    tr = vascularity.transform
    placed = []
    for stroke in vascularity.strokes:
        points = tuple(tr.apply(x, y) for x, y in stroke.points)
        intensity = min(1.0, stroke.intensity * tr.gain)
        placed.append(_unchecked(Stroke, points, stroke.radius * tr.scale, stroke.mode, intensity))
    return placed


def _segment_distances(stroke: Stroke, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared distance (in brush radii) to each segment of a stroke's path, on equal boxes
    around the segments (``(n, B, B)``, like :func:`_vessel_layer`'s boxes), with each box's
    top-left pixel. Segments longer than the brush's width are cut into pieces first, so
    the boxes stay small whatever the path; a one-point stroke is one segment of length
    zero (a dab)."""
    r = max(stroke.radius * size, 0.75)
    pts = np.asarray(stroke.points, dtype=np.float64) * size - 0.5
    if len(pts) == 1:
        pts = np.concatenate([pts, pts])
    pieces = np.maximum(np.ceil(np.hypot(*(pts[1:] - pts[:-1]).T) / (2 * r)), 1).astype(np.intp)
    start = np.repeat(pts[:-1], pieces, axis=0)
    step = np.repeat((pts[1:] - pts[:-1]) / pieces[:, None], pieces, axis=0)
    k = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    a, b = start + k[:, None] * step, start + (k[:, None] + 1) * step
    low = np.floor(np.minimum(a, b) - r).astype(np.intp) - 1
    box = int((np.ceil(np.maximum(a, b) + r).astype(np.intp) + 2 - low).max())
    steps = np.arange(box, dtype=np.float32)
    px = (low[:, 0, None] + steps[None, :] - a[:, 0, None]).astype(np.float32)[:, None, :]
    py = (low[:, 1, None] + steps[None, :] - a[:, 1, None]).astype(np.float32)[:, :, None]
    d = (b - a).astype(np.float32)
    length2 = (d * d).sum(axis=1)
    dx, dy = d[:, 0, None, None], d[:, 1, None, None]
    t = np.clip((px * dx + py * dy) / np.maximum(length2, 1e-12)[:, None, None], 0, 1)
    rho2 = ((px - t * dx) ** 2 + (py - t * dy) ** 2) / np.float32(r * r)
    return rho2, low[:, 0], low[:, 1]


def _paint_strokes(level: np.ndarray, strokes: Sequence[Stroke]) -> np.ndarray:
    """Apply brush strokes in order to a Doppler level image (in place, and returned):
    paint raises the level to the stroke's (brightest on its path, with the vessels'
    grain), erase clears every level under the brush. All segments of a stroke are
    evaluated at once; only their merge into the canvas loops."""
    size = level.shape[0]
    speckle = _speckle_t(size)
    for stroke in strokes:
        rho2, x0, y0 = _segment_distances(stroke, size)
        box = rho2.shape[1]
        if stroke.mode == "paint":
            steps = np.arange(box)
            grain = speckle[
                (x0[:, None, None] + steps[None, None, :]) % size,
                (y0[:, None, None] + steps[None, :, None]) % size,
            ]
            value = np.float32(stroke.intensity) * (0.3 + 0.7 * (1 - np.minimum(rho2, 1)))
            value = np.where(rho2 <= 1, np.clip(value * (1 + 0.12 * grain), 0.02, 1.0), 0)
        for k in range(len(rho2)):
            ya, xa = max(y0[k], 0), max(x0[k], 0)
            yb, xb = min(y0[k] + box, size), min(x0[k] + box, size)
            if ya >= yb or xa >= xb:
                continue
            target = level[ya:yb, xa:xb]
            part = (slice(ya - y0[k], yb - y0[k]), slice(xa - x0[k], xb - x0[k]))
            if stroke.mode == "erase":
                target[rho2[k][part] <= 1] = 0
            else:
                np.maximum(target, value[k][part], out=target)
    return level


def _doppler(scene: Scene, size: int) -> np.ndarray:
    """The vascularity layer's Doppler level per pixel: vessels, then strokes."""
    level = _vessel_layer(_placed_vessels(scene.vascularity), size)
    return _paint_strokes(level, _placed_strokes(scene.vascularity))


def _composite(grey_t: np.ndarray, doppler: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) from transposed grey levels with the Doppler colours on top."""
    grey = np.clip(grey_t, 0, 255).astype(np.uint8).T
    rgb = np.stack([grey, grey, grey], axis=-1)
    signal = doppler > 0
    rgb[signal] = ILLUSTRATION_LUT[(doppler[signal] * 255).astype(np.intp)]
    return rgb


def render(scene: Scene, size: int = INPUT_SIZE) -> Rendered:
    """Composite the three layers at ``size`` x ``size`` pixels.

    Returns the RGB image and the masks: ``vascular`` (any Doppler signal) and
    ``synovium`` (the recess where the bone layer does not cover it). Pure
    NumPy on cached profile tables; no per-pixel Python loops.
    """
    size = int(size)
    _check(8 <= size <= 4096, f"size must be between 8 and 4096 pixels, got {size}")
    tissue, synovium = _tissue_t(scene, size)
    bone = _bone_t(scene, size)
    no_bone = bone < 0
    grey = np.where(no_bone, tissue, bone)
    doppler = _doppler(scene, size)
    return Rendered(
        rgb=_composite(grey, doppler),
        vascular=doppler > 0,
        synovium=np.ascontiguousarray((synovium & no_bone).T),
    )


def render_layers(scene: Scene, size: int = INPUT_SIZE) -> dict[str, np.ndarray]:
    """Each layer on its own (RGB uint8), as in the study's Figure 2: joint tissue,
    bone surface (on black) and vascularity (on black)."""
    tissue, _ = _tissue_t(scene, size)
    bone = _bone_t(scene, size)
    doppler = _doppler(scene, size)
    none = np.zeros((size, size), dtype=np.float32)
    return {
        "joint_tissue": _composite(tissue, none),
        "bone_surface": _composite(np.maximum(bone, 0), none),
        "vascularity": _composite(none, doppler),
    }


def check(scene: Scene, size: int = INPUT_SIZE) -> GradeResult:
    """Grade a scene's drawing (rendered at ``max(size, CHECK_MIN_SIZE)``)."""
    rendered = render(scene, max(int(size), CHECK_MIN_SIZE))
    return grade_from_masks(rendered.vascular, rendered.synovium)


# ----------------------------------------------------------------------------- scenes


@functools.lru_cache(maxsize=1)
def _basic_scenes() -> tuple[Scene, ...]:
    folder = resources.files("synovis_lib").joinpath("data", "scenes")
    scenes = [
        Scene.from_json(p.read_text(encoding="utf-8"), source=f"data/scenes/{p.name}")
        for p in folder.iterdir()
        if p.name.endswith(".json")
    ]
    return tuple(sorted(scenes, key=lambda s: (s.grade, s.id)))


def load_basic_scenes() -> list[Scene]:
    """The 17 basic scenes (grades 0/1/2/3: 5/4/4/4) shipped in ``synovis_lib/data/scenes``,
    sorted by grade, then id."""
    return list(_basic_scenes())


def basic_scene(scene_id: str) -> Scene:
    """One basic scene by id (e.g. ``"g1_three_spots"``)."""
    for scene in _basic_scenes():
        if scene.id == scene_id:
            return scene
    ids = [s.id for s in _basic_scenes()]
    raise ValueError(f"unknown basic scene {scene_id!r}; choose one of {ids}")


def place_vessels(
    scene: Scene,
    n: int,
    kind: str = "spot",
    seed: int = 0,
    rx: float | None = None,
    ry: float | None = None,
    min_distance: float = 0.015,
    intensity: float = 0.9,
) -> Scene:
    """``scene`` with ``n`` more vessels at random places inside its visible synovium.

    Spots default to radius 0.01, confluent spots to 0.045 x 0.028. Each new
    vessel lies wholly inside the synovium (as rendered at 224 px) with a gap of
    more than ``min_distance`` to every other vessel, so counts stay what you
    asked for. Raises ``ValueError`` when the synovium has no room left.
    Used by ``notebooks/01_eular_omeract_scoring.ipynb`` for its worked examples.
    """
    _check(kind in KINDS, f"kind must be one of {KINDS}, got {kind!r}")
    default = (0.01, 0.01) if kind == "spot" else (0.045, 0.028)
    rx, ry = rx or default[0], ry or default[1]
    size = INPUT_SIZE
    rendered = render(scene, size)
    synovium, taken = rendered.synovium, rendered.vascular
    room = ndimage.distance_transform_edt(synovium) / size
    tr = scene.vascularity.transform
    rng = np.random.default_rng(seed)
    vessels = list(scene.vessels)
    for _ in range(n):
        clear = ndimage.distance_transform_edt(~taken) / size
        ys, xs = np.nonzero((room >= min(rx, ry) * tr.scale) & (clear > min_distance))
        for k in rng.permutation(len(xs)):
            x, y = (xs[k] + 0.5) / size, (ys[k] + 0.5) / size
            candidate = _unchecked(Vessel, x, y, rx * tr.scale, ry * tr.scale, kind, intensity, 0.0)
            footprint = _vessel_layer([candidate], size) > 0
            if not (footprint & ~synovium).any() and clear[footprint].min() > min_distance:
                break
        else:
            raise ValueError(f"no room for another {kind} in the synovium of scene {scene.id!r}")
        lx, ly = tr.invert(x, y)
        vessels.append(Vessel(round(lx, 4), round(ly, 4), rx, ry, kind, intensity))
        taken = taken | footprint
    return scene.with_vessels(vessels)


# ----------------------------------------------------------------------------- variants

_OPS = ("move", "scale", "rotate", "intensity")


def _compose(values: dict[str, float], mod: Mapping[str, Any]) -> None:
    """Fold one modification into a layer's transform fields (in place)."""
    op = mod["op"]
    if op == "move":
        values["dx"] += mod["dx"]
        values["dy"] += mod["dy"]
    elif op == "scale":
        values["scale"] *= mod["factor"]
    elif op == "rotate":
        values["angle"] += mod["degrees"]
    elif op == "intensity":
        values["gain"] *= mod["gain"]
    else:
        raise ValueError(f"unknown modification op {op!r}; valid: {[*_OPS, 'move_spots']}")


def apply_modifications(scene: Scene, modifications: Sequence[Mapping[str, Any]]) -> Scene:
    """Apply modifications (the ``modifications`` JSON of a provenance row) to a scene.

    Each is ``{"layer": ..., "op": "move", "dx", "dy"}``, ``"scale"`` (``factor``),
    ``"rotate"`` (``degrees``), ``"intensity"`` (``gain``) or, for the
    vascularity layer, ``"move_spots"`` (each spot moved by up to ``max``,
    drawn from ``seed``).
    """
    transforms: dict[str, dict[str, float]] = {}
    vessels = scene.vessels
    for i, mod in enumerate(modifications):
        layer = mod.get("layer")
        _check(layer in LAYERS, f"modifications[{i}]: unknown layer {layer!r}; valid: {LAYERS}")
        try:
            if mod.get("op") == "move_spots":
                _check(
                    layer == "vascularity", "move_spots moves vessels: layer must be vascularity"
                )
                rng = np.random.default_rng(mod["seed"])
                shifts = rng.uniform(-mod["max"], mod["max"], size=(len(vessels), 2))
                vessels = tuple(
                    Vessel(
                        min(max(v.x + sx, 0.0), 1.0),
                        min(max(v.y + sy, 0.0), 1.0),
                        v.rx,
                        v.ry,
                        v.kind,
                        v.intensity,
                        v.angle,
                    )
                    for v, (sx, sy) in zip(vessels, shifts.tolist(), strict=True)
                )
                continue
            if layer not in transforms:
                transforms[layer] = dataclasses.asdict(scene.layer(layer).transform)
            _compose(transforms[layer], mod)
        except (KeyError, ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"modifications[{i}] ({mod}): {exc}") from None
    layers = {name: getattr(scene, name) for name in LAYERS}
    for name, values in transforms.items():
        try:
            layers[name] = dataclasses.replace(layers[name], transform=Transform(**values))
        except ValueError as exc:
            raise ValueError(f"modifications of {name}: {exc}") from None
    if vessels is not scene.vessels:
        layers["vascularity"] = dataclasses.replace(layers["vascularity"], vessels=vessels)
    return dataclasses.replace(scene, **layers)


_RANGES = {
    "joint_tissue": {"move": 0.05, "scale": 0.1, "rotate": 6.0, "intensity": 0.2},
    "bone_surface": {"move": 0.035, "scale": 0.08, "rotate": 5.0, "intensity": 0.2},
    "vascularity": {"move": 0.035, "scale": 0.12, "rotate": 8.0, "intensity": 0.3},
}
"""Largest modification per layer and op: move (+-dx, dy), scale (1 +- f), rotate (+-deg),
intensity (gain 1 +- g)."""
_SPOT_MOVE = 0.015
"""Largest independent move of each vessel in a ``move_spots`` modification."""


def draw_modifications(
    rng: np.random.Generator, n_vessels: int = 0, painted: bool = False
) -> list[dict[str, Any]]:
    """Random modifications of one or more layers (rounded, so provenance replays exactly).

    A scene without vessels or brush strokes (``painted``) has an empty vascularity
    layer, which no modification changes: only its tissue and bone layers are drawn then,
    so every variant differs from its basic scene. ``move_spots`` moves vessels only;
    strokes move with their layer.
    """
    eligible = LAYERS if n_vessels or painted else LAYERS[:2]
    n_layers = int(rng.integers(1, len(eligible) + 1))
    layers = sorted(rng.choice(len(eligible), size=n_layers, replace=False))
    mods: list[dict[str, Any]] = []
    for index in layers:
        layer = eligible[index]
        ops = list(_OPS) + (["move_spots"] if layer == "vascularity" and n_vessels else [])
        chosen = rng.choice(len(ops), size=int(rng.integers(1, 3)), replace=False)
        for k in sorted(chosen):
            op, r = ops[k], _RANGES[layer]
            if op == "move":
                dx, dy = rng.uniform(-r["move"], r["move"], size=2)
                mods.append({"layer": layer, "op": op, "dx": round(dx, 4), "dy": round(dy, 4)})
            elif op == "scale":
                mods.append(
                    {
                        "layer": layer,
                        "op": op,
                        "factor": round(1 + rng.uniform(-1, 1) * r["scale"], 4),
                    }
                )
            elif op == "rotate":
                mods.append(
                    {
                        "layer": layer,
                        "op": op,
                        "degrees": round(rng.uniform(-1, 1) * r["rotate"], 3),
                    }
                )
            elif op == "intensity":
                mods.append(
                    {
                        "layer": layer,
                        "op": op,
                        "gain": round(1 + rng.uniform(-1, 1) * r["intensity"], 4),
                    }
                )
            else:
                mods.append(
                    {"layer": layer, "op": op, "seed": int(rng.integers(2**31)), "max": _SPOT_MOVE}
                )
    return mods


def _render_at(scene: Scene, size: int) -> tuple[np.ndarray, GradeResult]:
    """RGB at ``size`` and the grade checked at ``max(size, CHECK_MIN_SIZE)``."""
    check_size = max(size, CHECK_MIN_SIZE)
    rendered = render(scene, check_size)
    result = grade_from_masks(rendered.vascular, rendered.synovium)
    rgb = rendered.rgb
    if check_size != size:
        rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BOX))
    return rgb, result


@functools.lru_cache(maxsize=64)
def _basic_rgb(scene: Scene, size: int) -> np.ndarray:
    """The unmodified scene's image at ``size`` (read only), to tell a real variant from a copy."""
    rgb = _render_at(scene, size)[0]
    rgb.flags.writeable = False
    return rgb


def derive_variant(
    scene: Scene, rng: np.random.Generator, size: int = INPUT_SIZE, max_attempts: int = MAX_ATTEMPTS
) -> tuple[np.ndarray, list[dict[str, Any]], GradeResult, int]:
    """One checked variant of ``scene``: ``(rgb, modifications, grade_result, attempts)``.

    Draws modifications from ``rng`` until the grade checker confirms
    ``scene.grade`` and the image differs from the basic scene's own image at
    ``size`` (a rotation well under a pixel, say, changes nothing at 64 px);
    raises ``RuntimeError`` naming the scene after ``max_attempts``.
    """
    original = _basic_rgb(scene, size)
    for attempt in range(1, max_attempts + 1):
        mods = draw_modifications(rng, len(scene.vessels), painted=bool(scene.strokes))
        rgb, result = _render_at(apply_modifications(scene, mods), size)
        if result.grade == scene.grade and not np.array_equal(rgb, original):
            return rgb, mods, result, attempt
    raise RuntimeError(
        f"no variant of scene {scene.id!r} kept grade {scene.grade} in {max_attempts} draws"
    )


@dataclass
class TrainingSet:
    """Artificial training images with labels and where each came from."""

    images: np.ndarray
    """uint8 (N, H, W, 3)."""
    labels: np.ndarray
    """int64 (N,): the grade 0-3."""
    provenance: pd.DataFrame
    """One row per image: id, grade, basic_scene, modifications (JSON), seed, attempts,
    n_single, n_confluent, n_large, coverage."""

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[int, int]:
        """Images per grade."""
        return {g: int((self.labels == g).sum()) for g in range(N_GRADES)}


def _normalise_counts(counts: Mapping[int, int] | Sequence[int] | None) -> dict[int, int]:
    if counts is None:
        return dict(PAPER_COUNTS)
    if not isinstance(counts, Mapping):
        counts = list(counts)
        _check(len(counts) == 4, f"counts needs 4 numbers (grades 0-3), got {counts}")
        counts = dict(enumerate(counts))
    result = {int(g): int(n) for g, n in counts.items()}
    _check(set(result) <= {0, 1, 2, 3}, f"counts keys must be grades 0-3, got {sorted(result)}")
    _check(all(n >= 0 for n in result.values()), f"counts must be >= 0, got {result}")
    return {g: result.get(g, 0) for g in range(N_GRADES)}


def generate_training_set(
    seed: int = 0,
    size: int = INPUT_SIZE,
    counts: Mapping[int, int] | Sequence[int] | None = None,
    scenes: Sequence[Scene] | None = None,
    progress: bool = False,
) -> TrainingSet:
    """Derive checked variants of the basic scenes: ``counts[g]`` images of grade ``g``.

    Image ``i`` of grade ``g`` comes from basic scene ``i mod k`` (the ``k``
    scenes of that grade, in id order) and its own random stream
    ``default_rng([seed, g, i])``, so the same parameters give the same images
    byte for byte and a smaller ``counts`` gives a prefix of a larger one.
    ``counts`` defaults to the study's 212/236/222/200. Taught in
    ``notebooks/02_artificial_training_set.ipynb``.
    """
    counts = _normalise_counts(counts)
    scenes = list(scenes) if scenes is not None else load_basic_scenes()
    by_grade = {g: [s for s in scenes if s.grade == g] for g in range(N_GRADES)}
    for g, n in counts.items():
        _check(n == 0 or by_grade[g], f"no basic scene of grade {g} to derive {n} images from")
    jobs = [
        (by_grade[g][i % len(by_grade[g])], [seed, g, i], f"art_g{g}_{i:04d}")
        for g in range(N_GRADES)
        for i in range(counts[g])
    ]
    return _derive_all(jobs, seed, size, progress)


def variants_of(scene: Scene, n: int, seed: int = 0, size: int = INPUT_SIZE) -> TrainingSet:
    """``n`` checked variants of one scene (e.g. a new drawing modelled on a misclassified
    image, as the study's second model did), with provenance like
    :func:`generate_training_set`; variant ``i`` draws from ``default_rng([seed, 9, i])`` and
    is named ``<scene id>_v000`` .. (checked by :func:`check_id`)."""
    jobs = [(scene, [seed, 9, i], check_id(f"{scene.id}_v{i:03d}", "variant id")) for i in range(n)]
    return _derive_all(jobs, seed, size, False)


def _derive_all(
    jobs: Sequence[tuple[Scene, list[int], str]], seed: int, size: int, progress: bool
) -> TrainingSet:
    from tqdm.auto import tqdm

    images = np.empty((len(jobs), size, size, 3), dtype=np.uint8)
    rows = []
    for k, (scene, stream, image_id) in enumerate(
        tqdm(jobs, desc="artificial images", disable=not show_progress(progress))
    ):
        rgb, mods, result, attempts = derive_variant(scene, np.random.default_rng(stream), size)
        images[k] = rgb
        rows.append(
            {
                "id": image_id,
                "grade": scene.grade,
                "basic_scene": scene.id,
                "modifications": json.dumps(mods, separators=(",", ":")),
                "seed": seed,
                "attempts": attempts,
                "n_single": result.n_single,
                "n_confluent": result.n_confluent,
                "n_large": result.n_large,
                "coverage": round(result.coverage, 4),
            }
        )
    provenance = pd.DataFrame(rows, columns=_PROVENANCE_COLUMNS)
    return TrainingSet(images, provenance["grade"].to_numpy(np.int64), provenance)


_PROVENANCE_COLUMNS = [
    "id",
    "grade",
    "basic_scene",
    "modifications",
    "seed",
    "attempts",
    "n_single",
    "n_confluent",
    "n_large",
    "coverage",
]


def variant_scene(row: Mapping[str, Any]) -> Scene:
    """Rebuild the scene of one provenance row (its basic scene plus its modifications)."""
    return apply_modifications(basic_scene(row["basic_scene"]), json.loads(row["modifications"]))


def rerender(row: Mapping[str, Any], size: int) -> np.ndarray:
    """The image of one provenance row, rebuilt from its basic scene and modifications
    (byte-identical to the generated one at the same ``size``)."""
    rgb, _ = _render_at(variant_scene(row), int(size))
    return rgb


def synovium_masks(provenance: pd.DataFrame, size: int) -> np.ndarray:
    """bool ``(N, size, size)``: the synovium of each provenance row's scene, rendered at
    ``size``: what :func:`synovis_lib.augment.screen_like` never paints over. A row whose
    scene cannot be rebuilt (a placebo copy, a redrawn scene, a user's image) gets an
    all-True mask, so nothing is painted on that image at all."""
    masks = np.ones((len(provenance), size, size), dtype=bool)
    for k, (_, row) in enumerate(provenance.iterrows()):
        try:
            modifications = json.loads(row["modifications"])
        except (KeyError, TypeError, ValueError):  # no JSON: a placebo copy, a user's image
            continue
        if not isinstance(modifications, list):  # e.g. a redrawn scene's {"modelled_after": ...}
            continue
        try:
            scene = apply_modifications(basic_scene(row["basic_scene"]), modifications)
        except (KeyError, ValueError):
            continue
        masks[k] = render(scene, int(size)).synovium
    return masks


def modification_summary(provenance: pd.DataFrame) -> pd.DataFrame:
    """How often each layer received each kind of modification (rows: layers, columns: ops)."""
    records = [
        (mod["layer"], mod["op"])
        for text in provenance["modifications"]
        for mod in json.loads(text)
    ]
    table = pd.crosstab(
        pd.Series([r[0] for r in records], name="layer"),
        pd.Series([r[1] for r in records], name="modification"),
    )
    return table.reindex(index=list(LAYERS), fill_value=0)


# ----------------------------------------------------------------------------- storage


def save_training_set(training_set: TrainingSet, path: str | os.PathLike) -> Path:
    """Write ``path`` (.npz: images, labels) and ``path`` with ``.csv`` (provenance), atomically."""
    path = Path(path)
    with files.atomic_write(path.with_suffix(".csv")) as tmp:
        training_set.provenance.to_csv(tmp, index=False)
    with files.atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, images=training_set.images, labels=training_set.labels)
    return path


def load_training_set(path: str | os.PathLike) -> TrainingSet:
    """Read a training set written by :func:`save_training_set`."""
    path = Path(path)
    for p in (path, path.with_suffix(".csv")):
        if not p.is_file():
            raise FileNotFoundError(f"training set file {p} does not exist")
    with np.load(path) as data:
        images, labels = data["images"], data["labels"].astype(np.int64)
    provenance = pd.read_csv(path.with_suffix(".csv"), keep_default_na=False)
    if len(provenance) != len(labels):
        raise ValueError(f"{path}: {len(labels)} images but {len(provenance)} provenance rows")
    return TrainingSet(images, labels, provenance)
