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
import torch
import torch.nn.functional as F
from torch import nn

from synovis_lib.config import resolve_device
from synovis_lib.model import preprocess
from synovis_lib.profiles import INPUT_SIZE


def last_conv_block(model: nn.Module) -> nn.Module:
    """The activation after the last ``Conv2d`` of ``model.features`` (VGG-16: ``features.29``).

    For the compact CNN this is the ReLU after its last conv and batch norm;
    when no activation follows, the last ``Conv2d`` itself.
    """
    layers = list(model.features)
    convs = [k for k, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
    if not convs:
        raise ValueError("model.features has no Conv2d layer for Grad-CAM")
    for layer in layers[convs[-1] + 1 :]:
        if isinstance(layer, nn.ReLU):
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


def plot_gradcam(
    images: np.ndarray,
    heatmaps: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
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
