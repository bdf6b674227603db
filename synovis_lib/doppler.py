"""Power Doppler colour: one owner for the colour maps, hues and thresholds.

Three parts of the library meet the same colours: the illustrations
(:mod:`synovis_lib.synth` paints their vascular layer with
:data:`ILLUSTRATION_LUT`), the simulator (:mod:`synovis_lib.ultrasound`
paints a screenshot with one of :data:`COLOUR_MAPS`) and the readers of an
image (:func:`colour_mask` for :mod:`synovis_lib.layout`, :func:`chroma_mask`
for :mod:`synovis_lib.augment`). ``tests/test_doppler.py`` checks that every
colour the two painters use is one the readers see, and that grey B-mode
pixels never are.

Taught in ``notebooks/02_artificial_training_set.ipynb`` (the illustration's
colours) and ``notebooks/08_error_driven_augmentation.ipynb`` (reading them back).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import rgb_to_hsv

ILLUSTRATION_STOPS = (0.0, 0.3, 0.55, 0.8, 1.0)
"""Signal levels of the illustration colour map's stops."""
ILLUSTRATION_RGB = ((110, 0, 0), (205, 10, 0), (255, 80, 0), (255, 175, 0), (255, 245, 120))
"""The illustration colour map: dark red -> red -> orange -> yellow (8-bit RGB at each stop)."""
ILLUSTRATION_LUT = np.stack(
    [
        np.interp(np.linspace(0, 1, 256), ILLUSTRATION_STOPS, np.asarray(ILLUSTRATION_RGB)[:, c])
        for c in range(3)
    ],
    axis=1,
).astype(np.uint8)
"""(256, 3) uint8: the illustration colour of signal level ``k / 255``."""

COLOUR_MAPS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "classic": ((0.30, 0.00, 0.00), (0.75, 0.08, 0.00), (1.00, 0.50, 0.00), (1.00, 0.95, 0.45)),
    "warm": ((0.40, 0.02, 0.02), (0.85, 0.20, 0.02), (1.00, 0.62, 0.10), (1.00, 1.00, 0.70)),
    "deep": ((0.22, 0.00, 0.02), (0.62, 0.02, 0.02), (0.95, 0.38, 0.00), (1.00, 0.85, 0.20)),
}
"""The simulated scanners' power Doppler colour maps, low to high power (RGB in 0..1)."""

COLOUR_HUES = (0.95, 0.19)
"""Power Doppler hues (fractions of the colour circle): from magenta-red through red,
orange and yellow (wrapping through 0)."""
COLOUR_MIN_SATURATION = 0.35
"""B-mode grey (or a slight tint) stays well below this saturation. The palest yellow at
the very top of the ``warm`` map (the last 3 % of its power range) falls below it too,
so :func:`colour_mask` misses it (``tests/test_doppler.py`` records the gap)."""
COLOUR_MIN_VALUE = 0.15
"""Darker pixels are too dark to tell their hue."""
CHROMA_THRESHOLD = 60
"""A pixel with ``max(R, G, B) - min(R, G, B)`` above this is coloured (:func:`chroma_mask`)."""


def colour_mask(image: np.ndarray) -> np.ndarray:
    """Pixels of one RGB uint8 image ``(H, W, 3)`` painted in power Doppler colour:
    saturated red, orange or yellow (HSV, :data:`COLOUR_HUES`). Used to read a screenshot."""
    hsv = rgb_to_hsv(image.astype(np.float32) / 255.0)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red_to_yellow = (hue >= COLOUR_HUES[0]) | (hue <= COLOUR_HUES[1])
    return (sat > COLOUR_MIN_SATURATION) & (val > COLOUR_MIN_VALUE) & red_to_yellow


def chroma_mask(images: np.ndarray, threshold: int = CHROMA_THRESHOLD) -> np.ndarray:
    """Coloured pixels of uint8 RGB images ``(..., 3)``: ``max - min`` channel above
    ``threshold``. Cheaper than :func:`colour_mask` and blind to hue: augmentation uses it
    to find an illustration's Doppler pixels, which are the only coloured ones."""
    return images.max(axis=-1).astype(np.int16) - images.min(axis=-1) > threshold
