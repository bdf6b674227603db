"""Augmentation that never moves a Doppler pixel out of the picture.

The study does not say how it augmented; MATLAB's usual choice is random
reflection, translation and scale. Here each image is flipped left-right,
scaled and shifted (:func:`sample_affine`) only as far as keeps its Doppler
bounding box (:func:`doppler_boxes`) inside the picture, so a grade never
changes because its signal was cropped away. :func:`augment_batch` applies
the transform to a preprocessed batch; :func:`plot_augmentations` shows it.

Taught in ``notebooks/05_vgg16_transfer_learning.ipynb``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from synovis_lib.doppler import CHROMA_THRESHOLD, chroma_mask
from synovis_lib.model import IMAGENET_MEAN, IMAGENET_STD, check_images, preprocess


def doppler_boxes(images: np.ndarray, threshold: int = CHROMA_THRESHOLD) -> np.ndarray:
    """Bounding box of the coloured (Doppler) pixels of each image, ``(N, 4)``.

    A pixel is Doppler when :func:`synovis_lib.doppler.chroma_mask` says so
    (``max(R, G, B) - min(R, G, B) > threshold``): the grey-scale B-mode picture
    has R = G = B, the power Doppler overlay is red to yellow. Boxes are ``(x0, x1, y0, y1)`` in the ``[-1, 1]`` coordinates of
    ``torch.nn.functional.affine_grid`` (pixel edges); NaN where an image has
    no Doppler pixel.
    """
    check_images(images)
    n, h, w, _ = images.shape
    boxes = np.full((n, 4), np.nan)
    for k, image in enumerate(images):
        ys, xs = np.nonzero(chroma_mask(image, threshold))
        if len(xs):
            boxes[k] = (
                2 * xs.min() / w - 1,
                2 * (xs.max() + 1) / w - 1,
                2 * ys.min() / h - 1,
                2 * (ys.max() + 1) / h - 1,
            )
    return boxes


def sample_affine(
    boxes: np.ndarray | torch.Tensor,
    generator: torch.Generator,
    max_shift: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    reflect: bool = True,
) -> torch.Tensor:
    """Random reflection, scale and translation that keep every Doppler box inside.

    Each image is flipped left-right with probability 1/2 (MATLAB's
    RandXReflection; anatomy stays upright), scaled by ``s`` in ``scale`` about
    the centre and shifted by at most ``max_shift`` of its size, with the
    shift limited so the scaled Doppler box stays in the picture (a scale that
    cannot fit falls back to ``min(s, 1)``, which always fits). Returns the
    ``(N, 2, 3)`` matrices for ``affine_grid`` (output -> input coordinates).
    """
    b = torch.as_tensor(np.asarray(boxes, dtype=np.float64))
    n, limit = len(b), 2 * max_shift  # [-1, 1] coordinates: the image is 2 wide
    u = torch.rand((n, 4), generator=generator, dtype=torch.float64)
    flip = torch.where(u[:, 0] < 0.5, -1.0, 1.0) if reflect else torch.ones(n, dtype=torch.float64)
    s = scale[0] + (scale[1] - scale[0]) * u[:, 1]
    x0 = torch.where(flip < 0, -b[:, 1], b[:, 0])
    x1 = torch.where(flip < 0, -b[:, 0], b[:, 1])

    def shift_range(s: torch.Tensor, near: torch.Tensor, far: torch.Tensor):
        low = torch.nan_to_num(-1 - s * near, nan=-limit).clamp(min=-limit)
        high = torch.nan_to_num(1 - s * far, nan=limit).clamp(max=limit)
        return low, high

    (lox, hix), (loy, hiy) = shift_range(s, x0, x1), shift_range(s, b[:, 2], b[:, 3])
    s = torch.where((lox <= hix) & (loy <= hiy), s, s.clamp(max=1.0))
    (lox, hix), (loy, hiy) = shift_range(s, x0, x1), shift_range(s, b[:, 2], b[:, 3])
    tx = lox + (hix - lox) * u[:, 2]
    ty = loy + (hiy - loy) * u[:, 3]
    theta = torch.zeros((n, 2, 3), dtype=torch.float64)
    theta[:, 0, 0] = flip / s
    theta[:, 0, 2] = -flip * tx / s
    theta[:, 1, 1] = 1 / s
    theta[:, 1, 2] = -ty / s
    return theta.float()


def augment_batch(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Apply :func:`sample_affine`'s matrices to a normalised batch; new border is black."""
    black = (-torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)).view(1, 3, 1, 1).to(x)
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return (
        F.grid_sample(x - black, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        + black
    )


def plot_augmentations(
    image: np.ndarray, n: int = 5, seed: int = 0, size: int | None = None
) -> plt.Figure:
    """One image and ``n`` random augmentations of it, Doppler box drawn in cyan.

    The same :func:`sample_affine` and :func:`augment_batch` calls as training.
    """
    size = size or image.shape[0]
    batch = np.repeat(image[None], n, axis=0)
    boxes = doppler_boxes(batch)
    x = augment_batch(
        preprocess(batch, size), sample_affine(boxes, torch.Generator().manual_seed(seed))
    )
    std, mean = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_STD, IMAGENET_MEAN))
    shown = [preprocess(image[None], size)[0], *x]
    fig, axes = plt.subplots(1, n + 1, figsize=(2.2 * (n + 1), 2.4))
    for k, (ax, tensor) in enumerate(zip(axes, shown, strict=True)):
        rgb = (tensor[None] * std + mean)[0].clamp(0, 1).permute(1, 2, 0).numpy()
        ax.imshow(rgb)
        box = doppler_boxes((rgb[None] * 255).round().astype(np.uint8))[0]
        if not np.isnan(box).any():
            x0, x1, y0, y1 = (box + 1) / 2 * size
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="cyan", lw=1))
        ax.set_title("original" if k == 0 else f"augmented {k}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig
