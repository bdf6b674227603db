"""Training as in the study: MATLAB's ``trainingOptions`` translated to PyTorch.

The study trained VGG-16 in MATLAB R2024a with ``sgdm``, ``MaxEpochs`` 11,
``MiniBatchSize`` 32, ``InitialLearnRate`` 1e-4, ``Shuffle`` every-epoch,
``ValidationFrequency`` 30 and the new layer at 10x learning rate. This
module reproduces those rules step for step (:class:`TrainingOptions`,
:func:`make_optimizer`, :func:`train`, with the augmentation of
:mod:`synovis_lib.augment`), records the training history (:class:`History`,
:func:`plot_training`), predicts grade probabilities (:func:`predict`) and
builds and trains a profile's model (:func:`fit_profile`) as a
:class:`TrainedModel`. Caching and repeating whole runs for a profile is
:mod:`synovis_lib.pipeline`'s job.

Taught in ``notebooks/05_vgg16_transfer_learning.ipynb``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from synovis_lib import synth
from synovis_lib.augment import augment_batch, doppler_boxes, drawings, sample_affine
from synovis_lib.config import resolve_device, show_progress
from synovis_lib.files import atomic_write
from synovis_lib.grading import N_GRADES
from synovis_lib.model import (
    WeightsInfo,
    backbone_of,
    build_architecture,
    build_model,
    head_of,
    preprocess,
)
from synovis_lib.notices import SynovisWarning
from synovis_lib.profiles import INPUT_SIZE, Profile

SHUFFLE_MODES = ("every-epoch", "once", "never")
SCHEDULES = ("none", "cosine")
SCREEN_COPIES = 6
"""Sim-to-real drawings per training image (at most; fewer with fewer epochs)."""


class TrainingSetWarning(SynovisWarning):
    """The training set cannot teach every grade."""

    title = "The training set lacks a grade"


@dataclass(frozen=True)
class TrainingOptions:
    """The study's training options; field names follow MATLAB's ``trainingOptions``.

    Defaults are the study's values (MATLAB name in brackets).
    """

    solver: str = "sgdm"
    """Solver ("solverName"): stochastic gradient descent with momentum, MATLAB's default."""
    momentum: float = 0.9
    """(Momentum) MATLAB's default for sgdm."""
    initial_learn_rate: float = 1e-4
    """(InitialLearnRate) constant: the study set no LearnRateSchedule."""
    max_epochs: int = 11
    """(MaxEpochs)"""
    mini_batch_size: int = 32
    """(MiniBatchSize)"""
    l2_regularization: float = 1e-4
    """(L2Regularization) MATLAB's default, applied as SGD weight decay."""
    bias_l2_factor: float = 0.0
    """(BiasL2Factor) MATLAB's layers default to 0: biases are not regularised."""
    shuffle: str = "every-epoch"
    """(Shuffle) ``"every-epoch"``, ``"once"`` or ``"never"``."""
    validation_frequency: int = 30
    """(ValidationFrequency) in iterations; see :func:`validation_iterations`."""
    head_lr_factor: float = 10.0
    """(WeightLearnRateFactor = BiasLearnRateFactor of the new FC layer)"""
    drop_last: bool = True
    """MATLAB discards the last incomplete mini-batch of every epoch."""
    augment: bool = True
    """Random reflection, translation and scale (:func:`augment_batch`)."""
    freeze_backbone: bool = False
    """Train only the new layer on cached backbone features (no affine augmentation then)."""
    learn_rate_schedule: str = "none"
    """(LearnRateSchedule) ``"none"`` (the study: constant) or ``"cosine"``: every group's
    rate falls from its initial value to 0 along half a cosine over all iterations."""
    sim_to_real: bool = False
    """Draw each training image as a scanner screenshot might show it
    (:func:`synovis_lib.augment.drawings`: up to :data:`SCREEN_COPIES` drawings per
    image, epoch ``e`` uses drawing ``e % copies``). Not in the study."""
    image_size: int = INPUT_SIZE
    """Input size of the network (MATLAB's imageInputLayer: 224x224x3)."""
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.solver != "sgdm":
            raise ValueError(f"solver {self.solver!r} is not supported; the study used 'sgdm'")
        if self.learn_rate_schedule not in SCHEDULES:
            raise ValueError(
                f"learn_rate_schedule must be one of {SCHEDULES}, not {self.learn_rate_schedule!r}"
            )
        if self.shuffle not in SHUFFLE_MODES:
            raise ValueError(f"shuffle must be one of {SHUFFLE_MODES}, not {self.shuffle!r}")
        for name in ("max_epochs", "mini_batch_size", "validation_frequency", "image_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, not {getattr(self, name)!r}")

    @classmethod
    def from_profile(cls, profile: Profile, trial: int = 0, **overrides) -> TrainingOptions:
        """The options a profile implies, with the seed of ``trial`` (:func:`trial_seed`)."""
        values = dict(
            momentum=profile.momentum,
            initial_learn_rate=profile.learning_rate,
            learn_rate_schedule=profile.learn_rate_schedule,
            max_epochs=profile.epochs,
            mini_batch_size=profile.batch_size,
            l2_regularization=profile.weight_decay,
            validation_frequency=profile.validation_frequency,
            head_lr_factor=profile.head_lr_factor,
            freeze_backbone=profile.freeze_backbone,
            sim_to_real=profile.sim_to_real,
            image_size=profile.image_size,
            seed=trial_seed(profile.seed, trial),
            device=profile.device,
        )
        values.update(overrides)
        return cls(**values)

    def matlab_table(self) -> pd.DataFrame:
        """These options next to the study's MATLAB ``trainingOptions`` (for notebook 05)."""
        study = TrainingOptions()
        rows = [
            ("solverName", "solver", study.solver, self.solver),
            ("Momentum", "momentum", study.momentum, self.momentum),
            (
                "InitialLearnRate",
                "initial_learn_rate",
                study.initial_learn_rate,
                self.initial_learn_rate,
            ),
            (
                "LearnRateSchedule",
                "learn_rate_schedule",
                study.learn_rate_schedule,
                self.learn_rate_schedule,
            ),
            ("MaxEpochs", "max_epochs", study.max_epochs, self.max_epochs),
            ("MiniBatchSize", "mini_batch_size", study.mini_batch_size, self.mini_batch_size),
            (
                "L2Regularization",
                "l2_regularization",
                study.l2_regularization,
                self.l2_regularization,
            ),
            ("BiasL2Factor", "bias_l2_factor", study.bias_l2_factor, self.bias_l2_factor),
            ("Shuffle", "shuffle", study.shuffle, self.shuffle),
            (
                "ValidationFrequency",
                "validation_frequency",
                study.validation_frequency,
                self.validation_frequency,
            ),
            (
                "Weight/BiasLearnRateFactor (new FC)",
                "head_lr_factor",
                study.head_lr_factor,
                self.head_lr_factor,
            ),
            ("(last partial mini-batch dropped)", "drop_last", study.drop_last, self.drop_last),
            ("data augmentation", "augment", study.augment, self.augment),
            (
                "(all layers trained)",
                "freeze_backbone",
                study.freeze_backbone,
                self.freeze_backbone,
            ),
            ("imageInputLayer size", "image_size", study.image_size, self.image_size),
            ("(not in the study)", "sim_to_real", study.sim_to_real, self.sim_to_real),
        ]
        table = pd.DataFrame(rows, columns=["MATLAB", "ours", "study", "this run"])
        table["same"] = [
            str(a) == str(b) for a, b in zip(table["study"], table["this run"], strict=True)
        ]
        return table


def trial_seed(seed: int, trial: int) -> int:
    """An independent seed for ``trial`` of a run seeded ``seed`` (NumPy ``SeedSequence``)."""
    return int(np.random.SeedSequence([int(seed), int(trial)]).generate_state(1)[0])


def iterations_per_epoch(n_images: int, mini_batch_size: int, drop_last: bool = True) -> int:
    """Optimizer steps per epoch: ``870 // 32 = 27`` when the last partial batch is dropped."""
    if n_images < mini_batch_size and drop_last:
        raise ValueError(
            f"{n_images} training images are fewer than one mini-batch of {mini_batch_size}; "
            "lower mini_batch_size"
        )
    return n_images // mini_batch_size if drop_last else math.ceil(n_images / mini_batch_size)


def validation_iterations(total_iterations: int, frequency: int) -> list[int]:
    """Iterations after which the network is validated, as MATLAB's ``trainNetwork`` does.

    MATLAB validates at the first iteration, then at every multiple of
    ``ValidationFrequency`` and at the final iteration (its verbose table and
    training-progress plot show these points). For the study, 297 iterations
    and frequency 30 give ``[1, 30, 60, ..., 270, 297]``. Here validation runs
    after the optimizer step of that iteration.
    """
    points = {1, total_iterations, *range(frequency, total_iterations + 1, frequency)}
    return sorted(p for p in points if 1 <= p <= total_iterations)


def _is_bias(module: nn.Module, name: str) -> bool:
    return name == "bias" and isinstance(module, (nn.Linear, nn.Conv2d))


def make_optimizer(model: nn.Module, options: TrainingOptions) -> torch.optim.SGD:
    """SGD with momentum and MATLAB's per-layer factors, one param group per rule.

    Groups: ``backbone`` and ``backbone biases`` at the base rate, ``new layer``
    and ``new layer biases`` at ``head_lr_factor`` x the base rate (the study's
    WeightLearnRateFactor = BiasLearnRateFactor = 10). Weight decay is
    ``l2_regularization`` for weights and ``l2_regularization * bias_l2_factor``
    for biases (MATLAB's BiasL2Factor defaults to 0). Frozen parameters
    (``requires_grad=False``) are left out. PyTorch's momentum update
    ``v = m v + g; w -= lr v`` equals MATLAB's ``v = m v - lr g; w += v`` at a
    constant learning rate.
    """
    head_ids = {id(p) for p in head_of(model).parameters()}
    groups: dict[str, list[nn.Parameter]] = {
        "backbone": [],
        "backbone biases": [],
        "new layer": [],
        "new layer biases": [],
    }
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            key = "new layer" if id(param) in head_ids else "backbone"
            groups[key + (" biases" if _is_bias(module, name) else "")].append(param)
    base, decay = options.initial_learn_rate, options.l2_regularization
    settings = {
        "backbone": (base, decay),
        "backbone biases": (base, decay * options.bias_l2_factor),
        "new layer": (base * options.head_lr_factor, decay),
        "new layer biases": (base * options.head_lr_factor, decay * options.bias_l2_factor),
    }
    param_groups = [
        {
            "params": params,
            "name": key,
            "lr": settings[key][0],
            "initial_lr": settings[key][0],
            "weight_decay": settings[key][1],
        }
        for key, params in groups.items()
        if params
    ]
    return torch.optim.SGD(param_groups, lr=base, momentum=options.momentum)


def learn_rate_factor(options: TrainingOptions, iteration: int, total: int) -> float:
    """The fraction of its initial rate every group trains at in iteration ``iteration``
    (0-based) of ``total``: 1 throughout for ``"none"``, ``(1 + cos(pi * i / total)) / 2``
    for ``"cosine"``."""
    if options.learn_rate_schedule == "none":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * iteration / total))


def _set_learn_rate(optimizer, options: TrainingOptions, iteration: int, total: int) -> float:
    factor = learn_rate_factor(options, iteration, total)
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * factor
    return factor


def parameter_table(model: nn.Module, optimizer: torch.optim.Optimizer) -> pd.DataFrame:
    """Every layer with parameters: how many, which group, learning rate and weight decay.

    Frozen layers show learning rate 0. Taught in notebook 05 (which parameters
    train at which rate).
    """
    where = {
        id(p): (g.get("name", f"group {k}"), g["lr"], g["weight_decay"])
        for k, g in enumerate(optimizer.param_groups)
        for p in g["params"]
    }
    rows = []
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            group, lr, decay = where.get(id(param), ("frozen", 0.0, 0.0))
            rows.append(
                {
                    "parameter": f"{module_name}.{name}",
                    "layer": type(module).__name__,
                    "shape": tuple(param.shape),
                    "count": param.numel(),
                    "group": group,
                    "learning rate": lr,
                    "weight decay": decay,
                }
            )
    return pd.DataFrame(rows)


@dataclass
class History:
    """Per-iteration training loss/accuracy and the validation points (MATLAB's plot data)."""

    iteration: list[int] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    learn_rate: list[float] = field(default_factory=list)
    """The base rate of each iteration (MATLAB's ``BaseLearnRate``)."""
    val_iteration: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    iterations_per_epoch: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(**data)

    def frame(self) -> pd.DataFrame:
        """One row per iteration; validation columns filled where validated."""
        table = pd.DataFrame(
            {
                "iteration": self.iteration,
                "epoch": self.epoch,
                "loss": self.loss,
                "accuracy": self.accuracy,
            }
        )
        val = pd.DataFrame(
            {
                "iteration": self.val_iteration,
                "val_loss": self.val_loss,
                "val_accuracy": self.val_accuracy,
            }
        )
        return table.merge(val, on="iteration", how="left")

    @property
    def final_val_accuracy(self) -> float:
        return self.val_accuracy[-1] if self.val_accuracy else float("nan")

    @property
    def last_epoch_accuracy(self) -> float:
        """Mean mini-batch accuracy over the last epoch."""
        if not self.epoch:
            return float("nan")
        last = self.epoch[-1]
        return float(
            np.mean([a for a, e in zip(self.accuracy, self.epoch, strict=True) if e == last])
        )


def _smooth(values: Sequence[float], weight: float = 0.6) -> np.ndarray:
    """Exponential smoothing with bias correction, like the smoothed curves of MATLAB's plot."""
    out, avg = [], 0.0
    for k, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**k))
    return np.asarray(out)


def plot_training(history: History, title: str = "") -> plt.Figure:
    """MATLAB-style training progress: accuracy (%) above, loss below, per iteration.

    Light lines are mini-batch values, bold lines their smoothed trend, black
    dots joined by dashes the validation points; shaded bands mark epochs.
    Taught in ``notebooks/05_vgg16_transfer_learning.ipynb``.
    """
    fig, (ax_acc, ax_loss) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for ax, train_values, val_values, label in (
        (
            ax_acc,
            np.asarray(history.accuracy) * 100,
            np.asarray(history.val_accuracy) * 100,
            "Accuracy (%)",
        ),
        (ax_loss, history.loss, history.val_loss, "Loss"),
    ):
        ax.plot(
            history.iteration, train_values, color="tab:blue", alpha=0.3, lw=1, label="mini-batch"
        )
        ax.plot(history.iteration, _smooth(train_values), color="tab:blue", lw=2, label="smoothed")
        if len(val_values):
            ax.plot(history.val_iteration, val_values, "k--o", ms=4, lw=1, label="validation")
        per_epoch = history.iterations_per_epoch
        if per_epoch:
            for start in range(0, max(history.iteration, default=0), 2 * per_epoch):
                ax.axvspan(start + 0.5, start + per_epoch + 0.5, color="0.93", zorder=0)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax_acc.set_ylim(0, 100)
    ax_acc.legend(loc="lower right", fontsize=9)
    ax_loss.set_xlabel("Iteration (shaded bands: epochs)")
    if title:
        ax_acc.set_title(title)
    fig.tight_layout()
    return fig


def _autocast(device: torch.device):
    dtype = (
        torch.bfloat16
        if device.type == "cuda" and torch.cuda.is_bf16_supported()
        else torch.float16
    )
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=device.type == "cuda")


def _evaluate(
    module: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch: int, device
) -> tuple[float, float]:
    module.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad(), _autocast(device):
        for start in range(0, len(inputs), batch):
            x = _to_device(inputs[start : start + batch], device)
            y = labels[start : start + batch].to(device)
            logits = module(x).float()
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum())
    return total_loss / len(inputs), correct / len(inputs)


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if device.type == "cuda" and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _features(
    model: nn.Module, inputs: torch.Tensor, batch: int, device, progress: bool
) -> torch.Tensor:
    backbone = backbone_of(model).eval()
    chunks = []
    with torch.no_grad(), _autocast(device):
        for start in tqdm(
            range(0, len(inputs), batch),
            desc="cache backbone features",
            disable=not show_progress(progress),
            leave=False,
        ):
            chunks.append(backbone(_to_device(inputs[start : start + batch], device)).float().cpu())
    return torch.cat(chunks)


@dataclass
class _Data:
    """What the loop trains on: the module, its inputs and, for augmentation, Doppler boxes.

    ``inputs`` is ``(N, ...)``, or ``(K, N, ...)`` for a frozen backbone with
    sim-to-real (epoch ``e`` uses drawing ``e % K``); ``drawn`` holds the uint8
    sim-to-real drawings ``(N, K, H, W, 3)`` a trained backbone reads per mini-batch."""

    module: nn.Module
    inputs: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    augment: bool
    val_inputs: torch.Tensor | None
    val_labels: torch.Tensor | None
    drawn: np.ndarray | None = None
    per_epoch: bool = False
    """``inputs`` holds one drawing per epoch, ``(K, N, ...)``."""

    def batch(self, idx: torch.Tensor, epoch: int) -> torch.Tensor:
        """The inputs of one mini-batch (before the affine augmentation)."""
        if self.drawn is not None:
            drawn = self.drawn[idx.numpy(), epoch % self.drawn.shape[1]]
            return preprocess(drawn, self.size)
        if self.per_epoch:
            return self.inputs[epoch % self.inputs.shape[0]][idx]
        return self.inputs[idx]

    @property
    def size(self) -> int:
        return int(self.inputs.shape[-1])

    @property
    def n(self) -> int:
        return len(self.labels)


def check_training_labels(labels: np.ndarray) -> None:
    """Refuse labels a classifier cannot learn from (none, a grade outside 0..3, a single
    grade) and warn, with the counts, when a grade is missing: the model can then never
    predict it."""
    if not labels.size:
        raise ValueError("the training set is empty")
    if labels.min() < 0 or labels.max() >= N_GRADES:
        raise ValueError(f"labels must be grades 0..3, found {sorted(set(labels.tolist()))}")
    counts = np.bincount(labels, minlength=N_GRADES)
    if np.count_nonzero(counts) < 2:
        raise ValueError(
            f"the training set has only grade {int(labels[0])} ({labels.size} images): "
            "a classifier needs at least two grades"
        )
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        warnings.warn(
            f"the training set has no image of grade {', '.join(map(str, missing))} "
            f"(images per grade 0..3: {counts.tolist()}): the model can never predict "
            f"{'it' if missing.size == 1 else 'them'}",
            TrainingSetWarning,
            stacklevel=3,
        )


def _prepare(
    model, images, labels, val_images, val_labels, options, device, progress, synovium
) -> _Data:
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    check_training_labels(labels)
    has_val = val_images is not None and val_labels is not None and len(val_labels) > 0
    data = _Data(
        module=model,
        inputs=preprocess(images, options.image_size),
        labels=torch.as_tensor(labels),
        boxes=torch.as_tensor(doppler_boxes(images)),
        augment=options.augment,
        val_inputs=preprocess(val_images, options.image_size) if has_val else None,
        val_labels=torch.as_tensor(np.asarray(val_labels, dtype=np.int64)) if has_val else None,
    )
    drawn = None
    if options.sim_to_real:
        drawn = drawings(images, synovium, min(options.max_epochs, SCREEN_COPIES))
    if options.freeze_backbone:
        for param in backbone_of(model).parameters():
            param.requires_grad_(False)
        if drawn is not None:
            data.inputs = torch.stack(
                [
                    _features(
                        model, preprocess(drawn[:, k], options.image_size), 64, device, progress
                    )
                    for k in range(drawn.shape[1])
                ]
            )
            data.per_epoch = True
        else:
            data.inputs = _features(model, data.inputs, 64, device, progress)
        if has_val:
            data.val_inputs = _features(model, data.val_inputs, 64, device, progress)
        data.module, data.augment = head_of(model), False
    else:
        data.drawn = drawn
    return data


@dataclass
class _Position:
    """Where a run is: with the model and optimizer, all a checkpoint needs to continue exactly."""

    iteration: int
    perm: torch.Tensor
    generator: torch.Generator
    history: History


def _save_state(path, model, optimizer, scaler, pos: _Position, options, device) -> None:
    save_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "iteration": pos.iteration,
            "perm": pos.perm,
            "generator": pos.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
            "history": pos.history.to_dict(),
            "options": dataclasses.asdict(options),
        },
    )


def _restore_state(path, model, optimizer, scaler, pos: _Position, options, device) -> _Position:
    state = load_checkpoint(path)
    if state["options"] != dataclasses.asdict(options):
        raise ValueError(f"checkpoint {path} was written with different TrainingOptions")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    pos.generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and state["cuda_rng"]:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return _Position(
        state["iteration"], state["perm"], pos.generator, History.from_dict(state["history"])
    )


def _record(
    history: History, data: _Data, iteration, epoch, loss, correct, rate, val_points, device
):
    history.iteration.append(iteration)
    history.epoch.append(epoch)
    history.loss.append(loss)
    history.accuracy.append(correct)
    history.learn_rate.append(rate)
    if iteration in val_points:
        val_loss, val_acc = _evaluate(data.module, data.val_inputs, data.val_labels, 64, device)
        history.val_iteration.append(iteration)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_acc)


def train(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    options: TrainingOptions | None = None,
    *,
    val_images: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    callback: Callable[[int, History], bool | None] | None = None,
    progress: bool = True,
    synovium: np.ndarray | None = None,
) -> History:
    """Train ``model`` in place on uint8 images ``(N, H, W, 3)`` and grades ``(N,)``.

    Follows :class:`TrainingOptions` (MATLAB's rules: shuffled every epoch,
    last partial mini-batch dropped, validation at :func:`validation_iterations`).
    With ``freeze_backbone`` the inputs of the new layer are computed once
    (:func:`synovis_lib.model.backbone_of`) and only the new layer trains,
    without augmentation. On CUDA it uses mixed
    precision and channels-last memory. ``checkpoint``: a file written
    atomically after every epoch, at
    the end and when stopped early; with ``resume=True`` an existing checkpoint
    is continued and gives exactly the weights of an uninterrupted run.
    ``max_steps`` stops after that many iterations of this call;
    ``callback(iteration, history)`` may return True to stop. With
    ``options.sim_to_real``, ``synovium`` (bool ``(N, H, W)``, e.g.
    :func:`synovis_lib.synth.synovium_masks`) is what the drawings never paint over
    (:func:`synovis_lib.augment.drawings`). Taught in notebook 05.
    """
    options = options or TrainingOptions()
    device = resolve_device(options.device)
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    prepared = time.perf_counter()
    data = _prepare(
        model, images, labels, val_images, val_labels, options, device, progress, synovium
    )
    prepared = time.perf_counter() - prepared
    optimizer = make_optimizer(model, options)
    fp16 = device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler(device.type, enabled=fp16)
    n, batch = data.n, options.mini_batch_size
    per_epoch = iterations_per_epoch(n, batch, options.drop_last)
    total = per_epoch * options.max_epochs
    val_points = set()
    if data.val_inputs is not None:
        val_points = set(validation_iterations(total, options.validation_frequency))
    torch.manual_seed(options.seed)
    pos = _Position(
        0,
        torch.arange(n),
        torch.Generator().manual_seed(options.seed),
        History(iterations_per_epoch=per_epoch),
    )
    if resume and checkpoint is not None and Path(checkpoint).exists():
        pos = _restore_state(checkpoint, model, optimizer, scaler, pos, options, device)
    pos.history.seconds += prepared  # a frozen backbone's feature caching is training time
    start_iteration, started = pos.iteration, time.perf_counter()
    bar = tqdm(
        total=total,
        initial=pos.iteration,
        desc="training",
        unit="it",
        disable=not show_progress(progress),
        leave=False,
    )
    while pos.iteration < total:
        epoch, position = divmod(pos.iteration, per_epoch)
        reshuffle = options.shuffle == "every-epoch" or (options.shuffle == "once" and epoch == 0)
        if position == 0 and reshuffle:
            pos.perm = torch.randperm(n, generator=pos.generator)
        idx = pos.perm[position * batch : (position + 1) * batch]
        x = data.batch(idx, epoch)
        if data.augment:
            x = augment_batch(x, sample_affine(data.boxes[idx], pos.generator))
        x, y = _to_device(x, device), data.labels[idx].to(device)
        rate = options.initial_learn_rate * _set_learn_rate(
            optimizer, options, pos.iteration, total
        )
        data.module.train()
        with _autocast(device):
            logits = data.module(x).float()
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        pos.iteration += 1
        correct = float((logits.detach().argmax(1) == y).float().mean())
        _record(
            pos.history,
            data,
            pos.iteration,
            epoch + 1,
            float(loss.detach()),
            correct,
            rate,
            val_points,
            device,
        )
        bar.update(1)
        if pos.iteration % 10 == 0 or pos.iteration == total:
            recent = slice(-10, None)
            bar.set_postfix(
                loss=f"{np.mean(pos.history.loss[recent]):.3f}",
                acc=f"{np.mean(pos.history.accuracy[recent]):.2f}",
            )
        stop = bool(callback(pos.iteration, pos.history)) if callback else False
        stop = stop or (max_steps is not None and pos.iteration - start_iteration >= max_steps)
        pos.history.seconds += time.perf_counter() - started
        started = time.perf_counter()
        if checkpoint is not None and (
            pos.iteration % per_epoch == 0 or pos.iteration == total or stop
        ):
            _save_state(checkpoint, model, optimizer, scaler, pos, options, device)
        if stop:
            break
    bar.close()
    model.eval()
    return pos.history


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """``torch.save`` through an atomic write: a crash never leaves half a checkpoint."""
    with atomic_write(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint or cached model with ``torch.load(weights_only=True)``."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def predict(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    *,
    image_size: int = INPUT_SIZE,
    batch_size: int = 64,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Per-grade probabilities ``(N, 4)`` (softmax of the logits; dropout off).

    ``images``: uint8 RGB ``(N, H, W, 3)`` (NumPy or tensor), resized and
    normalised by :func:`preprocess`, or a float tensor ``(N, 3, H, W)`` that
    is already preprocessed. ``device`` defaults to where the model is.
    Taught in ``notebooks/06_evaluating_the_initial_model.ipynb``.
    """
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
        images = images.cpu().numpy()
    inputs = preprocess(images, image_size) if isinstance(images, np.ndarray) else images.float()
    if inputs.ndim != 4 or inputs.shape[1] != 3:
        raise ValueError(
            f"preprocessed images must have shape (N, 3, H, W), not {tuple(inputs.shape)}"
        )
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    model.to(device).eval()
    out = []
    with torch.no_grad(), _autocast(device):
        for start in range(0, len(inputs), batch_size):
            logits = model(_to_device(inputs[start : start + batch_size], device)).float()
            out.append(torch.softmax(logits, dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 4), dtype=np.float32)


@dataclass
class TrainedModel:
    """A trained network with everything needed to report it honestly."""

    model: nn.Module
    history: History
    weights: WeightsInfo
    options: TrainingOptions
    profile: str
    trial: int
    device: str
    notes: list[str] = field(default_factory=list)

    def predict(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """:func:`predict` at this model's input size."""
        return predict(
            self.model, images, image_size=self.options.image_size, batch_size=batch_size
        )

    def summary(self) -> str:
        line = f"{self.weights.summary()} trial={self.trial} seed={self.options.seed} device={self.device}"
        return "\n".join([line, *self.notes])

    def record(self) -> dict[str, Any]:
        """What produced this model, for a results file: weights, backbone, whether it was
        the offline fallback, device and profile."""
        return {
            "weights": self.weights.weights,
            "backbone": self.weights.backbone,
            "fallback": self.weights.fallback,
            "device": self.device,
            "profile": self.profile,
        }


def data_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """A short hash of a data set's pixels and grades (its identity for the cache)."""
    digest = hashlib.sha256()
    digest.update(str(images.shape).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.asarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def fit_profile(
    profile: Profile,
    train_set,
    val_set,
    trial: int = 0,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> TrainedModel:
    """Build and train the profile's model for ``trial`` (no cache: see
    :func:`synovis_lib.pipeline.train_for`). ``train_set``/``val_set`` have ``.images``
    uint8 ``(N, H, W, 3)`` and ``.labels`` (and, for sim-to-real, ``.provenance`` to find
    each scene's synovium: without it nothing is painted that adds colour); ``val_set``
    may be ``None``. With ``checkpoint`` an interrupted run resumes (not for a frozen backbone: that run takes
    seconds and its checkpoint is all of VGG-16). Taught in notebook 05."""
    options = TrainingOptions.from_profile(profile, trial)
    torch.manual_seed(options.seed)
    model, info = build_model(
        backbone=profile.backbone,
        weights=profile.weights,
        offline=profile.offline,
        fallback_backbone=profile.fallback_backbone,
        dropout=profile.dropout,
    )
    notes = []
    if options.freeze_backbone and not info.pretrained:
        options = dataclasses.replace(options, freeze_backbone=False)
        notes.append(
            "freeze_backbone ignored: the backbone has no pretrained weights, so all layers train."
        )
    synovium = None
    provenance = getattr(train_set, "provenance", None)
    if options.sim_to_real and provenance is not None:
        synovium = synth.synovium_masks(provenance, train_set.images.shape[1])
    history = train(
        model,
        train_set.images,
        train_set.labels,
        options,
        synovium=synovium,
        val_images=None if val_set is None else val_set.images,
        val_labels=None if val_set is None else val_set.labels,
        checkpoint=None if options.freeze_backbone else checkpoint,
        resume=checkpoint is not None and not options.freeze_backbone,
        progress=progress,
    )
    device = str(resolve_device(options.device))
    return TrainedModel(model.cpu(), history, info, options, profile.name, trial, device, notes)


def save_trained(trained: TrainedModel, path: Path) -> None:
    """Save a trained model and its record atomically (:func:`load_trained` reads it)."""
    save_checkpoint(
        path,
        {
            "state_dict": trained.model.state_dict(),
            "history": trained.history.to_dict(),
            "weights": trained.weights.to_dict(),
            "options": dataclasses.asdict(trained.options),
            "profile": trained.profile,
            "trial": trained.trial,
            "device": trained.device,
            "notes": trained.notes,
            "dropout": float(head_of(trained.model)[1].p),
        },
    )


def load_trained(path: Path) -> TrainedModel:
    """A model saved by :func:`save_trained`, loaded with ``weights_only=True``."""
    state = load_checkpoint(path)
    info = WeightsInfo.from_dict(state["weights"])
    model = build_architecture(info.backbone, dropout=state["dropout"], empty=True)
    model.load_state_dict(state["state_dict"], assign=True)
    model.eval()
    return TrainedModel(
        model,
        History.from_dict(state["history"]),
        info,
        TrainingOptions(**state["options"]),
        state["profile"],
        state["trial"],
        state["device"],
        list(state["notes"]),
    )
