"""Grad-CAM: shapes, range, the right layer and a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from synovis_lib.explain import gradcam, last_conv_block, plot_gradcam
from synovis_lib.model import build_architecture, new_head


class RedDetector(nn.Module):
    """A one-channel "red minus green" detector, global pooling and the study's head.

    The grade-3 score grows with the detector's activation, so Grad-CAM for
    grade 3 must equal the (normalised) activation map: it lights up where the
    red patch is.
    """

    def __init__(self):
        super().__init__()
        conv = nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            conv.weight.copy_(torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1))
            conv.bias.zero_()
        self.features = nn.Sequential(conv, nn.ReLU())
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(new_head(1, 4, 0.3))
        with torch.no_grad():
            self.classifier[0][0].weight.copy_(torch.tensor([[-1.0], [0.0], [0.5], [1.0]]))
            self.classifier[0][0].bias.zero_()

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def red_patch_images() -> np.ndarray:
    images = np.full((2, 40, 40, 3), 40, dtype=np.uint8)
    images[0, 4:12, 6:14] = (255, 0, 0)  # top-left
    images[1, 28:36, 26:34] = (255, 0, 0)  # bottom-right
    return images


def test_gradcam_highlights_the_red_patch():
    images = red_patch_images()
    maps = gradcam(RedDetector(), images, target=3, image_size=20)
    assert maps.shape == (2, 40, 40)
    assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1.0)
    peaks = [np.unravel_index(m.argmax(), m.shape) for m in maps]
    assert 3 <= peaks[0][0] <= 12 and 5 <= peaks[0][1] <= 14
    assert 27 <= peaks[1][0] <= 36 and 25 <= peaks[1][1] <= 34
    assert maps[0, 30:, 30:].max() < 0.05  # nothing where there is no red


def test_target_none_explains_the_predicted_grade_and_negative_evidence_is_zero():
    images = red_patch_images()
    model = RedDetector()
    predicted = gradcam(model, images, image_size=20)  # grade 3 wins (largest positive weight)
    np.testing.assert_allclose(predicted, gradcam(model, images, target=[3, 3], image_size=20))
    grade0 = gradcam(model, images, target=0, image_size=20)  # red argues against grade 0
    assert np.all(grade0 == 0)
    with pytest.raises(ValueError, match="3 entries for 2 images"):
        gradcam(model, images, target=[0, 1, 2], image_size=20)


def test_last_conv_block_of_the_real_backbones():
    vgg = build_architecture("vgg16", empty=True)
    assert last_conv_block(vgg) is vgg.features[29]  # relu5_3, after conv5_3
    torch.manual_seed(0)
    compact = build_architecture("compact")
    layer = last_conv_block(compact)
    assert isinstance(layer, nn.ReLU) and layer is compact.features[-2]


def test_gradcam_on_a_frozen_compact_cnn_and_a_preprocessed_tensor():
    torch.manual_seed(0)
    model = build_architecture("compact")
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(3, 3, 32, 32)
    maps = gradcam(model, x, batch_size=2)
    assert maps.shape == (3, 32, 32) and np.all((maps >= 0) & (maps <= 1))
    assert not any(p.requires_grad for p in model.parameters())


def test_plot_gradcam_gallery():
    images = red_patch_images()
    fig = plot_gradcam(
        images, gradcam(RedDetector(), images, target=3, image_size=20), ["a", "b"], ncols=3
    )
    assert len(fig.axes) == 3 and fig.axes[0].get_title() == "a"
    assert len(fig.axes[0].images) == 2 and not fig.axes[2].images
    with pytest.raises(ValueError, match="2 images but 1 heatmaps"):
        plot_gradcam(images, np.zeros((1, 40, 40)))


def test_mass_inside_is_the_share_of_each_map_in_its_mask():
    from synovis_lib.explain import mass_inside

    maps = np.zeros((3, 4, 4))
    maps[0, :2] = 1.0  # half the rows
    maps[1, 0, 0] = 2.0
    masks = np.zeros((3, 4, 4), bool)
    masks[:, 0] = True
    share = mass_inside(maps, masks)
    np.testing.assert_allclose(share[:2], [0.5, 1.0])
    assert np.isnan(share[2])  # an all-zero map has no mass to place
    with pytest.raises(ValueError, match="differ in shape"):
        mass_inside(maps, masks[:, :2])


def test_regions_are_the_synovium_where_known_and_the_screen_always():
    from types import SimpleNamespace

    from synovis_lib.explain import region_masks, shares_table

    images = np.zeros((2, 8, 8, 3), np.uint8)
    images[:, 2:6, 1:7] = 120  # the picture; the rest is black screen
    synovium = np.zeros((2, 8, 8), bool)
    synovium[:, 3, 3] = True
    theirs = region_masks(SimpleNamespace(images=images, synovium=None))
    assert list(theirs) == ["screen"] and theirs["screen"].sum() == 2 * (64 - 24)
    cohort = SimpleNamespace(images=images, synovium=synovium)
    assert list(region_masks(cohort)) == ["synovium", "screen"]
    shares = {"m": pd.DataFrame({"synovium": [0.2, 0.4], "screen": [0.5, 0.1]})}
    table = shares_table(shares, cohort)
    assert table.loc[("synovium", "m"), "mean share"] == pytest.approx(0.3)
    assert table.loc[("screen", "m"), "chance"] == pytest.approx(40 / 64)
    assert table.loc[("synovium", "m"), "chance"] == pytest.approx(1 / 64)


def test_the_shares_verdict_is_built_from_the_table():
    from types import SimpleNamespace

    from synovis_lib.explain import shares_table, shares_verdict

    images = np.zeros((2, 8, 8, 3), np.uint8)
    images[:, 2:6, 1:7] = 120
    synovium = np.zeros((2, 8, 8), bool)
    synovium[:, 3, 3] = True
    cohort = SimpleNamespace(images=images, synovium=synovium)
    shares = {
        "without": pd.DataFrame({"synovium": [0.10, 0.10], "screen": [0.20, 0.20]}),
        "with": pd.DataFrame({"synovium": [0.105, 0.105], "screen": [0.40, 0.40]}),
    }
    text = shares_verdict(shares_table(shares, cohort), "without", "with")
    assert "puts 10.5% of its Grad-CAM mass there (above chance), the model without 10.0%" in text
    assert "with, it looks about as much at the synovium" in text
    assert "puts 40.0%" in text and "(below chance)" in text
    assert "with, it looks more at the screen" in text
