import subprocess
import sys

import pytest
import torch

from synovis_lib import config
from synovis_lib.config import VGG16_IMAGENET_FILE, local_imagenet_weights, resolve_device


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("cpu") == torch.device("cpu")


def test_local_weights_found_in_hub_cache_or_env(tmp_path, monkeypatch):
    monkeypatch.delenv(config.WEIGHTS_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert local_imagenet_weights() is None
    ckpt = tmp_path / "hub" / "checkpoints" / VGG16_IMAGENET_FILE
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"x")
    assert local_imagenet_weights() == ckpt
    other = tmp_path / "mine.pth"
    monkeypatch.setenv(config.WEIGHTS_ENV_VAR, str(other))
    with pytest.raises(FileNotFoundError, match=r"SYNOVIS_VGG16_WEIGHTS points at .*mine\.pth"):
        local_imagenet_weights()  # a wrong path is an error, not a silent "not found"
    assert "ERROR: $SYNOVIS_VGG16_WEIGHTS points at" in "\n".join(config.config_lines())
    other.write_bytes(b"x")
    assert local_imagenet_weights() == other


def test_print_config_reports_versions_device_and_weights(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv(config.WEIGHTS_ENV_VAR, raising=False)
    config.print_config()
    out = capsys.readouterr().out
    assert f"torch        {torch.__version__}" in out
    assert "device       cpu" in out or "device       cuda" in out or "device       mps" in out
    assert "ImageNet VGG-16 weights: not found locally" in out


def test_console_script_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "synovis_lib.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "usage: synovis" in out and "config" in out
