"""Grad-CAM: where in the picture did the network look for its grade?

Grad-CAM (Selvaraju et al. 2017) weights each feature map of the last
convolutional block by the mean gradient of the grade's score with respect to
it, sums, keeps the positive part and upsamples to the image. It is a dozen
lines with two hooks, so it is written here rather than adding a dependency
(captum is not installed in the course environment).

Taught in ``notebooks/06_evaluating_the_initial_model.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from synovis_lib.config import resolve_device
from synovis_lib.layout import image_sector
from synovis_lib.model import preprocess
from synovis_lib.profiles import INPUT_SIZE


def last_conv_block(model: nn.Module) -> nn.Module:
    """The activation after the last ``Conv2d`` of ``model.features`` (VGG-16: ``features.29``).

    For the compact CNN this is the ReLU after its last conv and batch norm;
    for EfficientNet-Lite0 timm's ``bn2``, a batch norm with its ReLU6 inside
    (an ``act`` attribute); when no activation follows, the last ``Conv2d`` itself.
    """
    layers = list(model.features)
    convs = [k for k, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
    if not convs:
        raise ValueError("model.features has no Conv2d layer for Grad-CAM")
    for layer in layers[convs[-1] + 1 :]:
        if isinstance(layer, (nn.ReLU, nn.ReLU6)) or (
            isinstance(layer, nn.BatchNorm2d) and isinstance(getattr(layer, "act", None), nn.Module)
        ):
            return layer
        if not isinstance(layer, nn.BatchNorm2d):
            break
    return layers[convs[-1]]


def gradcam(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    target: int | Sequence[int] | None = None,
    *,
    image_size: int = INPUT_SIZE,
    layer: nn.Module | None = None,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Grad-CAM heatmaps ``(N, H, W)`` in ``[0, 1]``, at the size of ``images``.

    ``images``: uint8 RGB ``(N, H, W, 3)`` (preprocessed with
    :func:`synovis_lib.model.preprocess` at ``image_size``) or an already
    preprocessed float tensor ``(N, 3, H, W)``. ``target``: the grade to
    explain, one per image, or ``None`` for the predicted grade. ``layer``
    defaults to :func:`last_conv_block`. Each map is divided by its maximum
    (an all-zero map stays zero).
    """
    if isinstance(images, np.ndarray):
        inputs, out_size = preprocess(images, image_size), images.shape[1:3]
    else:
        inputs, out_size = images.float(), tuple(images.shape[-2:])
    n = len(inputs)
    targets = [target] * n if target is None or isinstance(target, int) else list(target)
    if len(targets) != n:
        raise ValueError(f"target has {len(targets)} entries for {n} images")
    layer = layer or last_conv_block(model)
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    model.to(device).eval()
    captured: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.__setitem__("a", out))
    maps = []
    try:
        for start in range(0, n, batch_size):
            x = inputs[start : start + batch_size].to(device).requires_grad_(True)
            with torch.enable_grad():
                logits = model(x)
                chosen = [
                    int(logits[k].argmax()) if t is None else int(t)
                    for k, t in enumerate(targets[start : start + batch_size])
                ]
                score = logits[torch.arange(len(x)), torch.tensor(chosen, device=device)].sum()
                activation = captured["a"]
                (grads,) = torch.autograd.grad(score, activation)
            weights = grads.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((weights * activation.detach()).sum(dim=1, keepdim=True))
            cam = F.interpolate(cam, size=out_size, mode="bilinear", align_corners=False)[:, 0]
            peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)
            maps.append((cam / peak).cpu())
    finally:
        handle.remove()
    return torch.cat(maps).numpy() if maps else np.zeros((0, *out_size), dtype=np.float32)


def mass_inside(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The share of each heatmap's total inside its mask, ``(N,)`` in ``[0, 1]``
    (NaN for an all-zero heatmap). Inputs ``(N, H, W)``: Grad-CAM maps and, e.g.,
    :attr:`synovis_lib.clinic.Cohort.synovium`."""
    if heatmaps.shape != masks.shape:
        raise ValueError(f"heatmaps {heatmaps.shape} and masks {masks.shape} differ in shape")
    total = heatmaps.sum(axis=(1, 2), dtype=np.float64)
    inside = (heatmaps * masks).sum(axis=(1, 2), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def region_masks(cohort) -> dict[str, np.ndarray]:
    """Where a grader should and should not look, bool ``(N, H, W)`` per region: the
    ``synovium`` (where the cohort knows it: the simulated one) and the ``screen``
    outside the ultrasound picture (:func:`synovis_lib.layout.image_sector`: black
    margins, colour bar, depth scale), which any screenshot has."""
    screen = ~np.stack([image_sector(image) for image in cohort.images])
    if cohort.synovium is None:
        return {"screen": screen}
    return {"synovium": cohort.synovium, "screen": screen}


def gradcam_shares(trained, cohort, batch_size: int = 16) -> pd.DataFrame:
    """Per image of ``cohort``: the share of the predicted grade's Grad-CAM mass inside
    each of :func:`region_masks` (one column per region; NaN for an all-zero map).
    Taught in notebook 06 (where the model looks, before and after sim-to-real)."""
    maps = gradcam(
        trained.model, cohort.images, image_size=trained.options.image_size, batch_size=batch_size
    )
    return pd.DataFrame({name: mass_inside(maps, m) for name, m in region_masks(cohort).items()})


def shares_table(shares: dict[str, pd.DataFrame], cohort) -> pd.DataFrame:
    """Mean and median share of Grad-CAM mass per model and region, beside chance: the
    region's mean share of the picture, what a model that looks anywhere would score."""
    chance = {name: float(m.mean()) for name, m in region_masks(cohort).items()}
    rows = []
    for model, table in shares.items():
        for region in table.columns:
            rows.append(
                {
                    "model": model,
                    "region": region,
                    "mean share": float(table[region].mean()),
                    "median share": float(table[region].median()),
                    "chance": chance[region],
                }
            )
    return (
        pd.DataFrame(rows).set_index(["region", "model"]).sort_index(level=0, sort_remaining=False)
    )


def shares_verdict(table: pd.DataFrame, before: str, after: str, tolerance: float = 0.1) -> str:
    """Sentences on where the models of :func:`shares_table` look, built from its values:
    each region's mean share for ``before`` and ``after`` beside chance, and whether
    ``after`` looks more, less or about as much there (a relative change within
    ``tolerance`` counts as about the same). Taught in notebook 06."""
    sentences = []
    for region in table.index.unique(level="region"):
        old = float(table.loc[(region, before), "mean share"])
        new = float(table.loc[(region, after), "mean share"])
        chance = float(table.loc[(region, before), "chance"])
        change = (new - old) / old if old else (np.inf if new > 0 else 0.0)
        word = "about as much" if abs(change) <= tolerance else "more" if change > 0 else "less"
        side = "above" if new > chance else "below"
        sentences.append(
            f"The {region} is {chance:.1%} of the picture: the model {after} puts {new:.1%} "
            f"of its Grad-CAM mass there ({side} chance), the model {before} {old:.1%}; "
            f"{after}, it looks {word} at the {region}."
        )
    return " ".join(sentences)


def plot_shares(shares: dict[str, pd.DataFrame], cohort) -> plt.Figure:
    """Histograms of the per-image Grad-CAM share in each region, one colour per model,
    chance dashed. Taught in notebook 06."""
    regions = region_masks(cohort)
    fig, axes = plt.subplots(1, len(regions), figsize=(4.3 * len(regions), 3.4), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, (region, mask) in zip(axes[0], regions.items(), strict=True):
        for model, table in shares.items():
            values = table[region].to_numpy(dtype=float)
            ax.hist(values[np.isfinite(values)], bins=bins, alpha=0.55, label=model)
        ax.axvline(mask.mean(), color="k", ls="--", lw=1, label=f"chance ({mask.mean():.2f})")
        ax.set_xlabel(f"share of Grad-CAM mass: {region}")
        ax.set_ylabel("images")
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_gradcam(
    images: np.ndarray,
    heatmaps: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 3,
    alpha: float = 0.45,
) -> plt.Figure:
    """A gallery: each image with its Grad-CAM heatmap overlaid (``jet``, ``alpha``)."""
    if len(images) != len(heatmaps):
        raise ValueError(f"{len(images)} images but {len(heatmaps)} heatmaps")
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k])
        ax.imshow(heatmaps[k], cmap="jet", alpha=alpha, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    fig.tight_layout()
    return fig
