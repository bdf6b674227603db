"""Results folders: what ``synovis train``, ``cv`` and ``second-model`` write.

Each writer puts one run's numbers, tables and figures in an output folder
built aside and swapped in whole (:func:`synovis_lib.files.output_folder`), so a
reused folder never mixes two runs and a folder synovis did not write is never
replaced: ``metrics.json`` or its kin first for a person, CSV tables for a
spreadsheet, PNG figures.

Taught in the README ("From the shell").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from synovis_lib import cv, files
from synovis_lib.cv import CVResult
from synovis_lib.metrics import Evaluation
from synovis_lib.pipeline import TrialsResult
from synovis_lib.plots import plot_confusion
from synovis_lib.profiles import Profile
from synovis_lib.second_model import SecondModelStudy
from synovis_lib.train import plot_training

RUN_KIND, CV_KIND, STUDY_KIND = "train", "cv", "second-model"
"""The kinds of output folder (:data:`synovis_lib.files.MARKER`), named after the commands."""


def write_run(
    out: str | Path,
    profile: Profile,
    result: TrialsResult,
    evaluations: Sequence[Evaluation],
    names: Sequence[str],
    reference: str,
) -> Path:
    """Write a training run's results as the folder ``out``, swapped in whole
    (:func:`synovis_lib.files.output_folder`: ``out`` must be new, empty or an earlier
    ``synovis train`` output).

    ``metrics.json`` (profile, weights, device, how many images were scored and why the
    others were not, per-trial numbers and mean ± sd), ``predictions.csv`` (per trial, one
    row per image of the cohort: reference and predicted grade, probabilities, and for an
    unscored image an empty reference and the reason), ``weights.json`` (which weights and device each trial
    used) and ``figures/`` (training progress and confusion table per trial).
    """
    with files.output_folder(out, RUN_KIND) as tmp:
        _write_run_files(tmp, profile, result, evaluations, names, reference)
    return Path(out)


def _write_run_files(
    out: Path,
    profile: Profile,
    result: TrialsResult,
    evaluations: Sequence[Evaluation],
    names: Sequence[str],
    reference: str,
) -> None:
    frames = []
    for trained, ev in zip(result.models, evaluations, strict=True):
        # every image of the cohort, scored or not (an unscored one has no reference, a reason)
        frame = ev.per_image()
        frame.insert(0, "image", list(names))
        frame.insert(0, "trial", trained.trial)
        frames.append(frame)
        figures = {
            f"training_trial{trained.trial}.png": plot_training(trained.history, trained.summary()),
            f"confusion_trial{trained.trial}.png": plot_confusion(
                ev.confusion, title=f"trial {trained.trial} vs {reference}"
            ).figure,
        }
        for name, fig in figures.items():
            with files.atomic_write(out / "figures" / name) as tmp:
                fig.savefig(tmp, format="png", dpi=110)
            plt.close(fig)
    files.write_text(
        out / "predictions.csv", pd.concat(frames, ignore_index=True).to_csv(index=False)
    )
    files.write_json(
        out / "weights.json",
        [
            m.weights.to_dict() | {"trial": m.trial, "device": m.device, "notes": m.notes}
            for m in result.models
        ],
    )
    summary = result.summary()
    files.write_json(
        out / "metrics.json",
        {
            "profile": profile.name,
            "profile_summary": profile.summary(),
            "weights": result.models[0].weights.summary(),
            "device": result.models[0].device,
            "reference": reference,
            "images": evaluations[0].n_images,
            "scored": len(evaluations[0].index),
            "unscored": evaluations[0].excluded,
            "unscored_reason": evaluations[0].reason_counts(),
            "trials": result.table.to_dict(orient="records"),
            "mean": summary["mean"].to_dict(),
            "sd": summary["sd"].to_dict(),
        },
    )


def write_study(study: SecondModelStudy, out: str | os.PathLike) -> Path:
    """Write the study's results as the folder ``out``, swapped in whole
    (:func:`synovis_lib.files.output_folder`): ``second_model.json`` (headline numbers),
    CSV tables, ``confusions.png`` and the new scenes as JSON (open them in the drawing
    studio)."""
    with files.output_folder(out, STUDY_KIND) as tmp:
        _write_study_files(study, tmp)
    return Path(out)


def _write_study_files(study: SecondModelStudy, out: Path) -> None:
    files.write_json(out / "second_model.json", study.headline())
    tables = {
        "per_trial.csv": study.comparison.per_trial,
        "mcnemar.csv": study.comparison.mcnemar,
        "placebo_per_trial.csv": study.placebo.per_trial,
        "placebo_mcnemar.csv": study.placebo.mcnemar,
        "grade_table.csv": study.comparison.grade_table().stack(level=0, future_stack=True),
        "split.csv": study.split.table,
        "sources.csv": study.sources,
        "dev_errors.csv": study.errors,
        "source_removal.csv": study.removal,
    }
    for name, frame in tables.items():
        with files.atomic_write(out / name) as tmp:
            frame.to_csv(tmp, index=name == "grade_table.csv")
    fig = study.comparison.plot(trial=None)
    with files.atomic_write(out / "confusions.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    for scene in study.scenes:
        scene.save(out / "scenes" / f"{scene.id}.json")


def write_cv(results: Sequence[CVResult], out: str | os.PathLike, profile_name: str) -> Path:
    """Write ``cv.json``, ``cv_folds.csv``, ``cv_predictions.csv`` and ``cv.png`` as the
    folder ``out``, swapped in whole (:func:`synovis_lib.files.output_folder`)."""
    with files.output_folder(out, CV_KIND) as tmp:
        _write_cv_files(results, tmp, profile_name)
    return Path(out)


def _write_cv_files(results: Sequence[CVResult], out: Path, profile_name: str) -> None:
    files.write_json(
        out / "cv.json",
        {"profile": profile_name, "results": [r.to_dict() for r in results]},
    )
    folds = pd.concat([r.per_fold.assign(scheme=r.scheme) for r in results]).reset_index()
    predictions = pd.concat([r.predictions.assign(scheme=r.scheme) for r in results])
    for name, frame in (("cv_folds.csv", folds), ("cv_predictions.csv", predictions)):
        with files.atomic_write(out / name) as tmp:
            frame.to_csv(tmp, index=False)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    cv.plot_cv(results, ax)
    with files.atomic_write(out / "cv.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
