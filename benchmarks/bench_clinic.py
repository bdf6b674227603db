"""How long simulating the clinical test set takes (156 images, 74 patients) on one core.

Run: ``.venv/bin/python benchmarks/bench_clinic.py``. Prints wall-clock and CPU
seconds for the whole cohort at 224 px (the study's size) and 64 px (the quick
profile), and the share spent rendering screenshots. Goal: under 10 s at 224 px.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from synovis_lib import ultrasound  # noqa: E402
from synovis_lib.agreement import rater_kappa  # noqa: E402
from synovis_lib.clinic import simulate_cohort  # noqa: E402


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    torch.set_num_threads(1)
    print(f"threads: torch={torch.get_num_threads()}, OMP/OpenBLAS/MKL=1")
    for size in (224, 64):
        cohort, wall, cpu = timed(simulate_cohort, seed=0, size=size)
        print(
            f"simulate_cohort(seed=0, size={size}): {len(cohort)} images in {wall:.2f} s wall, "
            f"{cpu:.2f} s CPU ({1000 * wall / len(cohort):.0f} ms per image)"
        )
    rng = np.random.default_rng(0)
    scenes = [
        ultrasound.sample_scene(rng, ultrasound.sample_examination(rng), g % 4) for g in range(32)
    ]
    _, sample_wall, _ = timed(
        lambda: [
            ultrasound.sample_scene(rng, ultrasound.sample_examination(rng), g % 4)
            for g in range(32)
        ]
    )
    _, render_wall, _ = timed(lambda: [ultrasound.screenshot(s.scene, 224) for s in scenes])
    print(
        f"per image: drawing and grading a scene {1000 * sample_wall / 32:.1f} ms, "
        f"rendering it at 224 px {1000 * render_wall / 32:.1f} ms"
    )
    table = cohort.table
    kappa = rater_kappa(table["rater_1"], table["rater_2"])
    print(
        f"default seed: consensus 0/1/2/3 = {'/'.join(map(str, cohort.consensus_counts()))}, "
        f"raters 1 vs 2 linear kappa {kappa.kappa:.2f} ({kappa.ci_low:.2f}-{kappa.ci_high:.2f}), "
        f"{int((table['rater_1'] != table['rater_2']).sum())} disagreements"
    )


if __name__ == "__main__":
    main()
