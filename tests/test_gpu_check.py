"""The GPU readiness check (benchmarks/gpu_check.py) as a tiny CPU smoke run."""

from __future__ import annotations

import json
import math

import pytest

from synovis_lib import config
from tests.scripts import load_script


@pytest.fixture(scope="module")
def gpu_check():
    return load_script("benchmarks/gpu_check.py")


def test_cpu_smoke_run_writes_a_passing_report(gpu_check, tmp_path, capsys):
    out = tmp_path / "report" / "gpu_check.json"
    status = gpu_check.main(["--device", "cpu", "--quick", "--out", str(out)])
    report = json.loads(out.read_text())
    assert set(report) >= {
        "device", "torch", "size", "batch", "steps", "weights", "pretrained", "amp",
        "channels_last", "images_per_s", "peak_memory_mib", "loss_first", "loss_last",
        "loss_falls", "loss_ok", "resume_max_abs_diff", "resume_ok", "predict_max_abs_diff",
        "predict_tolerance", "predict_ok", "seconds",
    }  # fmt: skip
    assert (report["device"], report["size"], report["batch"], report["steps"]) == ("cpu", 32, 4, 2)
    assert report["iterations"] == 2 and report["training_images"] == 8
    assert report["amp"] is False and report["channels_last"] is False
    assert report["peak_memory_mib"] is None
    assert report["images_per_s"] > 0
    assert math.isfinite(report["loss_first"]) and math.isfinite(report["loss_last"])
    assert report["resume_max_abs_diff"] == 0.0 and report["resume_ok"] is True
    assert report["predict_max_abs_diff"] == 0.0 and report["predict_ok"] is True
    assert report["weights"].startswith("model=vgg16 ")
    if config.local_imagenet_weights() is None:
        assert report["pretrained"] is False and report["loss_falls_required"] is False
        assert report["loss_ok"] is True  # finite losses suffice from random init
        assert "VGG-16 from random init" in capsys.readouterr().out
    assert status == (0 if report["loss_ok"] else 1)
    assert [p.name for p in out.parent.iterdir()] == ["gpu_check.json"]  # no checkpoint left


def test_quick_preset_and_bad_step_counts(gpu_check):
    args = gpu_check.parse_args(["--quick", "--device", "cpu"])
    assert (args.size, args.batch, args.steps, args.device) == (32, 4, 2, "cpu")
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--steps", "1"])
