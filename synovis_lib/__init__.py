"""synovis_lib — the library behind the synovis course.

Rebuilds Fukae et al. (J Int Med Res 2025): VGG-16 transfer learning on
artificial power Doppler images of MCP joints, tested on clinical images.
``import synovis_lib`` is light: PyTorch loads with the first module that
needs it (``print_config`` and ``resolve_device`` load it on first use).
"""

from typing import Any

__version__ = "0.1.0"

from synovis_lib.profiles import Profile, get_profile

__all__ = ["Profile", "__version__", "get_profile", "print_config", "resolve_device"]


def __getattr__(name: str) -> Any:
    if name in ("print_config", "resolve_device"):
        from synovis_lib import config

        return getattr(config, name)
    raise AttributeError(f"module 'synovis_lib' has no attribute {name!r}")
