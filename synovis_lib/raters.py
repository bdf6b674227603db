"""Simulated expert raters: why two sonographers can grade one image differently.

A rater looks at a simulated screenshot (:class:`synovis_lib.ultrasound.GradedScene`)
and applies the EULAR/OMERACT rules to what they *perceive*, which is not
quite what is there:

- the screen shows bloomed colour, noise specks and the odd flash; a rater
  who takes the screen at face value over-reads them, one who looks through
  them reads the vessels beneath (``trust_display``);
- spot sizes are judged by eye: a small confluent spot may be read as a
  single spot (``size_bias`` < 0) or a large single spot as confluent;
- coverage is an impression, and impressions run above measured colour
  fractions (``coverage_bias`` > 0; see CONTRIBUTING.md, "EULAR/OMERACT grades");
- tiny spots are overlooked, signal just outside the synovium is sometimes
  counted, and now and then a grade slips by one.

Each rater is a :class:`RaterProfile`; :data:`DEFAULT_RATERS` are calibrated
so that raters 1 and 2 agree with a linear weighted kappa near the study's
0.80 and differ on about 29 of 156 images *on average over cohorts* (seeds
0-3: kappa 0.76-0.84, mean 0.80; 24-35 disagreements, mean 30); any one
cohort is a draw from that spread. The rules themselves come from
:mod:`synovis_lib.grading` (data, not code here). Written by hand: rater
behaviour is a modelling choice of this course, not something a library
provides. Taught in ``notebooks/03_clinical_images_and_raters.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synovis_lib.grading import GradeResult, GradingRules, grade_from_counts, load_rules
from synovis_lib.ultrasound import GradedScene


@dataclass(frozen=True)
class RaterProfile:
    """How one simulated rater perceives an image (all effects are per image or per spot)."""

    name: str
    trust_display: float
    """Probability of reading the screen at face value (blooming, noise, flash)."""
    size_bias: float
    """Mean log-factor on perceived spot size (< 0: small confluent spots read as single)."""
    size_noise: float
    """Standard deviation of that log-factor, per spot."""
    coverage_bias: float
    """Mean log-factor on perceived coverage (> 0: impression above the measured fraction)."""
    coverage_noise: float
    miss_single: float
    """Probability of overlooking each single spot."""
    count_outside: float
    """Probability of counting signal outside the synovium as one more spot (if there is any)."""
    lapse: float
    """Probability of a slip by one grade, up or down."""

    def __post_init__(self) -> None:
        for name in ("trust_display", "miss_single", "count_outside", "lapse"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"rater {self.name!r}: {name} must be a probability, got {value}")
        for name in ("size_noise", "coverage_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"rater {self.name!r}: {name} must be >= 0")


DEFAULT_RATERS: tuple[RaterProfile, RaterProfile, RaterProfile] = (
    RaterProfile(
        name="rater 1 (reads the screen)",
        trust_display=0.4,
        size_bias=0.1,
        size_noise=0.35,
        coverage_bias=0.05,
        coverage_noise=0.2,
        miss_single=0.04,
        count_outside=0.1,
        lapse=0.02,
    ),
    RaterProfile(
        name="rater 2 (conservative)",
        trust_display=0.25,
        size_bias=-0.25,
        size_noise=0.35,
        coverage_bias=0.0,
        coverage_noise=0.2,
        miss_single=0.08,
        count_outside=0.04,
        lapse=0.02,
    ),
    RaterProfile(
        name="rater 3 (adjudicator)",
        trust_display=0.3,
        size_bias=0.0,
        size_noise=0.25,
        coverage_bias=0.05,
        coverage_noise=0.15,
        miss_single=0.05,
        count_outside=0.04,
        lapse=0.02,
    ),
)
"""Raters 1 and 2 grade every image; rater 3 only where they differ."""


@dataclass(frozen=True)
class Reading:
    """What one rater perceived in one image, and the grade that follows."""

    grade: int
    n_single: int
    n_confluent: int
    n_large: int
    coverage: float
    view: str
    """``"screen"`` (took the colour at face value) or ``"vessels"`` (looked through artefacts)."""
    slipped: bool
    """A lapse moved the grade by one."""


SHARED_IMPRESSION_SD = 0.5
"""How much one image's look misleads every rater alike (log-factor on sizes and coverage).

Raters look at the same screen, so their errors are correlated: an image
whose spots look large looks so to all of them. This is what lets a
consensus differ from the pixel truth.
"""


def read_image(
    rater: RaterProfile,
    scene: GradedScene,
    rng: np.random.Generator,
    rules: GradingRules | None = None,
    impression: tuple[float, float] = (0.0, 0.0),
) -> Reading:
    """One rater's reading of one image (random: the same rater may read it differently).

    ``impression`` is the image's shared log-factor on (spot sizes, coverage),
    the same for every rater of this image (see :func:`read_by_all`).
    """
    rules = rules or load_rules()
    on_screen = rng.random() < rater.trust_display
    seen: GradeResult = scene.shown if on_screen else scene.truth
    fractions = np.array([c.fraction for c in seen.components])
    noise = rater.size_noise * rng.standard_normal(fractions.size)
    fractions = fractions * np.exp(rater.size_bias + impression[0] + noise)
    large = fractions >= rules.large_region_fraction
    confluent = ~large & (fractions >= rules.confluent_min_fraction)
    single = ~large & ~confluent
    kept = single & (rng.random(fractions.size) >= rater.miss_single)
    n_single = int(kept.sum())
    if scene.truth.ignored_area and rng.random() < rater.count_outside:
        n_single += 1
    coverage = seen.coverage * float(
        np.exp(rater.coverage_bias + impression[1] + rater.coverage_noise * rng.standard_normal())
    )
    grade = grade_from_counts(n_single, int(confluent.sum()), int(large.sum()), coverage, rules)
    slipped = bool(rng.random() < rater.lapse)
    if slipped:
        grade = int(np.clip(grade + rng.choice((-1, 1)), 0, 3))
    return Reading(
        grade=grade,
        n_single=n_single,
        n_confluent=int(confluent.sum()),
        n_large=int(large.sum()),
        coverage=coverage,
        view="screen" if on_screen else "vessels",
        slipped=slipped,
    )


def read_by_all(
    raters: tuple[RaterProfile, ...],
    scene: GradedScene,
    rng: np.random.Generator,
    rules: GradingRules | None = None,
) -> list[Reading]:
    """Every rater reads the same image, sharing its impression (:data:`SHARED_IMPRESSION_SD`)."""
    impression = tuple(SHARED_IMPRESSION_SD * rng.standard_normal(2))
    return [read_image(r, scene, rng, rules, impression) for r in raters]
