"""How fast are the 870 artificial training images generated and grade-checked?

Generates the study's set (212/236/222/200 images, 224 x 224) in memory with
``synovis_lib.synth.generate_training_set``: every image is a rendered variant
of a basic scene that the EULAR/OMERACT checker confirmed. One thread (NumPy and
torch), so the figure is per core. Prints images per second for wall-clock and
process CPU time (CPU time is the steadier figure on a shared machine), plus
the render and grade-check costs on their own.

    .venv/bin/python benchmarks/bench_synth.py [--size 224] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from synovis_lib import synth  # noqa: E402
from synovis_lib.grading import grade_from_masks  # noqa: E402


def timed(function, repeats: int) -> tuple[float, float]:
    """Best wall-clock and CPU seconds over ``repeats`` runs."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    synth.generate_training_set(0, args.size, {0: 2, 1: 2, 2: 2, 3: 2})  # warm the caches

    holder = {}
    wall, cpu = timed(
        lambda: holder.update(ts=synth.generate_training_set(0, args.size)), args.repeats
    )
    ts = holder["ts"]
    n = len(ts)
    print(f"generate + check {n} images at {args.size}px (counts {ts.counts()}):")
    print(
        f"  wall {wall:.2f} s = {n / wall:.0f} images/s; CPU {cpu:.2f} s = {n / cpu:.0f} images/s"
    )
    attempts = ts.provenance["attempts"]
    print(f"  draws per image: mean {attempts.mean():.3f}, max {attempts.max()}")

    scenes = [synth.variant_scene(r) for r in ts.provenance.head(200).to_dict("records")]
    rendered = [synth.render(s, args.size) for s in scenes]
    wall, cpu = timed(lambda: [synth.render(s, args.size) for s in scenes], args.repeats)
    print(f"  render only: {len(scenes) / cpu:.0f} images/s (CPU)")
    wall, cpu = timed(
        lambda: [grade_from_masks(r.vascular, r.synovium) for r in rendered], args.repeats
    )
    print(f"  grade check only: {len(scenes) / cpu:.0f} images/s (CPU)")


if __name__ == "__main__":
    main()
