"""Named run profiles: ``ci``, ``quick`` (the default) and ``paper``.

A profile fixes everything that decides how long a notebook runs: image size,
how many artificial images, epochs, batch size, trials, folds, the backbone
and whether ImageNet weights are required. Every notebook has one literal
``PROFILE = "quick"`` in its parameters cell and calls :func:`get_profile`.

The environment variable ``SYNOVIS_PROFILE`` overrides the notebook's choice
(the test-suite and CI build the book in the ``ci`` profile this way, without
editing the literal parameters cell); the override is always announced.

Taught in ``notebooks/05_vgg16_transfer_learning.ipynb``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

ENV_VAR = "SYNOVIS_PROFILE"

INPUT_SIZE = 224
"""The study's network input, 224 x 224 x 3 (VGG-16's imageInputLayer); also the size at
which illustrations and simulated screenshots are drawn, checked and labelled."""

PAPER_COUNTS = (212, 236, 222, 200)
"""Artificial training images per grade 0..3 in the study (870 in all)."""


@dataclass(frozen=True)
class Profile:
    """Everything that sets the size and cost of a run.

    The ``paper`` values are the study's MATLAB ``trainingOptions``
    (CONTRIBUTING.md, "MATLAB -> PyTorch").
    """

    name: str
    image_size: int
    """Square input size in pixels for the network (the study: 224)."""
    train_counts: tuple[int, int, int, int]
    """Artificial training images per grade 0..3."""
    epochs: int
    batch_size: int
    learning_rate: float
    learn_rate_schedule: str
    """``"none"`` (constant, the study) or ``"cosine"`` (falls to 0 over the run; chosen on
    the development patients in notebook 09)."""
    trials: int
    """Independent training runs ("three trials of independent learning")."""
    folds: int
    """Cross-validation folds (the study: 5)."""
    freeze_backbone: bool
    """Train only the new head on cached backbone features."""
    sim_to_real: bool
    """Draw training images as scanner screenshots might show them
    (:func:`synovis_lib.augment.screen_like`); not in the study."""
    backbone: str
    """``"vgg16"`` (the study) or ``"compact"`` (a small CNN for CPU work)."""
    weights: str
    """``"imagenet"`` or ``"none"`` (random initialisation, trained from scratch)."""
    offline: str
    """When ImageNet weights cannot be had: ``"raise"`` or ``"fallback"``."""
    fallback_backbone: str
    """Backbone trained from scratch when ``offline == "fallback"`` and no weights exist."""
    validation_frequency: int = 30
    """Validate every this many optimizer steps (MATLAB ValidationFrequency)."""
    momentum: float = 0.9
    weight_decay: float = 1e-4
    head_lr_factor: float = 10.0
    dropout: float = 0.3
    clinic_size: int | None = None
    """Pixel size of simulated clinical images; ``None`` means ``image_size``."""
    device: str = "auto"
    seed: int = 0
    notes: str = field(default="", compare=False)

    @property
    def n_train(self) -> int:
        return sum(self.train_counts)

    @property
    def clinic_pixels(self) -> int:
        """Pixel size of the simulated clinical images: ``clinic_size``, else ``image_size``."""
        return self.clinic_size or self.image_size

    def record(self) -> dict[str, object]:
        """What a results file must say about the run: the profile's name and its seed."""
        return {"profile": self.name, "seed": self.seed}

    def summary(self) -> str:
        """One line for the top of a notebook's results."""
        return (
            f"profile={self.name} size={self.image_size}px images={self.n_train} "
            f"epochs={self.epochs} batch={self.batch_size} lr={self.learning_rate:g} "
            f"schedule={self.learn_rate_schedule} "
            f"trials={self.trials} folds={self.folds} backbone={self.backbone} "
            f"weights={self.weights} freeze_backbone={self.freeze_backbone} "
            f"sim_to_real={self.sim_to_real} device={self.device}"
        )


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        image_size=32,
        train_counts=(12, 12, 12, 12),
        epochs=1,
        batch_size=8,
        learning_rate=1e-3,
        learn_rate_schedule="cosine",
        trials=1,
        folds=2,
        freeze_backbone=False,
        sim_to_real=True,
        backbone="compact",
        weights="none",
        offline="raise",
        fallback_backbone="compact",
        validation_frequency=3,
        notes="Seconds per notebook: for tests, not for conclusions.",
    ),
    "quick": Profile(
        name="quick",
        image_size=64,
        train_counts=PAPER_COUNTS,
        epochs=6,
        batch_size=32,
        learning_rate=2e-3,
        learn_rate_schedule="cosine",
        trials=3,
        folds=5,
        freeze_backbone=False,
        sim_to_real=True,
        backbone="compact",
        weights="none",
        offline="raise",
        fallback_backbone="compact",
        validation_frequency=30,
        notes="A CPU laptop runs the whole book in minutes. The network, its learning rate "
        "and schedule were chosen by measurement on the development patients (notebook 09, "
        "CONTRIBUTING.md): the same model online and offline, since it needs no download.",
    ),
    "paper": Profile(
        name="paper",
        image_size=INPUT_SIZE,
        train_counts=PAPER_COUNTS,
        epochs=11,
        batch_size=32,
        learning_rate=1e-4,
        learn_rate_schedule="none",
        trials=3,
        folds=5,
        freeze_backbone=False,
        sim_to_real=False,
        backbone="vgg16",
        weights="imagenet",
        offline="raise",
        fallback_backbone="vgg16",
        validation_frequency=30,
        notes="The study as published (MATLAB R2024a trainingOptions); meant for a GPU.",
    ),
}

DEFAULT_PROFILE = "quick"


def get_profile(name: str = DEFAULT_PROFILE, *, announce: bool = True, **overrides) -> Profile:
    """Return the named profile, with ``overrides`` applied.

    ``SYNOVIS_PROFILE`` in the environment replaces ``name`` (announced on
    stdout when ``announce``). Raises ``ValueError`` naming the bad profile or
    override and listing the valid ones.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env and env != name:
        if announce:
            print(
                f"[synovis] {ENV_VAR}={env} overrides PROFILE={name!r}: using the {env!r} profile."
            )
        name = env
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    profile = PROFILES[name]
    valid = {f.name for f in dataclasses.fields(Profile)} - {"name"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown profile override(s) {unknown}; valid fields are {sorted(valid)}")
    if "train_counts" in overrides:
        overrides["train_counts"] = tuple(int(c) for c in overrides["train_counts"])
        if len(overrides["train_counts"]) != 4:
            raise ValueError("profile override train_counts needs 4 counts, one per grade 0..3")
    return dataclasses.replace(profile, **overrides) if overrides else profile
