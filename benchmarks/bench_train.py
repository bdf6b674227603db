"""Training speed on this machine: our trainer against a bare PyTorch loop.

For VGG-16 (random weights: speed does not depend on their values) at 64, 112
and 224 px, and for the compact CNN at 64 px, it times training steps of the
same model, batch and optimizer two ways:

- bare: ``loss = cross_entropy(model(x), y); zero_grad; backward; step`` on one
  preprocessed batch;
- ours: :func:`synovis_lib.train.train` (indexing, augmentation, bookkeeping,
  progress bar), timed between iterations with its callback.

It reports images/second (median step, best of ``--rounds`` alternating
rounds, after one warm-up step) and ours/bare. Then it times one whole
training run of the quick profile (``--quick``). The CPU is shared, so run it
on a quiet machine and read the figures as rough.

    .venv/bin/python benchmarks/bench_train.py
    .venv/bin/python benchmarks/bench_train.py --sizes 64 --steps 3 --quick
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from synovis_lib import get_profile
from synovis_lib.model import build_architecture, build_model, preprocess
from synovis_lib.pipeline import train_for, training_set_for, validation_set_for
from synovis_lib.train import TrainingOptions, make_optimizer, train


def images_for(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    return images, np.arange(n) % 4


def bare_loop(model, images, labels, options, steps: int) -> float:
    """Seconds per step (median after a warm-up step) of the plainest PyTorch loop."""
    x = preprocess(images[: options.mini_batch_size], options.image_size)
    y = torch.as_tensor(labels[: options.mini_batch_size])
    optimizer = make_optimizer(model, options)
    model.train()
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def our_trainer(model, images, labels, options, steps: int) -> float:
    """Seconds per step (median between iteration ends, after the first) of :func:`train`."""
    stamps: list[float] = []
    n = options.mini_batch_size * (steps + 1)
    train(
        model,
        images[:n],
        labels[:n],
        options,
        callback=lambda it, h: stamps.append(time.perf_counter()),
        progress=False,
    )
    return statistics.median(np.diff(stamps))


def compare(backbone: str, size: int, batch: int, steps: int, rounds: int) -> dict:
    torch.manual_seed(0)
    model = build_architecture(backbone)
    options = TrainingOptions(max_epochs=1, mini_batch_size=batch, image_size=size)
    images, labels = images_for(batch * (steps + 1), size)
    bare, ours = [], []
    for _ in range(rounds):
        bare.append(bare_loop(model, images, labels, options, steps))
        ours.append(our_trainer(model, images, labels, options, steps))
    bare_ips, ours_ips = batch / min(bare), batch / min(ours)
    return {
        "model": backbone,
        "size": size,
        "batch": batch,
        "bare img/s": bare_ips,
        "ours img/s": ours_ips,
        "ours/bare": ours_ips / bare_ips,
    }


def quick_run() -> None:
    """One quick-profile run as notebooks get it here (offline: the compact fallback), then
    the cost of the same run with ImageNet weights (frozen VGG-16; random weights cost the same).
    """
    profile = get_profile("quick", announce=False)
    start = time.perf_counter()
    trained = train_for(profile, progress=False, use_cache=False)
    wall = time.perf_counter() - start
    print(
        f"\nquick profile, one training run ({trained.weights.summary()}): "
        f"{trained.history.seconds:.1f} s training, {wall:.1f} s wall (incl. data, validation); "
        f"{len(trained.history.iteration)} iterations, final validation accuracy "
        f"{trained.history.final_val_accuracy:.3f}"
    )
    data, held_out = training_set_for(profile), validation_set_for(profile)
    torch.manual_seed(0)
    vgg, _ = build_model("vgg16", "none")
    options = TrainingOptions.from_profile(profile)
    start = time.perf_counter()
    history = train(
        vgg,
        data.images,
        data.labels,
        options,
        val_images=held_out.images,
        val_labels=held_out.labels,
        progress=False,
    )
    wall = time.perf_counter() - start
    print(
        f"quick profile with ImageNet weights (frozen VGG-16, cached fc7 features): {wall:.1f} s "
        f"wall, of which {history.seconds:.1f} s training the new layer"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 112, 224])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/ours rounds")
    parser.add_argument("--quick", action="store_true", help="also time the quick profile")
    parser.add_argument("--no-compact", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    rows = [compare("vgg16", s, args.batch, args.steps, args.rounds) for s in args.sizes]
    if not args.no_compact:
        rows.append(compare("compact", 64, 32, 4 * args.steps, args.rounds))
    print(
        f"{'model':8} {'size':>4} {'batch':>5} {'bare img/s':>11} {'ours img/s':>11} {'ours/bare':>9}"
    )
    for r in rows:
        print(
            f"{r['model']:8} {r['size']:4d} {r['batch']:5d} {r['bare img/s']:11.1f} "
            f"{r['ours img/s']:11.1f} {r['ours/bare']:9.2f}"
        )
    if args.quick:
        quick_run()


if __name__ == "__main__":
    main()
