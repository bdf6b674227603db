"""The study's VGG-16 surgery, where its weights come from, and the offline path."""

from __future__ import annotations

import os
import urllib.error
import warnings

import pytest
import torch
from torch import nn

from synovis_lib import config
from synovis_lib import model as model_module
from synovis_lib.model import (
    CompactCNN,
    OfflineWeightsWarning,
    WeightsInfo,
    backbone_of,
    build_architecture,
    build_model,
    build_vgg16,
    head_of,
    load_imagenet_file,
    surgery_table,
)


@pytest.fixture(scope="module")
def vgg():
    """One randomly initialised VGG-16 with the study's head (138 M parameters: build once)."""
    torch.manual_seed(0)
    model, info = build_model("vgg16", "none")
    return model, info


@pytest.fixture(scope="module")
def imagenet_file(vgg, tmp_path_factory):
    """An ImageNet-shaped VGG-16 state dict (1000 outputs) written once, as torchvision saves it."""
    state = {k: v for k, v in vgg[0].state_dict().items() if not k.startswith("classifier.6.")}
    gen = torch.Generator().manual_seed(1)
    state["classifier.6.weight"] = torch.randn(1000, 4096, generator=gen) * 0.01
    state["classifier.6.bias"] = torch.zeros(1000)
    path = tmp_path_factory.mktemp("weights") / config.VGG16_IMAGENET_FILE
    torch.save(state, path)
    return path


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub, no $SYNOVIS_VGG16_WEIGHTS, and a download that fails like offline."""
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.delenv(config.WEIGHTS_ENV_VAR, raising=False)

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(model_module, "_ANNOUNCED", set())
    monkeypatch.setattr(model_module, "_DOWNLOAD_FAILED", [])
    return hub


def test_head_is_fc4_then_dropout_03_with_four_outputs(vgg):
    model, info = vgg
    head = head_of(model)
    assert head is model.classifier[6]
    assert isinstance(head[0], nn.Linear) and (head[0].in_features, head[0].out_features) == (
        4096,
        4,
    )
    assert isinstance(head[1], nn.Dropout) and head[1].p == pytest.approx(0.3)
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 4)
    assert info == WeightsInfo("vgg16", "none", "vgg16", "none (random init)")
    # the rest of VGG-16 is untouched: 13 conv layers, fc6 and fc7
    assert sum(isinstance(m, nn.Conv2d) for m in model.features) == 13
    assert [m.out_features for m in model.classifier if isinstance(m, nn.Linear)] == [4096, 4096]


def test_surgery_table_shows_removed_and_added_layers(vgg):
    table = surgery_table(vgg[0])
    new = table[table["status"] == "new"].iloc[0]
    assert new["layer"] == "classifier.6" and new["MATLAB"] == "fc8"
    assert "out_features=1000" in new["before (ImageNet)"]
    assert "out_features=4" in new["after (ours)"] and "Dropout(p=0.3" in new["after (ours)"]
    assert new["parameters"] == 4096 * 4 + 4
    assert list(table["MATLAB"][:7]) == ["fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]


def test_compact_cnn_has_the_same_layout_and_head():
    torch.manual_seed(0)
    model, info = build_model("compact", "none", dropout=0.3)
    assert isinstance(model, CompactCNN) and info.backbone == "compact" and not info.fallback
    head = head_of(model)
    assert (head[0].out_features, head[1].p) == (4, pytest.approx(0.3))
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(3, 3, 64, 64)).shape == (3, 4)
    assert sum(p.numel() for p in model.parameters()) < 200_000


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="backbone 'resnet'"):
        build_model("resnet")
    with pytest.raises(ValueError, match="offline must be"):
        build_model("compact", "none", offline="maybe")
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_model("compact", "imagenet")
    with pytest.raises(ValueError, match="fallback_backbone"):
        build_model("vgg16", fallback_backbone="alexnet")


def test_local_file_weights_load_exactly(imagenet_file, vgg, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty_hub"))
    model, info = build_model("vgg16", weights=imagenet_file, offline="raise")
    source = vgg[0]  # the file holds this model's backbone, fc6 and fc7
    assert torch.equal(model.features[0].weight, source.features[0].weight)
    assert torch.equal(model.classifier[3].weight, source.classifier[3].weight)
    assert not any(p.is_meta for p in model.parameters())
    assert head_of(model)[0].out_features == 4
    assert info.weights == f"imagenet (local file {imagenet_file})" and info.pretrained


def test_env_var_and_hub_cache_are_found(imagenet_file, monkeypatch, tmp_path):
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    os.link(imagenet_file, hub / "checkpoints" / config.VGG16_IMAGENET_FILE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.delenv(config.WEIGHTS_ENV_VAR, raising=False)
    _, info = build_vgg16("imagenet")
    assert info == "imagenet (torch hub cache)"
    monkeypatch.setenv(config.WEIGHTS_ENV_VAR, str(imagenet_file))
    _, info = build_vgg16("imagenet")
    assert info == f"imagenet (local file {imagenet_file})"


def test_weights_are_spelled_as_in_torchvision(imagenet_file, monkeypatch, tmp_path):
    """``weights=None`` is random init and ``VGG16_Weights.IMAGENET1K_V1`` (or "DEFAULT") the
    ImageNet weights, found in the hub cache without a download; other enums are refused."""
    import torchvision

    model, info = build_vgg16(weights=None)
    assert info == "none (random init)" and head_of(model)[0].out_features == 4
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    os.link(imagenet_file, hub / "checkpoints" / config.VGG16_IMAGENET_FILE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.delenv(config.WEIGHTS_ENV_VAR, raising=False)
    for spelling in (torchvision.models.VGG16_Weights.IMAGENET1K_V1, "DEFAULT"):
        _, info = build_vgg16(weights=spelling)
        assert info == "imagenet (torch hub cache)"
    with pytest.raises(ValueError, match=r"only VGG16_Weights\.IMAGENET1K_V1"):
        build_vgg16(weights=torchvision.models.VGG16_Weights.IMAGENET1K_FEATURES)


def test_wrong_weight_files_give_clear_errors(tmp_path, vgg):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match=r"garbage\.pth is not a PyTorch state dict"):
        load_imagenet_file(garbage)
    as_list = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], as_list)
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        load_imagenet_file(as_list)
    other = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(
        ValueError, match=r"not a VGG-16 ImageNet state dict \(missing: .*unexpected: fc\.weight"
    ):
        load_imagenet_file(other)
    ours = tmp_path / "surgered.pth"
    torch.save({k: torch.zeros(1) for k in vgg[0].state_dict()}, ours)  # our 4-grade layout
    with pytest.raises(ValueError, match=r"classifier\.6\.0\.weight"):
        load_imagenet_file(ours)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        build_model("vgg16", weights=tmp_path / "missing.pth")


def test_wrong_shape_is_reported(tmp_path, vgg):
    state = {k: torch.zeros(1) for k in vgg[0].state_dict() if not k.startswith("classifier.6.")}
    state |= {"classifier.6.weight": torch.zeros(1), "classifier.6.bias": torch.zeros(1)}
    bad = tmp_path / "bad_shape.pth"
    torch.save(state, bad)
    with pytest.raises(
        ValueError, match=r"wrong shape: classifier\.0\.bias \(1,\) \(VGG-16 has \(4096,\)\)"
    ):
        load_imagenet_file(bad)


def test_offline_raise_says_so_and_raises(offline_hub):
    with pytest.raises(
        RuntimeError, match=r"could not be downloaded.*offline='raise'.*SYNOVIS_VGG16_WEIGHTS"
    ):
        build_model("vgg16", "imagenet", offline="raise")
    assert (offline_hub / "checkpoints").is_dir()  # torchvision tried, and left its folder


def test_offline_fallback_is_announced_once_and_recorded(offline_hub):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, info = build_model(
            "vgg16", "imagenet", offline="fallback", fallback_backbone="compact"
        )
        again, info_again = build_model("vgg16", "imagenet", offline="fallback")
    offline = [w for w in caught if issubclass(w.category, OfflineWeightsWarning)]
    assert len(offline) == 1
    assert "Falling back to 'compact'" in str(offline[0].message)
    assert isinstance(model, CompactCNN) and isinstance(again, CompactCNN)
    assert info == info_again
    assert info.fallback and info.backbone == "compact" and info.weights == "none (random init)"
    assert info.requested_backbone == "vgg16" and info.requested_weights == "imagenet"
    assert "URLError" in info.reason and not info.pretrained
    assert "FALLBACK" in info.summary()
    assert WeightsInfo.from_dict(info.to_dict()) == info


def test_architecture_without_download_matches_built_model(vgg):
    rebuilt = build_architecture("vgg16", empty=True)
    assert all(p.is_meta for p in rebuilt.parameters())
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in vgg[0].state_dict().items()
    }
    with pytest.raises(ValueError, match="unknown backbone"):
        build_architecture("lenet")


def test_backbone_ends_where_the_new_layer_begins():
    vgg = build_architecture("vgg16", empty=True)  # meta tensors: shapes only
    features = backbone_of(vgg)(torch.empty(2, 3, 64, 64, device="meta"))
    assert features.shape == (2, 4096)  # fc7's output, the input of the new layer
    compact = build_architecture("compact", empty=True)
    assert backbone_of(compact)(torch.empty(2, 3, 64, 64, device="meta")).shape == (2, 128 * 4 * 4)


def test_going_online_retrains_instead_of_serving_the_cached_fallback(offline_hub, monkeypatch):
    """The model cache key records the ImageNet file; an offline run's fallback is not reused
    once the download works (one attempt per session; no network is touched here)."""
    from types import SimpleNamespace

    from synovis_lib import get_profile, pipeline

    quick = get_profile(
        "quick", announce=False, backbone="vgg16", weights="imagenet", offline="fallback"
    )
    data = SimpleNamespace(images=torch.zeros(2, 8, 8, 3, dtype=torch.uint8).numpy(), labels=[0, 1])
    offline_key = pipeline.model_params(quick, 0, data, None)
    assert model_module.ensure_imagenet_weights() is None
    assert model_module._DOWNLOAD_FAILED and "URLError" in model_module._DOWNLOAD_FAILED[0]
    assert offline_key["imagenet_file_present"] is False

    def download(url, dst, *args, **kwargs):  # what torch.hub does when online
        torch.save({}, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    assert model_module.ensure_imagenet_weights() is None  # the session already tried once
    monkeypatch.setattr(model_module, "_DOWNLOAD_FAILED", [])  # a new session, now online
    online_key = pipeline.model_params(quick, 0, data, None)
    assert online_key["imagenet_file_present"] is True
    assert (
        model_module.ensure_imagenet_weights()
        == offline_hub / "checkpoints" / config.VGG16_IMAGENET_FILE
    )
    assert offline_key != online_key
