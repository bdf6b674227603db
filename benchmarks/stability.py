"""Is the course's model stable enough to teach? Seeds, goal figures and the placebo.

For a profile (default ``quick``) and ``--trials`` seeds it runs notebook 08's
study (:func:`synovis_lib.pipeline.second_model_study`: initial, second and
placebo model per trial, all from the model cache) and prints, per trial:

- the initial model on the whole simulated clinic: linear weighted kappa
  against the consensus and grade-1 AUC (what notebook 06 reports);
- the same on the development patients (what notebook 09 chooses by);
- the held-out kappa of the initial, second and placebo models and the
  changes second - initial and placebo - initial (notebook 08's yardstick).

Then the means and sample sds, and the goal figures of CONTRIBUTING.md
("Stability"): kappa >= the study's 0.62 with sd <= 0.05, grade-1 AUC >= 0.70,
and a placebo that moves the held-out kappa less, on average, than the study's
second model moved it (0.62 -> 0.69). ``--out`` writes the table and figures as
JSON. Trials beyond the profile's own train fresh models (about 13 s each for
``quick`` on a 2-core CPU, three models per trial).

    .venv/bin/python benchmarks/stability.py --trials 6
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synovis_lib import backbones, get_profile, metrics, pipeline
from synovis_lib.files import atomic_write

GOALS = {"kappa": 0.62, "kappa_sd": 0.05, "auc_grade_1": 0.70}
"""The study's initial-model kappa, the spread we can teach with, and a useful grade-1 AUC."""


def study_effect() -> float:
    """The study's own second-model effect on linear kappa (Tables 2 and 3: 0.62 -> 0.69)."""
    models = metrics.paper_results()["models"]
    return (
        models["second"]["weighted_kappa"]["kappa"] - models["initial"]["weighted_kappa"]["kappa"]
    )


def per_trial(profile, trials: int) -> pd.DataFrame:
    """One row per trial: whole-clinic and development scores, held-out kappa changes."""
    cohort = pipeline.cohort_for(profile)
    study = pipeline.second_model_study(profile, trials=trials, cohort=cohort)
    truth = cohort.table["consensus"].astype("Int64")
    graded = np.flatnonzero(truth.notna().to_numpy())
    y = truth.iloc[graded].to_numpy(dtype=int)
    _, dev, y_dev = backbones.development_set(profile)
    change = study.comparison.kappa_change().to_numpy()
    placebo = study.placebo.kappa_change().to_numpy()
    held = study.comparison.per_trial.pivot(index="trial", columns="model", values="kappa")
    rows = []
    for t, probs in enumerate(study.probs_initial):
        whole = backbones.score(probs[graded], y)
        rows.append(
            {
                "trial": t,
                "kappa": whole["kappa"],
                "auc_grade_1": whole["auc_grade_1"],
                "dev_kappa": backbones.score(probs[dev], y_dev)["kappa"],
                "held_out_initial": held.loc[t, "initial"],
                "second_change": change[t],
                "placebo_change": placebo[t],
            }
        )
    return pd.DataFrame(rows)


def goals(table: pd.DataFrame) -> dict[str, dict[str, float | bool]]:
    """Each goal figure: the measured value, the goal and whether it is met."""
    kappa, sd = float(table["kappa"].mean()), float(table["kappa"].std(ddof=1))
    auc = float(table["auc_grade_1"].mean())
    placebo = float(table["placebo_change"].abs().mean())
    effect = study_effect()
    return {
        "kappa_mean": {"value": kappa, "goal": GOALS["kappa"], "met": kappa >= GOALS["kappa"]},
        "kappa_sd": {"value": sd, "goal": GOALS["kappa_sd"], "met": sd <= GOALS["kappa_sd"]},
        "auc_grade_1": {
            "value": auc,
            "goal": GOALS["auc_grade_1"],
            "met": auc >= GOALS["auc_grade_1"],
        },
        "placebo_mean_abs_change": {"value": placebo, "goal": effect, "met": placebo < effect},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--out", type=Path, help="write the table and goal figures as JSON")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile, announce=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing-grade warnings of tiny profiles
        table = per_trial(profile, args.trials)
    print(profile.summary())
    print(table.round(3).to_string(index=False))
    summary = table.drop(columns="trial").agg(["mean", "std"]).round(3)
    print(summary.to_string())
    print(
        f"mean |change| of held-out kappa: second {table['second_change'].abs().mean():.3f}, "
        f"placebo {table['placebo_change'].abs().mean():.3f}"
    )
    figures = goals(table)
    for name, figure in figures.items():
        verdict = "met" if figure["met"] else "NOT met"
        print(f"{name}: {figure['value']:.3f} (goal {figure['goal']:.3f}) {verdict}")
    if args.out:
        record = {
            "profile": profile.summary(),
            "trials": json.loads(table.to_json(orient="records")),
            "goals": figures,
        }
        with atomic_write(args.out) as tmp:
            Path(tmp).write_text(json.dumps(record, indent=1) + "\n")
        print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
