"""The ``synovis`` command line.

Each library module that offers a subcommand defines ``add_cli(subparsers)``
and registers its parser with ``set_defaults(func=...)``; this module finds
them, so a subcommand lives next to the code it runs.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import synovis_lib


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synovis",
        description=(
            "synovis: rebuild Fukae et al. (VGG-16 trained on artificial power Doppler "
            "images of MCP joints) from the shell."
        ),
    )
    parser.add_argument("--version", action="version", version=f"synovis {synovis_lib.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    config = sub.add_parser("config", help="print versions, device and ImageNet weights status")
    config.set_defaults(func=lambda args: synovis_lib.print_config())
    for info in sorted(pkgutil.iter_modules(synovis_lib.__path__), key=lambda m: m.name):
        if info.name == "cli":
            continue
        module = importlib.import_module(f"synovis_lib.{info.name}")
        if hasattr(module, "add_cli"):
            module.add_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
