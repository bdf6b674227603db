"""Start-up time of the command line: ``synovis --help`` and ``import synovis_lib``.

Run: .venv/bin/python benchmarks/bench_cli.py
Each command runs in a fresh interpreter (as a user runs it); prints the best of 5.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from timing import best_of


def main() -> None:
    script = shutil.which("synovis", path=str(Path(sys.executable).parent))
    commands = {
        "synovis --help": [script, "--help"],
        "python -c 'import synovis_lib'": [sys.executable, "-c", "import synovis_lib"],
        "python -c 'import synovis_lib.pipeline'": [
            sys.executable,
            "-c",
            "import synovis_lib.pipeline",
        ],
    }
    for label, argv in commands.items():
        seconds = best_of(
            lambda argv=argv: subprocess.run(argv, check=True, capture_output=True), 5
        )
        print(f"{label:42s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
