"""The EULAR/OMERACT power Doppler grade of a drawing, computed from its masks.

The rules (and their source, D'Agostino et al., RMD Open 2017;3:e000428) live
as data in ``synovis_lib/data/grading_rules.json``; this module only applies
them. Signal outside the synovium never counts. Connected signal regions inside
the synovium (:func:`scipy.ndimage.label`) are sorted by their share of the
synovium area into single spots, confluent spots and "large" regions:

- grade 0: no signal inside the synovium;
- grade 3: signal covers more than half of the synovium;
- grade 2: a large region (graded by coverage, not counted as one confluent
  spot), or any count pattern beyond grade 1;
- grade 1: at most 3 single spots, or at most 2 confluent spots, or one
  confluent spot and at most 2 single spots.

Taught in ``notebooks/01_eular_omeract_scoring.ipynb``; every artificial
training image (``notebooks/02_artificial_training_set.ipynb``) is accepted only
when this checker confirms its intended grade.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy import ndimage

RULES_FILE = "grading_rules.json"
N_GRADES = 4
"""EULAR/OMERACT power Doppler grades 0..3: the one place the number of grades is set."""


@dataclass(frozen=True)
class GradingRules:
    """The scoring rule parameters (see ``data/grading_rules.json`` for why each value)."""

    max_single_alone: int = 3
    max_confluent_alone: int = 2
    max_single_with_one_confluent: int = 2
    confluent_min_fraction: float = 0.03
    """A region covering at least this share of the synovium is a confluent spot."""
    large_region_fraction: float = 0.25
    """A region covering at least this share is graded by coverage, not counted."""
    grade_1_coverage_below: float = 0.25
    """Grade 1 also needs total coverage below this share (a few spots, not a quarter)."""
    grade_3_coverage_above: float = 0.5
    """Grade 3 needs coverage strictly above this (exactly 0.5 is grade 2)."""
    connectivity: int = 8
    source: str = ""

    def __post_init__(self) -> None:
        if self.connectivity not in (4, 8):
            raise ValueError(f"rules connectivity must be 4 or 8, got {self.connectivity}")
        if not 0 < self.confluent_min_fraction < self.large_region_fraction <= 1:
            raise ValueError(
                "rules need 0 < confluent_min_fraction < large_region_fraction <= 1, got "
                f"{self.confluent_min_fraction} and {self.large_region_fraction}"
            )


@functools.lru_cache(maxsize=1)
def load_rules() -> GradingRules:
    """The packaged rules from ``synovis_lib/data/grading_rules.json``."""
    text = resources.files("synovis_lib").joinpath("data", RULES_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    names = {f for f in GradingRules.__dataclass_fields__}
    missing = sorted(names - set(data))
    if missing:  # the dataclass defaults must never stand in for the data silently
        raise ValueError(f"{RULES_FILE} lacks rule value(s) {missing}")
    return GradingRules(**{k: v for k, v in data.items() if k in names})


def rules_table() -> dict[str, str]:
    """Grade -> definition text, as stored with the rules (for notebooks and widgets)."""
    text = resources.files("synovis_lib").joinpath("data", RULES_FILE).read_text(encoding="utf-8")
    return {f"grade {k}": v for k, v in json.loads(text)["definitions"].items()}


@dataclass(frozen=True)
class Component:
    """One connected signal region inside the synovium."""

    label: int
    """Its label in :func:`signal_components`' label image."""
    area: int
    """Pixels."""
    fraction: float
    """Share of the synovium area."""
    kind: str
    """``"single"``, ``"confluent"`` or ``"large"``."""


@dataclass(frozen=True)
class GradeResult:
    """The grade of one drawing and why."""

    grade: int
    n_single: int
    n_confluent: int
    n_large: int
    coverage: float
    """Share of the synovium area covered by in-synovium signal (0..1)."""
    synovium_area: int
    signal_area: int
    """Signal pixels inside the synovium."""
    ignored_area: int
    """Signal pixels outside the synovium (not counted)."""
    components: tuple[Component, ...]
    rule: str
    """Which rule decided the grade, in a few words."""
    explanation: str


def _check_masks(vascular: np.ndarray, synovium: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vascular = np.asarray(vascular)
    synovium = np.asarray(synovium)
    for name, mask in (("vascular", vascular), ("synovium", synovium)):
        if mask.ndim != 2:
            raise ValueError(f"{name} mask must be 2-D (H, W), got shape {mask.shape}")
        if mask.dtype != bool:
            raise ValueError(f"{name} mask must be boolean, got dtype {mask.dtype}")
    if vascular.shape != synovium.shape:
        raise ValueError(
            f"vascular mask {vascular.shape} and synovium mask {synovium.shape} differ in shape"
        )
    return vascular, synovium


def _classify(
    labels: np.ndarray, n: int, syn_area: int, rules: GradingRules
) -> tuple[Component, ...]:
    if n == 0:
        return ()
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    fractions = areas / syn_area
    kinds = np.where(
        fractions >= rules.large_region_fraction,
        "large",
        np.where(fractions >= rules.confluent_min_fraction, "confluent", "single"),
    )
    return tuple(
        Component(label=i + 1, area=int(a), fraction=float(f), kind=str(k))
        for i, (a, f, k) in enumerate(zip(areas, fractions, kinds, strict=True))
    )


def _label(inside: np.ndarray, rules: GradingRules) -> tuple[np.ndarray, int]:
    structure = ndimage.generate_binary_structure(2, 2 if rules.connectivity == 8 else 1)
    return ndimage.label(inside, structure=structure)


def signal_components(
    vascular: np.ndarray, synovium: np.ndarray, rules: GradingRules | None = None
) -> tuple[np.ndarray, tuple[Component, ...]]:
    """Label the in-synovium signal regions and classify each by its share of the synovium.

    Returns ``(labels, components)``: an int label image (0 = no counted signal)
    and one :class:`Component` per region, in label order.
    """
    rules = rules or load_rules()
    vascular, synovium = _check_masks(vascular, synovium)
    labels, n = _label(vascular & synovium, rules)
    return labels, _classify(labels, n, int(synovium.sum()), rules)


def grade_from_counts(
    n_single: int,
    n_confluent: int,
    n_large: int,
    coverage: float,
    rules: GradingRules | None = None,
) -> int:
    """The grade of a signal pattern given as counts and coverage (the rules without masks).

    :func:`grade_from_masks` counts the regions of a drawing and calls this;
    the simulated raters (:mod:`synovis_lib.raters`) call it on the counts they
    *perceive*, so people and pixels are graded by one set of rules.
    """
    rules = rules or load_rules()
    if n_single + n_confluent + n_large == 0:
        return 0
    if coverage > rules.grade_3_coverage_above:
        return 3
    if n_large or coverage >= rules.grade_1_coverage_below:
        return 2
    return 1 if _grade_1_counts(n_single, n_confluent, rules) else 2


def _grade_1_counts(n_single: int, n_confluent: int, rules: GradingRules) -> bool:
    """Whether the spot counts alone are within grade 1's definition."""
    if n_confluent == 0:
        return n_single <= rules.max_single_alone
    if n_confluent == 1:
        return n_single <= rules.max_single_with_one_confluent
    return n_confluent <= rules.max_confluent_alone and n_single == 0


def grade_from_masks(
    vascular: np.ndarray, synovium: np.ndarray, rules: GradingRules | None = None
) -> GradeResult:
    """The EULAR/OMERACT power Doppler grade (0-3) of a vascular mask within a synovium mask.

    Both masks are boolean ``(H, W)`` arrays of the same shape. Only vascular
    pixels inside the synovium count. The result explains itself (counts,
    coverage, the deciding rule). Taught in ``notebooks/01_eular_omeract_scoring.ipynb``.
    """
    rules = rules or load_rules()
    vascular, synovium = _check_masks(vascular, synovium)
    inside = vascular & synovium
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    syn_area = int(synovium.sum())
    components: tuple[Component, ...] = ()
    if rows.size:  # label only the bounding box of the counted signal
        box = inside[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        components = _classify(*_label(box, rules), syn_area, rules)
    signal_area = int(sum(c.area for c in components))
    ignored = int(vascular.sum()) - signal_area
    coverage = signal_area / syn_area if syn_area else 0.0
    kinds = [c.kind for c in components]
    n_single, n_confluent, n_large = (kinds.count(k) for k in ("single", "confluent", "large"))

    grade = grade_from_counts(n_single, n_confluent, n_large, coverage, rules)
    if grade == 0:
        rule = "no signal inside the synovium"
    elif grade == 3:
        rule = f"signal covers more than {rules.grade_3_coverage_above:.0%} of the synovium"
    elif grade == 1:
        rule = "within the grade-1 spot counts"
    elif not n_large and _grade_1_counts(n_single, n_confluent, rules):
        rule = (
            f"grade-1 spot counts, but together they cover >= "
            f"{rules.grade_1_coverage_below:.0%} of the synovium, coverage <= "
            f"{rules.grade_3_coverage_above:.0%}"
        )
    elif n_large:
        rule = (
            f"a region covers >= {rules.large_region_fraction:.0%} of the synovium "
            f"(graded by coverage, not a confluent spot), coverage <= "
            f"{rules.grade_3_coverage_above:.0%}"
        )
    else:
        rule = (
            f"more than grade 1 (> {rules.max_single_alone} single, "
            f"> {rules.max_confluent_alone} confluent, or 1 confluent + "
            f"> {rules.max_single_with_one_confluent} single), coverage <= "
            f"{rules.grade_3_coverage_above:.0%}"
        )
    explanation = (
        f"grade {grade}: {rule}. Inside the synovium: {n_single} single spot(s), "
        f"{n_confluent} confluent spot(s), {n_large} large region(s); coverage "
        f"{coverage:.1%} of {syn_area} synovium px"
        + (f"; {ignored} signal px outside the synovium ignored" if ignored else "")
        + "."
    )
    return GradeResult(
        grade=grade,
        n_single=n_single,
        n_confluent=n_confluent,
        n_large=n_large,
        coverage=float(coverage),
        synovium_area=syn_area,
        signal_area=signal_area,
        ignored_area=ignored,
        components=components,
        rule=rule,
        explanation=explanation,
    )
