"""GPU readiness check: train the ``paper`` profile's VGG-16 on this machine and check it.

One command tells whether a machine can run the study's profile. It builds the
``paper`` profile's network (VGG-16 with ImageNet weights if a local copy
exists, else, offline, VGG-16 from random init: the only download tried is
torchvision's one attempt for those weights), derives artificial training
images (:func:`synovis_lib.synth.generate_training_set`) and trains with the
library's own loop (:func:`synovis_lib.train.train`: on CUDA with autocast,
bfloat16 where supported else float16 with a gradient scaler, and
channels-last memory), then checks:

- ``images_per_s``: training iterations x batch / training seconds of a run of
  ``--steps`` iterations without checkpoints (the loop's own clock: it
  includes the first, warm-up iteration and one copy of the weights for the
  resume check, not data preparation);
- ``peak_memory_mib``: ``torch.cuda.max_memory_allocated`` during that run
  (``null`` off CUDA);
- ``loss_ok``: the mean losses of the first and of the last 10 % of its
  iterations (``loss_first``, ``loss_last``) are finite and, with ImageNet
  weights, the loss falls (``loss_falls``). From random init the fall is
  recorded but not required: VGG-16 (no batch norm) at the study's learning
  rate of 1e-4 stays near ln 4 = 1.386 for hundreds of iterations;
- ``resume_ok``: the first ``--resume-steps`` iterations of that run, repeated
  on fresh models with a checkpoint, stopped halfway and resumed, end with the
  same weights: ``resume_max_abs_diff`` is 0 on CPU and at most 1e-5 on a GPU,
  where cuDNN may pick non-deterministic algorithms, so two runs agree only
  closely;
- ``predict_ok``: grade probabilities of 16 images predicted on the device and
  on the CPU with the same weights differ by at most ``predict_tolerance``
  (2e-2 under mixed precision; 0, identical, when the device is the CPU).

It writes every figure to a JSON file (atomically), prints a short summary and
exits with status 0 when all checks pass, 1 otherwise. On a GPU machine:

    python benchmarks/gpu_check.py --out gpu_check.json

A smoke run on a CPU (well under a minute; VGG-16 needs at least 32 px):

    .venv/bin/python benchmarks/gpu_check.py --device cpu --quick --out /tmp/gpu_check.json
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synovis_lib.config import resolve_device
from synovis_lib.files import atomic_write
from synovis_lib.model import OfflineWeightsWarning, WeightsInfo, build_model
from synovis_lib.profiles import Profile, get_profile
from synovis_lib.synth import TrainingSet, generate_training_set
from synovis_lib.train import History, TrainingOptions, predict, train

QUICK = {"size": 32, "batch": 4, "steps": 2, "per_grade": 2, "resume_steps": 2}
"""What ``--quick`` sets: a CPU smoke run of a few seconds of training."""
PREDICT_IMAGES = 16


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, cpu"
    )
    parser.add_argument("--steps", type=int, default=300, help="iterations of the timed run")
    parser.add_argument("--size", type=int, default=224, help="input size in px (at least 32)")
    parser.add_argument("--batch", type=int, default=32, help="mini-batch size")
    parser.add_argument("--per-grade", type=int, default=64, help="training images per grade")
    parser.add_argument(
        "--resume-steps", type=int, default=20, help="iterations of the resume check"
    )
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="JSON report")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run, overriding those options: "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    if min(args.steps, args.resume_steps) < 2:
        parser.error("--steps and --resume-steps must be at least 2")
    return args


def paper_network(profile: Profile) -> tuple[nn.Module, WeightsInfo]:
    """The paper profile's VGG-16; offline, from random init (we say so ourselves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineWeightsWarning)
        return build_model(
            backbone=profile.backbone,
            weights=profile.weights,
            offline="fallback",
            fallback_backbone=profile.fallback_backbone,
            dropout=profile.dropout,
        )


def loss_ends(loss: Sequence[float]) -> tuple[float, float]:
    """Mean loss of the first and of the last 10 % of iterations (at least one each)."""
    k = max(1, len(loss) // 10)
    return float(np.mean(loss[:k])), float(np.mean(loss[-k:]))


class Snapshot:
    """A :func:`train` callback that keeps a copy of the weights after iteration ``at``."""

    def __init__(self, model: nn.Module, at: int):
        self.model, self.at = model, at
        self.state: dict[str, torch.Tensor] = {}

    def __call__(self, iteration: int, history: History) -> None:
        if iteration == self.at:
            self.state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}


def timed_run(
    model: nn.Module, data: TrainingSet, options: TrainingOptions, steps: int, snapshot: Snapshot
) -> dict[str, object]:
    """Train ``steps`` iterations (no checkpoint): throughput, peak memory and loss trend."""
    device = resolve_device(options.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    history = train(
        model, data.images, data.labels, options, max_steps=steps, callback=snapshot, progress=False
    )
    first, last = loss_ends(history.loss)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {
        "iterations": len(history.loss),
        "images_per_s": len(history.loss) * options.mini_batch_size / history.seconds,
        "peak_memory_mib": peak,
        "loss_first": first,
        "loss_last": last,
        "loss_falls": bool(last < first),
        "loss_finite": math.isfinite(first) and math.isfinite(last),
    }


def resume_diff(
    fresh: Callable[[], nn.Module],
    data: TrainingSet,
    options: TrainingOptions,
    reference: Snapshot,
    folder: Path,
) -> float:
    """Largest weight difference between the uninterrupted run's ``reference`` and the same
    iterations run on a fresh model, stopped after half of them and resumed from the
    checkpoint on another fresh model."""
    checkpoint, half = folder / "resume.pt", reference.at // 2
    args = (data.images, data.labels, options)
    train(fresh(), *args, checkpoint=checkpoint, max_steps=half, progress=False)
    resumed = fresh()
    train(
        resumed,
        *args,
        checkpoint=checkpoint,
        resume=True,
        max_steps=reference.at - half,
        progress=False,
    )
    state = resumed.state_dict()
    return max(
        float((value.float() - state[name].to(value.device).float()).abs().max())
        for name, value in reference.state.items()
    )


def predict_diff(model: nn.Module, images: np.ndarray, size: int, device: torch.device) -> float:
    """Largest difference of grade probabilities predicted on ``device`` and on the CPU."""
    on_device = predict(model, images, image_size=size, device=device)
    on_cpu = predict(model, images, image_size=size, device="cpu")
    return float(np.abs(on_device - on_cpu).max())


def device_facts(device: torch.device) -> dict[str, object]:
    """Name, and the mixed precision and memory format :func:`train` uses there."""
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if cuda else str(device)
    amp = ("bfloat16" if torch.cuda.is_bf16_supported() else "float16") if cuda else None
    return {"device": name, "amp": cuda, "amp_dtype": amp, "channels_last": cuda}


def run_checks(args: argparse.Namespace) -> dict[str, object]:
    started = time.perf_counter()
    profile = get_profile("paper", announce=False)
    device = resolve_device(args.device)
    model, info = paper_network(profile)
    print(
        f"ImageNet weights used: {info.weights}"
        if info.pretrained
        else "ImageNet weights not present: VGG-16 from random init"
    )
    data = generate_training_set(seed=0, size=args.size, counts=[args.per_grade] * 4)
    per_epoch = len(data.labels) // args.batch
    options = TrainingOptions.from_profile(
        profile,
        0,
        image_size=args.size,
        mini_batch_size=args.batch,
        device=str(device),
        max_epochs=max(1, math.ceil(args.steps / max(1, per_epoch))),
    )
    initial = copy.deepcopy(model)
    reference = Snapshot(model, min(args.resume_steps, args.steps))
    timed = timed_run(model, data, options, args.steps, reference)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gpu_check-", dir=args.out.parent) as folder:
        resume = resume_diff(lambda: copy.deepcopy(initial), data, options, reference, Path(folder))
    on_cpu = device.type == "cpu"
    resume_tol, predict_tol = (0.0, 0.0) if on_cpu else (1e-5, 2e-2)
    predicted = predict_diff(model, data.images[:PREDICT_IMAGES], args.size, device)
    return {
        **device_facts(device),
        "torch": torch.__version__,
        "size": args.size,
        "batch": args.batch,
        "steps": args.steps,
        "training_images": len(data.labels),
        "weights": info.summary(),
        "pretrained": info.pretrained,
        **timed,
        "loss_falls_required": info.pretrained,
        "loss_ok": timed["loss_finite"] and (timed["loss_falls"] or not info.pretrained),
        "resume_steps": reference.at,
        "resume_max_abs_diff": resume,
        "resume_tolerance": resume_tol,
        "resume_ok": resume <= resume_tol,
        "predict_max_abs_diff": predicted,
        "predict_tolerance": predict_tol,
        "predict_ok": predicted <= predict_tol,
        "seconds": time.perf_counter() - started,
    }


def summary(report: dict[str, object]) -> str:
    peak = report["peak_memory_mib"]
    return "\n".join(
        [
            f"{report['device']} (torch {report['torch']}), {report['weights']}",
            f"{report['images_per_s']:.1f} images/s at {report['size']} px, batch "
            f"{report['batch']}, {report['iterations']} iterations; peak GPU memory "
            + ("n/a" if peak is None else f"{peak:.0f} MiB"),
            f"loss {report['loss_first']:.4f} -> {report['loss_last']:.4f} "
            f"({'falls' if report['loss_falls'] else 'does not fall'}; a fall is "
            f"{'' if report['loss_falls_required'] else 'not '}required) "
            f"{_verdict(report['loss_ok'])}",
            f"resume after {report['resume_steps'] // 2} of {report['resume_steps']} iterations: "
            f"max |diff| {report['resume_max_abs_diff']:.3g} "
            f"(tolerance {report['resume_tolerance']:g}) {_verdict(report['resume_ok'])}",
            f"device vs CPU probabilities: max |diff| {report['predict_max_abs_diff']:.3g} "
            f"(tolerance {report['predict_tolerance']:g}) {_verdict(report['predict_ok'])}",
            f"{report['seconds']:.1f} s in all",
        ]
    )


def _verdict(ok: object) -> str:
    return "ok" if ok else "FAILED"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_checks(args)
    with atomic_write(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(summary(report))
    passed = all(report[k] for k in ("loss_ok", "resume_ok", "predict_ok"))
    print(f"{'all checks passed' if passed else 'SOME CHECKS FAILED'}; report: {args.out}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
