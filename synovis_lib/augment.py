"""Augmentation that never moves a Doppler pixel out of the picture.

The study does not say how it augmented; MATLAB's usual choice is random
reflection, translation and scale. Here each image is flipped left-right,
scaled and shifted (:func:`sample_affine`) only as far as keeps its Doppler
bounding box (:func:`doppler_boxes`) inside the picture, so a grade never
changes because its signal was cropped away. :func:`augment_batch` applies
the transform to a preprocessed batch; :func:`plot_augmentations` shows it.

Sim-to-real (:func:`screen_like`, :class:`ScreenStyle`): an illustration is
not a scanner screenshot. Before the affine step each training image may be
drawn as a scanner would show it: smaller on a black screen, with speckle,
noise, blur, gain, contrast, gamma and a grey tint on the B-mode, another
Doppler colour map, blooming, and screen furniture (colour bar, depth scale,
colour box) present, absent or moved. None of it removes or adds a Doppler
pixel inside the synovium: the grade an image teaches stays its grade.

Taught in ``notebooks/05_vgg16_transfer_learning.ipynb``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from synovis_lib.doppler import CHROMA_THRESHOLD, COLOUR_MAPS, ILLUSTRATION_LUT, chroma_mask
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
    ncols = min(n + 1, 3)  # three across keeps the titles readable in the book's column
    nrows = -(-(n + 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.7 * nrows), squeeze=False)
    for ax in axes.flat[n + 1 :]:
        ax.axis("off")
    for k, (ax, tensor) in enumerate(zip(axes.flat, shown, strict=False)):
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


@dataclass(frozen=True)
class ScreenStyle:
    """The ranges :func:`screen_like` draws from, one value per image.

    The ranges cover what differs between the illustrations and the
    screenshots of the simulated scanners (and, more loosely, real ones):
    the scanners' sector fills about 55-80 % of the screen, their B-mode
    has speckle, noise and a tint, their Doppler uses other colour maps and
    blooms, and their screens carry a colour bar, a depth scale and a
    colour-box outline. Set a probability to 0 to switch a step off.
    """

    p_screen: float = 0.75
    """Probability that an image is drawn as a screen at all (else it stays an illustration)."""
    frame: tuple[float, float] = (0.55, 1.0)
    """Picture size as a fraction of the screen (1: no black frame)."""
    p_frame: float = 0.7
    gain: tuple[float, float] = (0.7, 1.35)
    contrast: tuple[float, float] = (0.75, 1.3)
    gamma: tuple[float, float] = (0.7, 1.5)
    speckle: tuple[float, float] = (0.0, 0.4)
    """Standard deviation of the log of the multiplicative speckle."""
    noise: tuple[float, float] = (0.0, 10.0)
    """Standard deviation of the additive noise, in grey levels."""
    blur: tuple[float, float] = (0.0, 1.0)
    """Gaussian blur of the B-mode, sigma in pixels per 64 px of image."""
    p_recolour: float = 0.8
    p_bloom: float = 0.3
    p_bar: float = 0.5
    p_scale: float = 0.5
    p_box: float = 0.5


TINTS = ((1.0, 1.0, 1.0), (1.0, 0.97, 0.90), (0.93, 0.97, 1.0))
"""Grey tints of B-mode screens (a tinted grey stays far below :data:`CHROMA_THRESHOLD`)."""


_LUT_RG = ILLUSTRATION_LUT[:, :2].astype(np.float64).sum(axis=1)
"""R + G of the illustration colour map: strictly increasing with the signal level."""


def _levels(doppler_rgb: np.ndarray) -> np.ndarray:
    """Signal level 0..1 of illustration Doppler pixels, read from R + G (which rises
    monotonically along the illustration map, from dark red to yellow)."""
    rg = doppler_rgb[:, :2].astype(np.float64).sum(axis=1)
    return np.interp(rg, _LUT_RG, np.linspace(0.0, 1.0, len(_LUT_RG)))


def _colour_map(name: str, level: np.ndarray) -> np.ndarray:
    stops = np.asarray(COLOUR_MAPS[name]) * 255
    pos = np.clip(level, 0, 1) * (len(stops) - 1)
    return np.stack([np.interp(pos, np.arange(len(stops)), stops[:, c]) for c in range(3)], -1)


@lru_cache(maxsize=256)
def _area_matrix(n: int, size: int) -> np.ndarray:
    """``(size, n)`` weights of an area resize from ``n`` to ``size`` pixels along one axis."""
    edges = np.linspace(0, n, size + 1)
    j = np.arange(n)
    overlap = np.minimum(j + 1, edges[1:, None]) - np.maximum(j, edges[:-1, None])
    return np.clip(overlap, 0, None) / np.diff(edges)[:, None]


def _area(values: np.ndarray, size: int) -> np.ndarray:
    """Area-resize ``(H, W, ...)`` to ``(size, size, ...)`` (two small matrix products)."""
    rows, cols = _area_matrix(values.shape[0], size), _area_matrix(values.shape[1], size)
    out = np.tensordot(rows, values, axes=(1, 0))  # (size, W, ...)
    return np.moveaxis(np.tensordot(out, cols, axes=(1, 1)), -1, 1)  # (size, size, ...)


def _shrink(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize an image to ``size`` keeping every Doppler spot: an output pixel is Doppler
    when any pixel it covers is, and takes their mean colour; the rest is area-averaged."""
    m = mask.astype(np.float64)
    x = image.astype(np.float64)
    share = _area(m, size)
    grey = _area(x * (1 - m)[..., None], size) / np.maximum(1 - share, 1e-6)[..., None]
    colour = _area(x * m[..., None], size) / np.maximum(share, 1e-6)[..., None]
    keep = share > 1e-9
    out = np.where(keep[..., None], colour, grey)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), keep


def screen_like(
    images: np.ndarray,
    rng: np.random.Generator,
    synovium: np.ndarray | None = None,
    style: ScreenStyle = ScreenStyle(),
) -> np.ndarray:
    """Illustrations drawn as a scanner screenshot might show them; uint8 ``(N, H, W, 3)``.

    Each image is drawn as a screen with probability ``style.p_screen``; then,
    with the probabilities and ranges of ``style``: the picture
    shrunk onto a black screen at a random place (:func:`_shrink` keeps every
    Doppler spot); the B-mode grey blurred, speckled, gained, stretched,
    gamma-corrected, noised and tinted (a grey pixel stays grey); the Doppler
    pixels recoloured with one of the scanners' :data:`~synovis_lib.doppler.COLOUR_MAPS`
    at the same signal level (a Doppler pixel stays coloured); blooming (a
    one-pixel dark-red rim) *outside* the synovium only; a colour bar, depth
    scale and colour-box outline painted only on pixels that are neither
    Doppler nor synovium. So, without the frame, the Doppler pixels inside
    ``synovium`` (bool ``(N, H, W)``) are exactly those of the input. Without
    ``synovium`` no blooming and no colour bar are drawn (both add colour).
    Taught in notebook 05; trained with through ``TrainingOptions.sim_to_real``.
    """
    check_images(images)
    _, h, w, _ = images.shape
    if synovium is not None and synovium.shape != images.shape[:3]:
        raise ValueError(f"synovium masks {synovium.shape} do not match images {images.shape}")
    out = np.empty_like(images)
    for k, image in enumerate(images):
        if rng.random() >= style.p_screen:
            out[k] = image
            continue
        syn = np.zeros((h, w), bool) if synovium is None else synovium[k].astype(bool)
        out[k] = _screen_one(image, syn, synovium is not None, rng, style)
    return out


def _u(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _screen_one(image, syn, known, rng, style) -> np.ndarray:
    h, w, _ = image.shape
    doppler = chroma_mask(image)
    if rng.random() < style.p_frame:
        size = max(8, round(_u(rng, style.frame) * h))
        small, small_d = _shrink(image, doppler, size)
        small_s = _shrink_mask(syn, size)
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        image = np.zeros_like(image)
        image[top : top + size, left : left + size] = small
        doppler, syn = np.zeros((h, w), bool), np.zeros((h, w), bool)
        doppler[top : top + size, left : left + size] = small_d
        syn[top : top + size, left : left + size] = small_s
    grey = image.astype(np.float32).mean(-1)
    sigma = _u(rng, style.blur) * h / 64
    if sigma > 0.05:
        grey = ndimage.gaussian_filter(grey, sigma)
    grey = grey * np.exp(_u(rng, style.speckle) * rng.standard_normal((h, w)))
    grey = (grey - grey.mean()) * _u(rng, style.contrast) + grey.mean()
    grey = 255 * (np.clip(grey * _u(rng, style.gain), 0, 255) / 255) ** _u(rng, style.gamma)
    grey = grey + _u(rng, style.noise) * rng.standard_normal((h, w))
    tint = np.asarray(TINTS[rng.integers(len(TINTS))], dtype=np.float32)
    rgb = np.clip(grey, 0, 255)[..., None] * tint
    rgb[doppler] = image[doppler]
    if doppler.any() and rng.random() < style.p_recolour:
        names = sorted(COLOUR_MAPS)
        recoloured = _colour_map(names[rng.integers(len(names))], _levels(image[doppler]))
        still = recoloured.max(-1) - recoloured.min(-1) > CHROMA_THRESHOLD + 1
        rgb[doppler] = np.where(still[:, None], recoloured, image[doppler])
    painted = doppler | syn
    if known and doppler.any() and rng.random() < style.p_bloom:
        rim = ndimage.binary_dilation(doppler) & ~painted
        rgb[rim] = np.asarray(COLOUR_MAPS["classic"][0]) * 255
        painted |= rim
    t = max(1, h // 64)
    free = ~painted
    if rng.random() < style.p_scale:
        col = w - 3 * t if rng.random() < 0.7 else rng.integers(0, w - t)
        rows = np.arange(rng.integers(0, 4 * t + 1), h, max(2, h // 20))
        _paint(rgb, free, rows[:, None] + np.arange(t), slice(col, col + t), 0.85 * 255)
    if doppler.any() and rng.random() < style.p_box:
        ys, xs = np.nonzero(doppler)
        pad = rng.integers(1, 4 * t + 2, size=4)
        y0, y1 = max(0, ys.min() - pad[0]), min(h - t, ys.max() + pad[1])
        x0, x1 = max(0, xs.min() - pad[2]), min(w - t, xs.max() + pad[3])
        grey_box = 0.78 * 255
        _paint(rgb, free, np.arange(y0, y0 + t), slice(x0, x1 + t), grey_box)
        _paint(rgb, free, np.arange(y1, y1 + t), slice(x0, x1 + t), grey_box)
        _paint(rgb, free, np.arange(y0, y1 + t), slice(x0, x0 + t), grey_box)
        _paint(rgb, free, np.arange(y0, y1 + t), slice(x1, x1 + t), grey_box)
    if known and rng.random() < style.p_bar:
        height, width = max(3, int(0.18 * h)), 3 * t
        x = t if rng.random() < 0.5 else w - width - t
        y = rng.integers(0, max(1, h // 6))
        ramp = _colour_map(
            sorted(COLOUR_MAPS)[rng.integers(len(COLOUR_MAPS))], np.linspace(1, 0, height)
        )
        bar = np.zeros((h, w), bool)
        bar[y : y + height, x : x + width] = True
        bar &= free
        rows, cols = np.nonzero(bar)
        rgb[rows, cols] = ramp[rows - y]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _shrink_mask(mask: np.ndarray, size: int) -> np.ndarray:
    return _area(mask.astype(np.float64), size) > 1e-9


def _paint(rgb: np.ndarray, free: np.ndarray, rows: np.ndarray, cols: slice, value) -> None:
    """Paint ``value`` on ``rows`` x ``cols`` where ``free`` (never on Doppler or synovium)."""
    rows = np.asarray(rows).ravel()
    rows = rows[(rows >= 0) & (rows < rgb.shape[0])]
    target = np.zeros(free.shape, bool)
    target[rows, cols] = True
    target &= free
    rgb[target] = value


def plot_screen_like(
    images: np.ndarray, synovium: np.ndarray | None = None, seed: int = 0
) -> plt.Figure:
    """Each illustration (top row) and one :func:`screen_like` drawing of it (bottom row),
    every step switched on; synovium outlined in cyan. Taught in notebook 05."""
    style = ScreenStyle(p_screen=1, p_frame=1, p_recolour=1, p_bar=1, p_scale=1, p_box=1)
    drawn = screen_like(images, np.random.default_rng(seed), synovium, style)
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6), squeeze=False)
    for k in range(n):
        for row, picture in enumerate((images[k], drawn[k])):
            ax = axes[row, k]
            ax.imshow(picture)
            ax.axis("off")
        if synovium is not None:
            axes[0, k].contour(synovium[k], levels=[0.5], colors="cyan", linewidths=0.8)
        axes[0, k].set_title("illustration", fontsize=9)
        axes[1, k].set_title("drawn as a screen", fontsize=9)
    fig.tight_layout()
    return fig


MAX_BANK = 50_000
"""Drawings of at most this many images are memoised per Python session (64 px: ~3.7 GB
at six copies would be too many; the bank is cleared when full)."""
_BANK: dict[tuple, np.ndarray] = {}


def drawings(
    images: np.ndarray,
    synovium: np.ndarray | None,
    copies: int,
    style: ScreenStyle = ScreenStyle(),
) -> np.ndarray:
    """``copies`` :func:`screen_like` drawings of every image, uint8 ``(N, copies, H, W, 3)``.

    Each image's drawings come from a generator seeded by its own pixels (and
    synovium), so an image gets the same drawings in every training set that
    holds it: the three trials, the cross-validation folds and the second
    model's set share them, and they are drawn once per Python session
    (memoised), which keeps sim-to-real training about as fast as training
    without it. Training uses drawing ``epoch % copies`` of an image in each epoch.
    """
    check_images(images)
    if synovium is not None and synovium.shape != images.shape[:3]:
        raise ValueError(f"synovium masks {synovium.shape} do not match images {images.shape}")
    if len(_BANK) + len(images) > MAX_BANK:
        _BANK.clear()
    out = np.empty((len(images), copies, *images.shape[1:]), dtype=np.uint8)
    for k, image in enumerate(images):
        mask = None if synovium is None else synovium[k : k + 1].astype(bool)
        digest = hashlib.blake2b(image.tobytes(), digest_size=8)
        digest.update(b"-" if mask is None else mask.tobytes())
        key = (digest.digest(), image.shape, copies, style)
        if key not in _BANK:
            rng = np.random.default_rng(int.from_bytes(key[0], "little"))
            repeated = None if mask is None else np.repeat(mask, copies, axis=0)
            _BANK[key] = screen_like(np.repeat(image[None], copies, axis=0), rng, repeated, style)
        out[k] = _BANK[key]
    return out
