"""Speed of the evaluation statistics: DeLong vs bootstrap ROC CIs, kappa, grade report.

Run: .venv/bin/python benchmarks/bench_metrics.py
Prints seconds per call at the study's size (156 images, 74 patients) and larger.
"""

from __future__ import annotations

import numpy as np
from timing import best_of

from synovis_lib import metrics


def main() -> None:
    table = metrics.paper_confusion("initial")
    print(
        f"grade_report(Table 2)            {best_of(lambda: metrics.grade_report(table)) * 1e3:8.2f} ms"
    )
    print(
        f"weighted_kappa(Table 2)          {best_of(lambda: metrics.weighted_kappa(table)) * 1e3:8.2f} ms"
    )
    for n in (156, 10_000):
        y, _, probs = metrics.scores_consistent_with(table * max(1, n // 156), seed=0)
        patients = np.arange(y.size) % max(1, y.size * 74 // 156)
        delong = best_of(lambda y=y, probs=probs: metrics.roc_per_grade(y, probs))
        boot = best_of(
            lambda y=y, probs=probs, patients=patients: metrics.roc_per_grade(
                y, probs, patients, ci="bootstrap", n_boot=2000
            ),
            repeat=1,
        )
        print(f"roc_per_grade DeLong    n={y.size:6d} {delong * 1e3:8.2f} ms")
        print(f"roc_per_grade bootstrap n={y.size:6d} {boot:8.2f} s (2000 patient resamples)")


if __name__ == "__main__":
    main()
