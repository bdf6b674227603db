"""The study's second model, done so that nothing leaks.

The study looked at what its initial model got wrong on the clinical images,
chose a misclassified grade-1 image that the model called grade 2, drew five
new artificial images modelled on it, and trained a second model on the
original 870 plus those five. This module holds each step, and keeps the
choice of the source image away from the images the two models are compared on:

1. :func:`split_by_patient` splits the clinical cohort by patient into a
   development part and a held-out part;
2. :func:`misclassified` and :func:`plot_error_gallery` show the errors on the
   development part; :func:`choose_sources` picks the source image there
   (its layout read by :mod:`synovis_lib.layout`, new scenes drawn by
   :mod:`synovis_lib.redraw`);
3. :func:`compare_models` compares two models on the held-out part only
   (confusion matrices, per-grade table, grade-1 AUC and weighted kappa with
   CIs, McNemar's test) over the trials; :func:`source_removal_check` repeats
   the study's own check.

:func:`synovis_lib.pipeline.second_model_study` runs the whole study for a
profile and returns a :class:`SecondModelStudy`.

Taught in ``notebooks/08_error_driven_augmentation.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from synovis_lib import metrics
from synovis_lib.explain import gradcam, plot_gradcam
from synovis_lib.layout import estimate_layout
from synovis_lib.metrics import grade_report
from synovis_lib.plots import plot_confusion, plot_roc


@dataclass(frozen=True)
class PatientSplit:
    """The clinical cohort split by patient: a development part and a held-out part."""

    dev: np.ndarray
    """Row positions (in the cohort's order) of the development images."""
    held_out: np.ndarray
    """Row positions of the held-out images."""
    table: pd.DataFrame
    """The cohort's table with a ``part`` column (``"dev"`` or ``"held-out"``)."""

    def counts(self) -> pd.DataFrame:
        """Images and patients per part, and images per consensus grade."""
        table = self.table
        grades = pd.crosstab(table["part"], table["consensus"].astype("Int64"))
        grades.columns = [f"grade {g}" for g in grades.columns]
        out = grades.assign(
            images=table.groupby("part").size(),
            patients=table.groupby("part")["patient_id"].nunique(),
        )
        return out.loc[["dev", "held-out"]]

    def shared_patients(self) -> set[str]:
        """Patients with images in both parts (empty by construction)."""
        ids = self.table["patient_id"].astype(str).to_numpy()
        return set(ids[self.dev]) & set(ids[self.held_out])


def split_by_patient(cohort, dev_fraction: float = 0.5, seed: int = 0) -> PatientSplit:
    """Split a :class:`synovis_lib.clinic.Cohort` by patient, stratified by consensus grade.

    All images of a patient go to the same part (a patient's joints resemble
    each other: choosing a source image from a patient whose other joints are
    in the test part would leak). :class:`~sklearn.model_selection.StratifiedGroupKFold`
    with ``k = round(1 / dev_fraction)`` folds keeps the grade proportions as
    far as whole patients allow; one fold is the development part (so
    ``dev_fraction`` is used as 1/k: 0.5, 0.33, 0.25, ...). Images without a
    consensus are stratified as a class of their own.
    """
    if not 0 < dev_fraction <= 0.5:
        raise ValueError(f"dev_fraction must be in (0, 0.5], got {dev_fraction}")
    table = cohort.table.reset_index(drop=True)
    for column in ("patient_id", "consensus"):
        if column not in table:
            raise ValueError(f"the cohort table has no {column!r} column")
    k = max(2, round(1 / dev_fraction))
    strata = table["consensus"].astype("Int64").fillna(-1).to_numpy(dtype=int)
    patients = table["patient_id"].astype(str).to_numpy()
    if len(set(patients)) < k:
        raise ValueError(f"{len(set(patients))} patients cannot be split into {k} parts")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    _, dev = next(splitter.split(np.zeros(len(table)), strata, patients))
    dev = np.sort(dev)
    held = np.setdiff1d(np.arange(len(table)), dev)
    part = np.where(np.isin(np.arange(len(table)), dev), "dev", "held-out")
    return PatientSplit(dev, held, table.assign(part=part))


def misclassified(
    table: pd.DataFrame, predicted, rows=None, truth: str = "consensus"
) -> pd.DataFrame:
    """The misclassified images: one row each (position, image, patient, true, predicted,
    probability of the predicted grade), sorted by (true, predicted).

    ``predicted`` is ``(N,)`` grades or ``(N, 4)`` probabilities in the table's
    order; ``rows`` restricts the analysis to those positions (e.g. the
    development part of a :class:`PatientSplit`); ``position`` is always the
    row in ``table``. Images without a ``truth`` grade are left out.
    """
    probs = np.asarray(predicted)
    grades = probs.argmax(axis=1) if probs.ndim == 2 else probs.astype(int)
    if len(grades) != len(table):
        raise ValueError(f"{len(grades)} predictions for {len(table)} table rows")
    true = table[truth].astype("Int64")
    frame = pd.DataFrame(
        {
            "position": np.arange(len(table)),
            "image": table["image"].to_numpy(),
            "patient_id": table["patient_id"].to_numpy(),
            "true": true.to_numpy(),
            "predicted": grades,
        }
    )
    if probs.ndim == 2:
        frame["probability"] = probs[np.arange(len(probs)), grades]
    wrong = true.notna().to_numpy() & (frame["true"].fillna(-1).to_numpy() != grades)
    if rows is not None:
        wrong &= np.isin(np.arange(len(table)), np.asarray(rows, dtype=int))
    return frame[wrong].sort_values(["true", "predicted", "position"]).reset_index(drop=True)


def error_pairs(errors: pd.DataFrame) -> pd.DataFrame:
    """How many misclassified images per (true, predicted) pair, most frequent first."""
    counts = errors.groupby(["true", "predicted"]).size().rename("images").reset_index()
    return counts.sort_values("images", ascending=False).reset_index(drop=True)


def choose_sources(
    errors: pd.DataFrame,
    images: np.ndarray,
    n: int = 1,
    seed: int = 0,
    true: int = 1,
    predicted: int = 2,
) -> pd.DataFrame:
    """Pick ``n`` source images among the errors ``true -> predicted`` (the study: 1 -> 2).

    ``errors`` comes from :func:`misclassified` on the *development* part and
    ``errors.position`` indexes ``images`` (the cohort's images). The
    study chose at random; here the choice is random (``seed``) within the
    best available tier of candidates:

    1. the layout (:func:`estimate_layout`) reads as the true grade (the new
       images can copy it as it is);
    2. it reads above the true grade (:func:`synovis_lib.redraw.fit_to_grade` trims it);

    images whose layout reads *below* the true grade cannot be modelled (that
    would invent signal). If no ``true -> predicted`` error qualifies, the
    other errors of true grade ``true`` are used, and the ``note`` column says
    so. Returns the chosen rows with ``read_as``, ``spots`` and ``note``;
    raises ``ValueError`` when nothing qualifies.
    """
    focus = errors[errors["true"] == true]
    pair = focus[focus["predicted"] == predicted]
    for pool, note in ((pair, ""), (focus, f"no usable {true} -> {predicted} error")):
        candidates = pool.copy()
        if candidates.empty:
            continue
        layouts = [estimate_layout(images[p]) for p in candidates["position"]]
        candidates["read_as"] = [layout.grade.grade for layout in layouts]
        candidates["spots"] = [layout.n_spots for layout in layouts]
        candidates["note"] = note
        for tier in (candidates["read_as"] == true, candidates["read_as"] > true):
            options = candidates[tier.to_numpy()]
            if len(options):
                rng = np.random.default_rng(seed)
                chosen = rng.choice(len(options), size=min(n, len(options)), replace=False)
                return options.iloc[np.sort(chosen)].reset_index(drop=True)
    raise ValueError(
        f"no misclassified image of true grade {true} whose layout can be modelled "
        f"({len(pair)} {true} -> {predicted} errors, {len(focus)} errors of grade {true})"
    )


def plot_error_gallery(trained, images: np.ndarray, errors: pd.DataFrame, limit: int = 8):
    """Misclassified images with the Grad-CAM of the grade the model gave them.

    ``trained`` is a :class:`synovis_lib.train.TrainedModel`; ``errors`` rows
    (from :func:`misclassified`) index ``images`` by ``position``.
    """
    rows = errors.head(limit)
    if rows.empty:
        raise ValueError("no misclassified images to show")
    picked = images[rows["position"].to_numpy()]
    heat = gradcam(
        trained.model,
        picked,
        target=[int(p) for p in rows["predicted"]],
        image_size=trained.options.image_size,
    )
    titles = [f"{r.image}\ntrue {r.true} -> predicted {r.predicted}" for r in rows.itertuples()]
    return plot_gradcam(picked, heat, titles, ncols=min(3, len(rows)))


@dataclass
class Comparison:
    """The initial and the second model on the same images, trial by trial."""

    per_trial: pd.DataFrame
    """One row per (trial, model): accuracy, linear weighted kappa with CI, focus-grade AUC
    with CI (DeLong)."""
    mcnemar: pd.DataFrame
    """One row per trial: the discordant counts and McNemar's statistic and p-value."""
    confusions: dict[str, np.ndarray]
    """Model name -> ``(trials, 4, 4)`` confusion tables."""
    focus_grade: int = 1
    n_images: int = 0

    def summary(self) -> pd.DataFrame:
        """Mean ± sd over trials of each measure, one column per model."""
        numeric = self.per_trial.drop(columns="trial")
        grouped = numeric.groupby("model", sort=False)
        mean, sd = grouped.mean(), grouped.std(ddof=1)
        text = mean.map(lambda v: f"{v:.3f}")
        if len(self.per_trial["trial"].unique()) > 1:
            text = mean.map(lambda v: f"{v:.3f}") + " ± " + sd.map(lambda v: f"{v:.3f}")
        return text.T

    def means(self) -> pd.DataFrame:
        """Each model's mean over trials of every numeric measure, one row per model."""
        return self.per_trial.groupby("model", sort=False).mean(numeric_only=True)

    def kappa_change(self) -> pd.Series:
        """Per trial: the second model's kappa minus the first's (same trial, same seed)."""
        kappa = self.per_trial.pivot(index="trial", columns="model", values="kappa")
        first, second = self.per_trial["model"].unique()[:2]
        return (kappa[second] - kappa[first]).rename(f"kappa {second} - {first}")

    def grade_table(self, trial: int | None = None) -> pd.DataFrame:
        """Per-grade accuracy, precision, recall, F1 and specificity of both models side by
        side, for one trial or (``None``) from the tables summed over trials."""
        columns = ["accuracy", "precision", "recall", "f1", "specificity", "support"]
        parts = {}
        for model, tables in self.confusions.items():
            table = tables.sum(axis=0) if trial is None else tables[trial]
            parts[model] = grade_report(table)[columns]
        return pd.concat(parts, axis=1)

    def plot(self, trial: int | None = 0):
        """The two confusion tables side by side (one trial, or summed over trials)."""
        fig, axes = plt.subplots(1, len(self.confusions), figsize=(8.6, 3.8), layout="constrained")
        for ax, (model, tables) in zip(np.atleast_1d(axes), self.confusions.items(), strict=True):
            table = tables.sum(axis=0) if trial is None else tables[trial]
            which = "all trials" if trial is None else f"trial {trial}"
            plot_confusion(table, title=f"{model} model ({which})", ax=ax)
        return fig


def compare_models(
    y_true,
    first,
    second,
    names: tuple[str, str] = ("initial", "second"),
    focus_grade: int = 1,
    weights: str = "linear",
) -> Comparison:
    """Compare two models on the same images over trials.

    ``first`` and ``second`` are lists (one entry per trial) of ``(N, 4)``
    probabilities or ``(N,)`` grades; trial ``t`` of one is paired with trial
    ``t`` of the other (same seed). Per trial and model: accuracy, weighted kappa
    with its 95 % CI (:func:`synovis_lib.metrics.weighted_kappa`) and, from
    probabilities, the focus grade's one-vs-rest AUC with DeLong CI; per trial,
    McNemar's test of the paired correct/wrong outcomes
    (:func:`synovis_lib.metrics.mcnemar`). Taught in notebook 08.
    """
    y = metrics.grade_labels(y_true, "y_true")
    if len(first) != len(second) or not len(first):
        raise ValueError(f"need the same number of trials, got {len(first)} and {len(second)}")
    rows, tests = [], []
    confusions: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for trial, outputs in enumerate(zip(first, second, strict=True)):
        grades = []
        for name, output in zip(names, outputs, strict=True):
            out = np.asarray(output)
            pred = out.argmax(axis=1) if out.ndim == 2 else metrics.grade_labels(out, name)
            if len(pred) != len(y):
                raise ValueError(
                    f"{name} trial {trial}: {len(pred)} predictions for {len(y)} images"
                )
            grades.append(pred)
            table = metrics.confusion(y, pred)
            confusions[name].append(table)
            kappa = metrics.weighted_kappa(table, weights)
            row = {
                "trial": trial,
                "model": name,
                "accuracy": metrics.overall_accuracy(table),
                "kappa": kappa.kappa,
                "kappa_low": kappa.ci_low,
                "kappa_high": kappa.ci_high,
            }
            if out.ndim == 2:
                roc = metrics.roc_per_grade(y, out)[focus_grade]
                row.update(
                    {
                        f"auc_grade{focus_grade}": roc.auc,
                        f"auc_grade{focus_grade}_low": roc.ci_low,
                        f"auc_grade{focus_grade}_high": roc.ci_high,
                    }
                )
            rows.append(row)
        test = metrics.mcnemar(y, grades[0], grades[1])
        tests.append(
            {
                "trial": trial,
                f"{names[0]} right, {names[1]} wrong": int(test.table.iloc[0, 1]),
                f"{names[0]} wrong, {names[1]} right": int(test.table.iloc[1, 0]),
                "statistic": test.statistic,
                "pvalue": test.pvalue,
                "exact": test.exact,
            }
        )
    return Comparison(
        per_trial=pd.DataFrame(rows),
        mcnemar=pd.DataFrame(tests),
        confusions={name: np.stack(t) for name, t in confusions.items()},
        focus_grade=focus_grade,
        n_images=len(y),
    )


def paper_comparison(comparison: Comparison) -> pd.DataFrame:
    """The study's numbers for both models beside ours (means over trials, held-out part):
    overall accuracy, linear weighted kappa and the focus grade's AUC."""
    published = metrics.paper_results()["models"]
    ours = comparison.means()
    focus = comparison.focus_grade
    rows = []
    for model in ours.index:
        paper = published.get(model)
        rows.append(
            {
                "model": model,
                "paper accuracy": metrics.overall_accuracy(paper["confusion"]) if paper else np.nan,
                "our accuracy": ours.loc[model, "accuracy"],
                "paper kappa": paper["weighted_kappa"]["kappa"] if paper else np.nan,
                "our kappa": ours.loc[model, "kappa"],
                f"paper grade-{focus} AUC": paper["grades"][str(focus)]["auc"] if paper else np.nan,
                f"our grade-{focus} AUC": ours[f"auc_grade{focus}"].get(model, np.nan)
                if f"auc_grade{focus}" in ours
                else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("model")


def verdict(
    comparison: Comparison, placebo: Comparison, alpha: float = 0.05, tolerance: float = 0.005
) -> str:
    """What notebook 08's comparison shows, in sentences built from its numbers.

    Whether the second model beat the initial one (linear kappa, focus-grade AUC
    and accuracy, means over trials; in how many trials the kappa rose; McNemar's
    test at ``alpha`` per trial) and whether it beat the placebo (the initial
    model's training set plus copied images, the yardstick for training noise).
    A model "beat" another when its mean kappa is higher and its kappa rose in
    every trial; a higher mean from some trials only "did not consistently beat". A kappa change smaller than
    ``tolerance`` (it rounds to 0.00) is no change. The study's own change is
    quoted beside ours. Taught in notebook 08.
    """
    first, second = comparison.per_trial["model"].unique()[:2]
    trials = int(comparison.per_trial["trial"].nunique())
    change = comparison.kappa_change()
    yardstick = placebo.kappa_change()
    means = comparison.means()
    kappa = means["kappa"]
    kappa_placebo = placebo.means()["kappa"].iloc[1]
    focus = f"auc_grade{comparison.focus_grade}"
    rose = int((change > tolerance).sum())
    outcome = "did not beat"
    if change.mean() > tolerance:
        outcome = "beat" if rose == trials else "did not consistently beat"
    measures = [f"linear weighted kappa {kappa[second]:.2f} against {kappa[first]:.2f}"]
    if focus in comparison.per_trial:
        auc = means[focus]
        measures.append(
            f"grade-{comparison.focus_grade} AUC {auc[second]:.2f} against {auc[first]:.2f}"
        )
    accuracy = means["accuracy"]
    measures.append(f"accuracy {accuracy[second]:.2f} against {accuracy[first]:.2f}")
    tests = comparison.mcnemar
    significant = tests[tests["pvalue"] < alpha]
    gained, lost = f"{first} wrong, {second} right", f"{first} right, {second} wrong"
    better = significant[significant[gained] > significant[lost]]
    mcnemar = (
        f"McNemar's test found the two models' right and wrong images different "
        f"(p < {alpha}) in {len(significant)} of {trials} trial(s)"
        + (
            f", the {second} model the better one in {len(better)} of them."
            if len(significant)
            else "."
        )
    )
    beats_placebo = kappa[second] > kappa_placebo + tolerance
    study = metrics.paper_results()["models"]
    paper = ""
    if {"initial", "second"} <= set(study):
        k0 = study["initial"]["weighted_kappa"]["kappa"]
        k1 = study["second"]["weighted_kappa"]["kappa"]
        paper = f" The study reported kappa {k0:.2f} -> {k1:.2f} on all its images."
    return (
        f"On the {comparison.n_images} held-out images, over {trials} trial(s), the {second} "
        f"model had {', '.join(measures)} for the {first} model (means). Its kappa rose in "
        f"{rose} of {trials} trial(s) (mean change {change.mean():+.3f}). {mcnemar} The "
        f"placebo model, trained on copied images instead of new drawings, changed the kappa "
        f"by {yardstick.mean():+.3f} on average (mean size {yardstick.abs().mean():.3f}, "
        f"against {change.abs().mean():.3f} for the {second} model) and reached "
        f"{kappa_placebo:.2f}. So in this run the {second} model **{outcome} the {first} "
        f"model** and **{'beat' if beats_placebo else 'did not beat'} the placebo**."
        f"{paper}"
    )


def plot_rocs(y_true, probs: dict[str, np.ndarray], focus_grade: int | None = None):
    """One-vs-rest ROC curves of each model, side by side on the same images (the paper's
    Figures 4 and 5), DeLong CIs in the legends; ``focus_grade`` titles that grade's AUC.
    Taught in notebook 08."""
    fig, axes = plt.subplots(1, len(probs), figsize=(4.4 * len(probs), 4.6), layout="constrained")
    for ax, (model, p) in zip(np.atleast_1d(axes), probs.items(), strict=True):
        rocs = metrics.roc_per_grade(y_true, p)
        title = f"{model} model"
        if focus_grade is not None:
            title += f" (grade-{focus_grade} AUC {rocs[focus_grade].auc:.2f})"
        plot_roc(rocs, ax=ax, title=title)
    return fig


def source_removal_check(y_true, predictions: dict[str, np.ndarray], sources) -> pd.DataFrame:
    """The study's leakage check: evaluate on all images, then without the source image(s).

    ``predictions`` maps a model name to ``(N,)`` grades or ``(N, 4)`` probabilities;
    ``sources`` are row positions of the source image(s). One row per (model,
    evaluation set): images, accuracy, linear weighted kappa.
    """
    y = metrics.grade_labels(y_true, "y_true")
    keep = ~np.isin(np.arange(len(y)), np.asarray(sources, dtype=int))
    rows = []
    for name, output in predictions.items():
        out = np.asarray(output)
        pred = out.argmax(axis=1) if out.ndim == 2 else out.astype(int)
        for label, mask in (("all images", np.ones_like(keep)), ("without the source", keep)):
            table = metrics.confusion(y[mask], pred[mask])
            rows.append(
                {
                    "model": name,
                    "evaluated on": label,
                    "images": int(mask.sum()),
                    "accuracy": metrics.overall_accuracy(table),
                    "kappa": metrics.weighted_kappa(table).kappa,
                }
            )
    return pd.DataFrame(rows)


def assert_no_leak(split: PatientSplit, sources) -> None:
    """Raise ``AssertionError`` if a source image, or any image of a development patient,
    is in the held-out part."""
    shared = split.shared_patients()
    if shared:
        raise AssertionError(f"patients in both parts: {sorted(shared)}")
    leaked = set(np.asarray(sources, dtype=int).tolist()) & set(split.held_out.tolist())
    if leaked:
        raise AssertionError(f"source image(s) at row(s) {sorted(leaked)} are in the held-out part")


@dataclass
class SecondModelStudy:
    """Everything :func:`synovis_lib.pipeline.second_model_study` did, for notebook 08 and
    ``synovis second-model``."""

    profile: str
    split: PatientSplit
    errors: pd.DataFrame
    """Development-part errors of the initial model (trial 0); ``position`` = cohort row."""
    sources: pd.DataFrame
    """The chosen source image(s); ``position`` = cohort row."""
    scenes: list
    extra: Any
    """The new images (a :class:`synovis_lib.synth.TrainingSet`)."""
    probs_initial: list[np.ndarray]
    """Per trial, the initial model's probabilities on the whole cohort."""
    probs_second: list[np.ndarray]
    probs_placebo: list[np.ndarray]
    """Per trial, the placebo model's (:func:`synovis_lib.redraw.placebo_set`) probabilities on the whole cohort."""
    comparison: Comparison
    """Both models on the held-out part only."""
    placebo: Comparison
    """The initial and the placebo model on the held-out part: the yardstick."""
    removal: pd.DataFrame
    """The study's check on the whole cohort, with and without the source image (trial 0)."""
    weights: str
    """Which network and weights were trained (e.g. the offline fallback)."""
    initial: list = field(default_factory=list)
    """Per trial, the initial model (a :class:`synovis_lib.train.TrainedModel`)."""
    second: list = field(default_factory=list)
    """Per trial, the second model."""
    held_out_graded: np.ndarray | None = None
    """Cohort rows of the held-out images that have a consensus: the images compared."""
    source_image: np.ndarray | None = None
    """The source image as it was read (at :func:`synovis_lib.pipeline.reading_cohort` size)."""

    def headline(self) -> dict[str, Any]:
        """The numbers a results table needs (means over trials, held-out part)."""
        per = self.comparison.means()
        focus = f"auc_grade{self.comparison.focus_grade}"
        out: dict[str, Any] = {
            "profile": self.profile,
            "weights": self.weights,
            "held_out_images": self.comparison.n_images,
            "trials": int(self.comparison.per_trial["trial"].nunique()),
            "sources": self.sources["image"].tolist(),
            "mcnemar_pvalues": self.comparison.mcnemar["pvalue"].round(4).tolist(),
        }
        placebo = self.placebo.means()
        for model, row in pd.concat([per, placebo.iloc[1:]]).iterrows():
            for measure in ("accuracy", "kappa", focus):
                if measure in row:
                    out[f"{model}_{measure}"] = round(float(row[measure]), 4)
        out["placebo_mcnemar_pvalues"] = self.placebo.mcnemar["pvalue"].round(4).tolist()
        return out
