"""Cross-validation on the artificial training images, and the leakage it hides.

The study checked its second model with a five-fold cross-validation of the
training data (mean accuracy 0.995). Every training image is a variant of one
of only 17 hand-drawn basic scenes, so a plain stratified split puts
near-copies of the same drawing on both sides: the validation folds measure
how well the network recognises drawings it has already seen, not how it
grades a new one. The group-aware variant keeps every variant of a basic
scene in one fold (:class:`sklearn.model_selection.StratifiedGroupKFold` with
``groups = provenance.basic_scene``); the gap between the two means is the
lesson.

With 17 basic scenes (5/4/4/4 per grade) a group-aware split cannot give five
folds that each hold every grade: grades 1-3 have only four drawings, so some
validation folds would lack a grade. :func:`fold_indices` therefore uses
``min(folds, fewest basic scenes of any grade)`` folds for the grouped scheme
(four here) and says so in the result's ``notes``; :func:`fold_table` shows
the per-fold grade counts either way.

Folds are built without any training (:func:`fold_indices`), so they are tested
on their own; :func:`cross_validate` takes any ``fit_predict`` callable (the
network from :func:`network_fit_predict`, or a seconds-fast pixel classifier
from :func:`pixel_fit_predict`). Taught in
``notebooks/07_cross_validation.ipynb``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from tqdm.auto import tqdm

from synovis_lib import metrics
from synovis_lib.config import show_progress
from synovis_lib.grading import N_GRADES
from synovis_lib.profiles import Profile
from synovis_lib.train import fit_profile

FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]
"""``fit_predict(train_images, train_labels, test_images, fold) -> probs (n, 4) or grades (n,)``."""


# --------------------------------------------------------------------------- folds


@dataclass(frozen=True)
class Fold:
    """One split: indices of the training and the validation images."""

    index: int
    train: np.ndarray
    test: np.ndarray


def _labels(labels: Any) -> np.ndarray:
    return metrics.grade_labels(labels, "labels", N_GRADES)


def _groups(groups: Any, n: int) -> np.ndarray:
    values = pd.Series(groups).reset_index(drop=True)
    if len(values) != n:
        raise ValueError(f"groups has {len(values)} entries for {n} labels")
    missing = np.flatnonzero(values.isna().to_numpy())
    if missing.size:
        raise ValueError(f"groups is missing at position(s) {missing[:10].tolist()}")
    return values.astype(str).to_numpy()


def groups_per_grade(labels: Any, groups: Any) -> pd.Series:
    """How many distinct groups (basic scenes) hold images of each grade."""
    y = _labels(labels)
    g = _groups(groups, len(y))
    frame = pd.DataFrame({"grade": y, "group": g})
    counts = frame.groupby("grade")["group"].nunique()
    return counts.reindex(range(N_GRADES), fill_value=0).rename("groups")


def usable_folds(labels: Any, groups: Any = None, folds: int = 5) -> int:
    """The number of folds a scheme can honour with every grade in every validation fold.

    Stratified: ``folds`` (each grade needs at least ``folds`` images). Grouped:
    ``min(folds, fewest groups of any present grade)``. Raises ``ValueError``
    when fewer than 2 folds are possible.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    y = _labels(labels)
    present = np.unique(y)
    if groups is None:
        smallest = int(np.bincount(y, minlength=N_GRADES)[present].min())
        if smallest < folds:
            raise ValueError(
                f"grade {int(present[np.argmin(np.bincount(y)[present])])} has only {smallest} "
                f"images, fewer than folds={folds}"
            )
        return folds
    per_grade = groups_per_grade(y, groups)[present]
    smallest = int(per_grade.min())
    if smallest < 2:
        raise ValueError(
            f"grade {int(per_grade.idxmin())} comes from only {smallest} group(s); a group-aware "
            "split needs at least 2 per grade (one to train on, one to validate)"
        )
    return min(folds, smallest)


def fold_indices(labels: Any, groups: Any = None, folds: int = 5, seed: int = 0) -> list[Fold]:
    """The study's stratified folds (``groups=None``) or group-aware ones.

    Stratified: :class:`~sklearn.model_selection.StratifiedKFold` (shuffled with
    ``seed``), every grade in the same proportion in every fold. Grouped:
    :class:`~sklearn.model_selection.StratifiedGroupKFold` with
    :func:`usable_folds` folds, so no group (basic scene) is on both sides of a
    split and there are enough groups for every validation fold to hold every
    grade (its greedy assignment does so for the study's 17 scenes;
    :func:`fold_table` shows it). No training happens here.
    """
    y = _labels(labels)
    x = np.zeros((len(y), 1))
    k = usable_folds(y, groups, folds)
    if groups is None:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        splits = splitter.split(x, y)
    else:
        g = _groups(groups, len(y))
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        splits = splitter.split(x, y, g)
    return [Fold(i, np.sort(train), np.sort(test)) for i, (train, test) in enumerate(splits)]


def fold_table(labels: Any, folds: Sequence[Fold], groups: Any = None) -> pd.DataFrame:
    """Per validation fold: images of each grade, in all, and (with ``groups``) how many
    groups it holds and how many of them also appear in its training part (0 = group-pure)."""
    y = _labels(labels)
    g = None if groups is None else _groups(groups, len(y))
    rows = []
    for fold in folds:
        counts = np.bincount(y[fold.test], minlength=N_GRADES)
        row: dict[str, Any] = {"fold": fold.index}
        row.update({f"grade {k}": int(c) for k, c in enumerate(counts)})
        row["images"] = len(fold.test)
        row["grades present"] = int((counts > 0).sum())
        if g is not None:
            test_groups = set(g[fold.test])
            row["groups"] = len(test_groups)
            row["groups also in training"] = len(test_groups & set(g[fold.train]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("fold")


# --------------------------------------------------------------------------- cross-validation


@dataclass
class CVResult:
    """Per-fold accuracy and confusion of one cross-validation scheme."""

    scheme: str
    """``"stratified"`` or ``"grouped"``."""
    requested_folds: int
    per_fold: pd.DataFrame
    """One row per fold: images, grades present, accuracy."""
    confusions: np.ndarray
    """``(folds, 4, 4)`` counts, rows = true grade, columns = predicted."""
    predictions: pd.DataFrame
    """One row per image: index, fold, true, predicted."""
    method: str = ""
    """What was trained in each fold (e.g. the network and its weights)."""
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def n_folds(self) -> int:
        return len(self.per_fold)

    @property
    def accuracies(self) -> np.ndarray:
        return self.per_fold["accuracy"].to_numpy(dtype=float)

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def sd(self) -> float:
        """Sample standard deviation over folds (ddof=1)."""
        return float(np.std(self.accuracies, ddof=1)) if self.n_folds > 1 else float("nan")

    @property
    def confusion(self) -> np.ndarray:
        """All folds' confusions summed (every image validated once)."""
        return self.confusions.sum(axis=0)

    def summary(self) -> str:
        """E.g. ``"stratified 5-fold CV: accuracy 0.995 ± 0.004"``."""
        return f"{self.scheme} {self.n_folds}-fold CV: accuracy {self.mean:.3f} ± {self.sd:.3f}"

    def headline(self) -> dict[str, Any]:
        """``{scheme}_folds``, ``{scheme}_mean_accuracy`` and ``{scheme}_sd`` for a results file."""
        return {
            f"{self.scheme}_folds": self.n_folds,
            f"{self.scheme}_mean_accuracy": round(self.mean, 4),
            f"{self.scheme}_sd": round(self.sd, 4),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "requested_folds": self.requested_folds,
            "per_fold": self.per_fold.reset_index().to_dict(orient="list"),
            "confusions": self.confusions.tolist(),
            "predictions": self.predictions.to_dict(orient="list"),
            "method": self.method,
            "seed": self.seed,
            "notes": list(self.notes),
            "mean": self.mean,
            "sd": self.sd,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CVResult:
        return cls(
            scheme=data["scheme"],
            requested_folds=int(data["requested_folds"]),
            per_fold=pd.DataFrame(data["per_fold"]).set_index("fold"),
            confusions=np.asarray(data["confusions"], dtype=np.int64),
            predictions=pd.DataFrame(data["predictions"]),
            method=data["method"],
            seed=int(data["seed"]),
            notes=list(data["notes"]),
        )


def _as_grades(output: Any, n: int, fold: int) -> np.ndarray:
    out = np.asarray(output)
    if out.ndim == 2 and out.shape == (n, N_GRADES):
        return out.argmax(axis=1).astype(np.int64)
    if out.ndim == 1 and out.shape == (n,):
        return metrics.grade_labels(out, f"fit_predict output of fold {fold}", N_GRADES)
    raise ValueError(
        f"fit_predict returned shape {out.shape} for {n} test images in fold {fold}; "
        f"expected ({n}, {N_GRADES}) probabilities or ({n},) grades"
    )


def cross_validate(
    images: np.ndarray,
    labels: Any,
    fit_predict: FitPredict,
    groups: Any = None,
    folds: int = 5,
    seed: int = 0,
    *,
    method: str = "",
    progress: bool = True,
) -> CVResult:
    """K-fold cross-validation: train on all folds but one, validate on it, repeat.

    ``groups=None`` is the study's stratified CV; passing the basic scene of
    each image gives the group-aware CV (see :func:`fold_indices`). Each fold
    calls ``fit_predict(train_images, train_labels, test_images, fold)``, which
    returns probabilities ``(n, 4)`` or grades ``(n,)``. Taught in
    ``notebooks/07_cross_validation.ipynb``.
    """
    y = _labels(labels)
    if len(images) != len(y):
        raise ValueError(f"{len(images)} images but {len(y)} labels")
    splits = fold_indices(y, groups, folds, seed)
    table = fold_table(y, splits, groups)
    rows, confusions, preds = [], [], []
    for fold in tqdm(splits, desc="folds", disable=not show_progress(progress), leave=False):
        output = fit_predict(images[fold.train], y[fold.train], images[fold.test], fold.index)
        predicted = _as_grades(output, len(fold.test), fold.index)
        confusions.append(metrics.confusion(y[fold.test], predicted, N_GRADES))
        rows.append(float(np.mean(predicted == y[fold.test])))
        preds.append(
            pd.DataFrame(
                {
                    "index": fold.test,
                    "fold": fold.index,
                    "true": y[fold.test],
                    "predicted": predicted,
                }
            )
        )
    per_fold = table[["images", "grades present"]].assign(accuracy=rows)
    scheme = "stratified" if groups is None else "grouped"
    notes = []
    if len(splits) < folds:
        notes.append(
            f"{len(splits)} folds instead of {folds}: a grade has only {len(splits)} groups, and "
            "each group-aware validation fold must hold every grade."
        )
    lacking = per_fold.index[per_fold["grades present"] < len(np.unique(y))].tolist()
    if lacking:
        notes.append(f"validation fold(s) {lacking} lack a grade (see fold_table)")
    predictions = pd.concat(preds).sort_values("index").reset_index(drop=True)
    return CVResult(scheme, folds, per_fold, np.stack(confusions), predictions, method, seed, notes)


def compare(results: Sequence[CVResult]) -> pd.DataFrame:
    """One row per scheme: folds, mean and sd of the fold accuracies, and the pooled accuracy."""
    return pd.DataFrame(
        [
            {
                "scheme": r.scheme,
                "folds": r.n_folds,
                "mean accuracy": r.mean,
                "sd": r.sd,
                "pooled accuracy": metrics.overall_accuracy(r.confusion),
                "method": r.method,
            }
            for r in results
        ]
    ).set_index("scheme")


# --------------------------------------------------------------------------- what to train


def pixel_fit_predict(kind: str = "knn", size: int = 16) -> FitPredict:
    """A seconds-fast classifier on downsampled pixels (no network), for tests and demos.

    ``kind="knn"`` (1-nearest neighbour) finds the most similar training image:
    it is the purest detector of leakage between near-copies. ``"centroid"`` is
    a nearest-centroid classifier (one mean image per grade). Both are
    scikit-learn's.
    """
    if kind not in ("knn", "centroid"):
        raise ValueError(f"kind must be 'knn' or 'centroid', got {kind!r}")

    def features(images: np.ndarray) -> np.ndarray:
        step = max(1, images.shape[1] // size)
        return images[:, ::step, ::step].reshape(len(images), -1).astype(np.float32) / 255.0

    def fit_predict(train_x, train_y, test_x, fold):
        model = KNeighborsClassifier(1) if kind == "knn" else NearestCentroid()
        return model.fit(features(train_x), train_y).predict(features(test_x))

    return fit_predict


def network_fit_predict(profile: Profile, trial: int = 0, record: list | None = None) -> FitPredict:
    """Train the profile's network on each fold (:func:`synovis_lib.train.fit_profile`, not cached)
    with the options and seed of ``trial``, and predict the held-out fold.

    The held-out fold is the validation, so no separate validation set is used
    during training. Fold models are not cached (a VGG-16 is half a gigabyte);
    the CV result is (:func:`synovis_lib.pipeline.cv_for`). When the first fold had to fall back
    (no ImageNet weights), later folds build the fallback directly instead of
    trying the download again. Each trained model's weights summary is
    appended to ``record``.
    """
    current = [profile]
    # The first fold's weights record once it fell back: later folds build the fallback
    # directly and are recorded as that same fallback, not as a model that was asked for.
    fallback: list = []

    def fit_predict(train_x, train_y, test_x, fold):
        data = SimpleNamespace(images=train_x, labels=train_y)
        trained = fit_profile(current[0], data, None, trial, progress=False)
        weights = trained.weights
        if weights.fallback and not fallback:
            fallback.append(weights)
            current[0] = dataclasses.replace(profile, backbone=weights.backbone, weights="none")
        elif fallback:
            weights = fallback[0]
        if record is not None:
            record.append(weights.summary())
        return trained.predict(test_x)

    return fit_predict


# --------------------------------------------------------------------------- figures


def plot_folds(labels: Any, folds: Sequence[Fold], groups: Any = None, ax=None, title: str = ""):
    """Stacked bars: the grades in each validation fold (a missing colour = a missing grade)."""
    table = fold_table(labels, folds, groups)
    ax = ax or plt.subplots(figsize=(4.5, 3))[1]
    bottom = np.zeros(len(table))
    for g in range(N_GRADES):
        values = table[f"grade {g}"].to_numpy()
        ax.bar(table.index, values, bottom=bottom, label=f"grade {g}", color=f"C{g}")
        bottom += values
    ax.set_xlabel("validation fold")
    ax.set_ylabel("images")
    ax.set_xticks(table.index)
    ax.set_title(title or ("group-aware folds" if groups is not None else "stratified folds"))
    ax.legend(fontsize=8, loc="lower right")
    return ax


def paper_cv_mean() -> float:
    """The study's 5-fold CV mean accuracy (0.99543), from ``data/paper_results.json``.

    The study cross-validated its *second* model's training set (870 + 5 images).
    """
    return float(metrics.paper_results()["cross_validation"]["mean_accuracy"])


def plot_cv(results: Sequence[CVResult], ax=None, paper: bool = True):
    """Fold accuracies (dots) and mean ± sd (bars) per scheme, with the paper's mean
    (:func:`paper_cv_mean`) as a dashed line unless ``paper=False``."""
    ax = ax or plt.subplots(figsize=(4.5, 3.2))[1]
    for k, r in enumerate(results):
        ax.scatter(np.full(r.n_folds, k), r.accuracies, color=f"C{k}", alpha=0.7, zorder=3)
        ax.errorbar(k + 0.15, r.mean, yerr=r.sd, fmt="s", color="k", capsize=4, zorder=4)
        ax.annotate(f"{r.mean:.3f}", (k + 0.22, r.mean), fontsize=9, va="center")
    if paper:
        mean = paper_cv_mean()
        ax.axhline(mean, color="grey", ls="--", lw=1, label=f"paper's CV mean {mean:.3f}")
        ax.legend(fontsize=8, loc="lower left")
    ax.set_xticks(range(len(results)), [f"{r.scheme}\n({r.n_folds} folds)" for r in results])
    ax.set_xlim(-0.5, len(results) - 0.3)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("validation accuracy")
    return ax
