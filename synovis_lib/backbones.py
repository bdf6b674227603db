"""What carries over: choosing the course's network by measurement, never on the test images.

The study transferred ImageNet features (VGG-16) to hand-drawn illustrations
and tested on real screenshots. Whether ImageNet features help *here* is a
question with an answer: :func:`compare_backbones` trains each
:data:`CANDIDATES` entry on the profile's artificial training set and
scores it on the *development* patients of the study's patient split
(:func:`synovis_lib.second_model.split_by_patient`), so the held-out
patients that notebook 08 reports on are never looked at. Three trials per
candidate: linear weighted kappa (mean and sd), grade-1 AUC (the grade the
study found hardest) and the training time on this machine.

A full comparison takes longer on a laptop CPU than a book build may, so
``benchmarks/compare_backbones.py`` runs it and records the table with its
provenance in ``synovis_lib/data/backbone_comparison.json``
(:func:`recorded_comparison`); notebook 09 shows that record and re-measures
the profile's own candidate live.

Taught in ``notebooks/09_what_carries_over.ipynb``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from synovis_lib import config, metrics, pipeline
from synovis_lib.profiles import Profile
from synovis_lib.second_model import split_by_patient


@dataclass(frozen=True)
class Candidate:
    """One network to compare: a name and the profile fields it changes."""

    name: str
    label: str
    overrides: dict[str, Any]

    def profile(self, base: Profile) -> Profile:
        """``base`` with this candidate's backbone, weights and freezing; never a fallback."""
        return dataclasses.replace(base, **self.overrides, offline="raise")


CANDIDATES: tuple[Candidate, ...] = (
    Candidate(
        "compact",
        "compact CNN, from scratch",
        dict(backbone="compact", weights="none", freeze_backbone=False),
    ),
    Candidate(
        "compact-constant",
        "compact CNN, from scratch, constant rate 1e-3 (no schedule, as in the study)",
        dict(
            backbone="compact",
            weights="none",
            freeze_backbone=False,
            learning_rate=1e-3,
            learn_rate_schedule="none",
        ),
    ),
    Candidate(
        "lite0-frozen",
        "EfficientNet-Lite0 ImageNet, frozen (head only)",
        dict(backbone="efficientnet_lite0", weights="imagenet", freeze_backbone=True),
    ),
    Candidate(
        "lite0-finetuned",
        "EfficientNet-Lite0 ImageNet, fine-tuned",
        dict(backbone="efficientnet_lite0", weights="imagenet", freeze_backbone=False),
    ),
    Candidate(
        "vgg16-random",
        "VGG-16, random init",
        dict(backbone="vgg16", weights="none", freeze_backbone=False),
    ),
    Candidate(
        "vgg16-imagenet",
        "VGG-16 ImageNet, frozen (head only)",
        dict(backbone="vgg16", weights="imagenet", freeze_backbone=True),
    ),
)
"""The networks :func:`compare_backbones` knows, by name."""

RECORD = "backbone_comparison.json"
"""The recorded comparison shipped in ``synovis_lib/data``."""


def candidate(name: str) -> Candidate:
    """The :data:`CANDIDATES` entry called ``name`` (``ValueError`` lists the names)."""
    for c in CANDIDATES:
        if c.name == name:
            return c
    raise ValueError(f"unknown candidate {name!r}; choose from {[c.name for c in CANDIDATES]}")


def available(names: Sequence[str] | None = None) -> list[Candidate]:
    """The candidates that can run here: VGG-16 ImageNet only where its weights are on disk
    (``$SYNOVIS_VGG16_WEIGHTS`` or the torch hub cache); nothing is downloaded."""
    chosen = [candidate(n) for n in names] if names is not None else list(CANDIDATES)
    have_vgg = config.local_imagenet_weights() is not None
    return [c for c in chosen if c.name != "vgg16-imagenet" or have_vgg]


def profile_candidate(profile: Profile) -> str:
    """The name of the candidate a profile trains (``""`` if it is none of them)."""
    for c in sorted(CANDIDATES, key=lambda c: -len(c.overrides)):  # the most specific first
        if all(getattr(profile, k) == v for k, v in c.overrides.items()):
            return c.name
    return ""


def candidate_table() -> pd.DataFrame:
    """The candidates, what each changes in a profile, and whether it can run here."""
    here = {c.name for c in available()}
    table = pd.DataFrame(
        [
            {"candidate": c.name, "network": c.label, **c.overrides, "runs here": c.name in here}
            for c in CANDIDATES
        ]
    ).set_index("candidate")
    return table.astype(object).where(table.notna(), "as the profile")


def _scored_part(profile: Profile, part: str, dev_fraction: float, seed: int):
    """The cohort, the positions of one part (``"dev"`` or ``"held_out"``) of notebook
    08's patient split that have a consensus, and those consensus grades."""
    cohort = pipeline.cohort_for(profile)
    rows = getattr(split_by_patient(cohort, dev_fraction, seed), part)
    truth = cohort.table["consensus"].astype("Int64")
    rows = rows[truth.iloc[rows].notna().to_numpy()]
    return cohort, rows, truth.iloc[rows].to_numpy(dtype=int)


def development_set(profile: Profile, dev_fraction: float = 0.5, seed: int = 0):
    """The cohort and the positions of its development patients that have a consensus:
    the only clinical images a choice of model may look at (notebook 08's split)."""
    return _scored_part(profile, "dev", dev_fraction, seed)


def score(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Linear weighted kappa and grade-1 one-vs-rest AUC of predicted probabilities."""
    kappa = metrics.weighted_kappa(metrics.confusion(y, probs.argmax(1)), "linear").kappa
    return {"kappa": kappa, "auc_grade_1": metrics.roc_per_grade(y, probs)[1].auc}


def compare_backbones(
    profile: Profile,
    names: Sequence[str] | None = None,
    trials: int | None = None,
    epochs: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Train every available candidate ``trials`` times (default ``profile.trials``) on the
    profile's training set and score it on the development patients only.

    ``epochs`` may lower the epochs of named candidates (VGG-16 from scratch
    on a CPU); the table says how many each ran. One row per candidate and
    trial: kappa, grade-1 AUC, training seconds (feature caching included),
    the weights actually loaded. Models come from the cache
    (:func:`synovis_lib.pipeline.train_for`), so the profile's own candidate
    costs nothing after notebook 05. Taught in notebook 09.
    """
    cohort, dev, y = development_set(profile)
    n = profile.trials if trials is None else int(trials)
    rows = []
    for cand in available(names):
        prof = cand.profile(profile)
        if epochs and cand.name in epochs:
            prof = dataclasses.replace(prof, epochs=int(epochs[cand.name]))
        for trial in range(n):
            trained = pipeline.train_for(prof, None, trial, progress=False)
            rows.append(
                {
                    "candidate": cand.name,
                    "network": cand.label,
                    "trial": trial,
                    "epochs": prof.epochs,
                    **score(trained.predict(cohort.images[dev]), y),
                    "val_accuracy": trained.history.final_val_accuracy,
                    "seconds": trained.history.seconds,
                    "weights": trained.weights.weights,
                }
            )
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per candidate: trials, kappa mean, sd (ddof=1), lowest and highest, grade-1 AUC mean,
    seconds per trial; best kappa first."""
    grouped = table.groupby(["candidate", "network", "epochs"], sort=False)
    out = grouped.agg(
        trials=("kappa", "size"),
        kappa_mean=("kappa", "mean"),
        kappa_sd=("kappa", lambda k: k.std(ddof=1) if len(k) > 1 else np.nan),
        kappa_min=("kappa", "min"),
        kappa_max=("kappa", "max"),
        auc_grade_1=("auc_grade_1", "mean"),
        val_accuracy=("val_accuracy", "mean"),
        seconds=("seconds", "mean"),
    ).reset_index()
    return out.sort_values("kappa_mean", ascending=False, kind="stable").reset_index(drop=True)


def best(summary: pd.DataFrame) -> str:
    """The candidate with the highest mean kappa; of those within one sd of it, the fastest."""
    top = summary.loc[summary["kappa_mean"].idxmax()]
    close = summary[summary["kappa_mean"] >= top["kappa_mean"] - np.nan_to_num(top["kappa_sd"])]
    return str(close.loc[close["seconds"].idxmin(), "candidate"])


def recorded_comparison() -> tuple[pd.DataFrame, dict[str, Any]]:
    """The comparison recorded by ``benchmarks/compare_backbones.py``: its table and its
    provenance (command, date, commit, machine, profile)."""
    text = resources.files("synovis_lib").joinpath("data", RECORD).read_text()
    data = json.loads(text)
    return pd.DataFrame(data["rows"]), data["provenance"]


GOAL_KAPPA = 0.62
"""The study's linear weighted kappa of its initial model: the bar a course model aims at."""


def verdict(summary: pd.DataFrame) -> str:
    """One sentence built from a :func:`summarise` table: which network graded the
    development patients best and how ImageNet's candidates compare with it."""
    top = summary.iloc[0]
    lines = [
        f"On the development patients, {top['network']} graded best: linear kappa "
        f"{top['kappa_mean']:.2f} ± {np.nan_to_num(top['kappa_sd']):.2f} over "
        f"{int(top['trials'])} trials, grade-1 AUC {top['auc_grade_1']:.2f}."
    ]
    imagenet = summary[summary["candidate"].str.contains("lite0|imagenet")]
    if len(imagenet):
        best_imagenet = imagenet.iloc[0]
        gap = top["kappa_mean"] - best_imagenet["kappa_mean"]
        if best_imagenet["candidate"] == top["candidate"]:
            lines.append("ImageNet features helped: an ImageNet backbone is the best candidate.")
        else:
            lines.append(
                f"The best ImageNet candidate, {best_imagenet['network']}, reached "
                f"{best_imagenet['kappa_mean']:.2f} ({gap:.2f} lower), while its accuracy on "
                f"held-out *artificial* images was {best_imagenet['val_accuracy']:.2f}."
            )
    return " ".join(lines)


def schedule_effect(summary: pd.DataFrame) -> str:
    """One sentence from a :func:`summarise` table: the compact CNN's kappa range over seeds
    with the profile's schedule and at a constant rate (``""`` unless both were run)."""
    rows = summary.set_index("candidate")
    if not {"compact", "compact-constant"} <= set(rows.index):
        return ""
    ranges = {
        name: f"{rows.loc[name, 'kappa_min']:.2f} to {rows.loc[name, 'kappa_max']:.2f} "
        f"(sd {np.nan_to_num(rows.loc[name, 'kappa_sd']):.2f}) over "
        f"{int(rows.loc[name, 'trials'])} seeds"
        for name in ("compact", "compact-constant")
    }
    return (
        "The same compact CNN on the same images and seeds: at a constant learning rate its "
        f"development kappa ranged from {ranges['compact-constant']}; with the profile's "
        f"schedule from {ranges['compact']}. Accuracy on held-out artificial images: "
        f"{rows.loc['compact-constant', 'val_accuracy']:.2f} and "
        f"{rows.loc['compact', 'val_accuracy']:.2f}."
    )


def plot_comparison(table: pd.DataFrame, ax=None):
    """Kappa of every trial (dots) and each candidate's mean (bar) on the development
    patients, the study's 0.62 dashed. Taught in notebook 09."""
    summary = summarise(table)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.55 * len(summary) + 1.2))
    y = np.arange(len(summary))
    ax.barh(y, summary["kappa_mean"], color="0.8", label="mean of trials")
    for k, name in enumerate(summary["candidate"]):
        kappas = table.loc[table["candidate"] == name, "kappa"]
        ax.plot(kappas, np.full(len(kappas), k), "o", color="tab:blue", ms=5)
    ax.axvline(GOAL_KAPPA, color="k", ls="--", lw=1, label=f"study's initial model ({GOAL_KAPPA})")
    ax.set_yticks(
        y, [f"{c} ({e} ep.)" for c, e in zip(summary["candidate"], summary["epochs"], strict=True)]
    )
    ax.invert_yaxis()
    ax.set_xlabel("linear weighted kappa vs consensus, development patients")
    ax.set_xlim(min(0.0, float(table["kappa"].min()) - 0.05), 1)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def held_out_result(profile: Profile, dev_fraction: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """The profile's trained models scored once on the *held-out* patients (the part no
    choice looked at): one row per trial with kappa and grade-1 AUC. Taught in notebook 09."""
    cohort, held, y = _scored_part(profile, "held_out", dev_fraction, seed)
    rows = []
    for trial in range(profile.trials):
        trained = pipeline.train_for(profile, None, trial, progress=False)
        rows.append({"trial": trial, **score(trained.predict(cohort.images[held]), y)})
    return pd.DataFrame(rows).set_index("trial")
