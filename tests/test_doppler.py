"""One owner for the Doppler colours: the painters (illustrations, simulator) and the
readers (layout reader, augmentation) agree."""

from __future__ import annotations

import numpy as np
import pytest

from synovis_lib import doppler, layout, synth
from synovis_lib import ultrasound as us


def test_every_illustration_colour_is_seen_by_both_readers():
    lut = doppler.ILLUSTRATION_LUT
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert tuple(lut[0]) == doppler.ILLUSTRATION_RGB[0]
    assert tuple(lut[-1]) == doppler.ILLUSTRATION_RGB[-1]
    image = lut[None]
    assert doppler.colour_mask(image).all()
    assert doppler.chroma_mask(image).all()


@pytest.mark.parametrize("name", sorted(doppler.COLOUR_MAPS))
def test_simulator_colours_are_seen_by_the_layout_reader(name):
    """Every colour of every map up to 97 % of the power range; the pale top of the
    ``warm`` map (saturation 0.30-0.34, the last 3 %) is a known, documented gap."""
    stops = np.asarray(doppler.COLOUR_MAPS[name])
    levels = np.linspace(0, len(stops) - 1, 101)
    rgb = np.stack([np.interp(levels, np.arange(len(stops)), stops[:, c]) for c in range(3)], -1)
    seen = doppler.colour_mask((rgb * 255).round().astype(np.uint8)[None])[0]
    assert seen[:98].all()
    assert seen.all() == (name != "warm")


def test_grey_b_mode_is_never_doppler():
    grey = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=-1)
    assert not doppler.colour_mask(grey).any()
    assert not doppler.chroma_mask(grey).any()
    tinted = grey.copy()
    tinted[..., 0] = np.minimum(255, grey[..., 0].astype(int) * 11 // 10)  # a warm B-mode tint
    assert not doppler.colour_mask(tinted).any()
    assert not doppler.chroma_mask(tinted).any()


@pytest.mark.parametrize("scene", synth.load_basic_scenes(), ids=lambda s: s.id)
def test_readers_find_exactly_the_illustrations_vessels(scene):
    rendered = synth.render(scene, 224)
    assert np.array_equal(doppler.colour_mask(rendered.rgb), rendered.vascular)
    assert np.array_equal(doppler.chroma_mask(rendered.rgb), rendered.vascular)


def test_layout_reader_finds_the_simulators_colour():
    """On simulated screenshots the colour the reader sees overlaps the colour the simulator
    painted (IoU >= 0.7 each, 0.85 overall; edges blur on the block-averaged screen)."""
    rng = np.random.default_rng(0)
    inter = union = 0
    for grade in (1, 2, 3):
        for _ in range(3):
            graded = us.sample_scene(rng, us.sample_examination(rng), grade)
            shot = us.render_scene(graded.scene, 224)
            sector = layout.image_sector(shot.rgb)
            seen, painted = doppler.colour_mask(shot.rgb) & sector, shot.colour & sector
            assert (seen & painted).sum() >= 0.7 * (seen | painted).sum()
            inter, union = inter + (seen & painted).sum(), union + (seen | painted).sum()
    assert inter >= 0.85 * union
