"""synovis_lib — the library behind the synovis course.

Rebuilds Fukae et al. (J Int Med Res 2025): VGG-16 transfer learning on
artificial power Doppler images of MCP joints, tested on clinical images.
"""

__version__ = "0.1.0"

from synovis_lib.config import print_config, resolve_device
from synovis_lib.profiles import Profile, get_profile

__all__ = ["Profile", "__version__", "get_profile", "print_config", "resolve_device"]
