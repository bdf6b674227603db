"""Sim-to-real augmentation: screens vary, the Doppler pixels inside the synovium never do."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from synovis_lib import synth
from synovis_lib.augment import ScreenStyle, _area, screen_like
from synovis_lib.doppler import chroma_mask

ALWAYS = ScreenStyle(p_screen=1, p_frame=0, p_recolour=1, p_bloom=1, p_bar=1, p_scale=1, p_box=1)
"""Every step on, no frame: the exact invariant holds pixel for pixel."""


@pytest.fixture(scope="module")
def illustrations():
    ts = synth.generate_training_set(3, 64, [6, 6, 6, 6], progress=False)
    return ts, synth.synovium_masks(ts.provenance, 64)


def test_doppler_inside_the_synovium_is_untouched(illustrations):
    ts, syn = illustrations
    for seed in range(5):
        out = screen_like(ts.images, np.random.default_rng(seed), syn, ALWAYS)
        assert np.array_equal(chroma_mask(out) & syn, chroma_mask(ts.images) & syn)


def test_it_changes_what_a_screen_changes(illustrations):
    ts, syn = illustrations
    out = screen_like(ts.images, np.random.default_rng(0), syn, ALWAYS)
    outside = ~syn & ~chroma_mask(ts.images)
    changed = np.abs(out.astype(int) - ts.images).max(-1) > 8
    assert changed[outside].mean() > 0.5  # B-mode gain, noise, speckle
    # furniture and blooming add colour outside the synovium, never inside
    assert (chroma_mask(out) & ~syn).sum() > (chroma_mask(ts.images) & ~syn).sum()
    # recolouring moves Doppler colours (same pixels, other map)
    doppler = chroma_mask(ts.images)
    assert np.abs(out[doppler].astype(int) - ts.images[doppler]).mean() > 5


def test_grey_stays_grey_without_masks(illustrations):
    ts, _ = illustrations
    out = screen_like(ts.images, np.random.default_rng(1), None, ALWAYS)
    assert np.array_equal(chroma_mask(out), chroma_mask(ts.images))


def test_the_frame_keeps_every_doppler_spot(illustrations):
    """Shrunk onto a black screen, spots may merge but none vanishes and none appears
    (colour bar and blooming off: they add colour by design, outside the synovium)."""
    ts, syn = illustrations
    style = dataclasses.replace(ALWAYS, p_frame=1, frame=(0.55, 0.6), p_bar=0, p_bloom=0)
    out = screen_like(ts.images, np.random.default_rng(2), syn, style)
    eight = np.ones((3, 3))
    for before, after in zip(ts.images, out, strict=True):
        spots_before = ndimage.label(chroma_mask(before), eight)[1]
        spots_after = ndimage.label(chroma_mask(after), eight)[1]
        assert (spots_after > 0) == (spots_before > 0)
        assert spots_after <= spots_before
    # the picture now sits on a black screen: most of the border is black
    assert (out.reshape(len(out), -1, 3).max(-1) == 0).mean() > 0.2


def test_same_seed_same_drawing(illustrations):
    ts, syn = illustrations
    a = screen_like(ts.images, np.random.default_rng(7), syn)
    b = screen_like(ts.images, np.random.default_rng(7), syn)
    assert np.array_equal(a, b)


def test_p_screen_zero_is_the_identity(illustrations):
    ts, syn = illustrations
    out = screen_like(ts.images, np.random.default_rng(0), syn, ScreenStyle(p_screen=0))
    assert np.array_equal(out, ts.images)


def test_mask_shape_is_checked(illustrations):
    ts, syn = illustrations
    with pytest.raises(ValueError, match="synovium masks"):
        screen_like(ts.images, np.random.default_rng(0), syn[:, :32])


def test_area_resize_averages_blocks():
    x = np.random.default_rng(0).random((64, 64, 3))
    assert np.allclose(_area(x, 32), x.reshape(32, 2, 32, 2, 3).mean((1, 3)))


def test_unrebuildable_rows_are_fully_protected(illustrations):
    ts, _ = illustrations
    provenance = ts.provenance.copy()
    provenance.loc[0, "modifications"] = "placebo copy of x"
    provenance.loc[1, "modifications"] = '{"modelled_after": "p001_img1.png"}'
    provenance.loc[2, "basic_scene"] = "no-such-scene"
    masks = synth.synovium_masks(provenance.iloc[:4], 64)
    assert masks[:3].all() and not masks[3].all()
