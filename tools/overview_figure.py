"""Draw the README/book overview figure: one illustration and one simulated scan per grade.

Usage: .venv/bin/python tools/overview_figure.py [book/images/overview.png]
Deterministic (seed 0), so re-running it reproduces the committed image.
"""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt

from synovis_lib import clinic, synth
from synovis_lib.files import atomic_write


def main(out: str = "book/images/overview.png") -> None:
    scenes = {s.grade: s for s in reversed(synth.load_basic_scenes())}
    cohort = clinic.simulate_cohort(seed=0, size=224)
    first = cohort.table.reset_index(drop=True).groupby("consensus").head(1)
    fig, axes = plt.subplots(2, 4, figsize=(10, 5.4), layout="constrained")
    for grade in range(4):
        axes[0, grade].imshow(synth.render(scenes[grade], 224).rgb)
        axes[0, grade].set_title(f"grade {grade}")
        row = first[first["consensus"] == grade].index[0]
        axes[1, grade].imshow(cohort.images[row])
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("illustration\n(training)")
    axes[1, 0].set_ylabel("simulated scan\n(testing)")
    with atomic_write(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
