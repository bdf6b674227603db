"""The backbone comparison of notebook 09, run in full and recorded.

Trains every candidate of :data:`synovis_lib.backbones.CANDIDATES` that can
run here (VGG-16 ImageNet only where its weights are on disk), three trials
each, on the quick profile's artificial training set, and scores each on the
*development* patients of the simulated clinic (never the held-out ones).
VGG-16 from random init costs minutes per epoch on a laptop CPU, so its
epochs can be lowered with ``--vgg-epochs``; the table says how many ran.

It writes ``synovis_lib/data/backbone_comparison.json`` (``--out``) with the
rows and their provenance: the command, date, git commit, machine, torch
threads and profile. Notebook 09 shows that record and re-measures the
profile's own candidate live. Models are cached, so a second run is quick.

    .venv/bin/python benchmarks/compare_backbones.py
    .venv/bin/python benchmarks/compare_backbones.py --only compact lite0-frozen
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch

from synovis_lib import backbones, get_profile
from synovis_lib.files import write_json

OUT = Path(__file__).resolve().parents[1] / "synovis_lib" / "data" / backbones.RECORD


def commit() -> str:
    """The checked-out git commit (``"unknown"`` outside a git checkout)."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--vgg-epochs", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="candidate names (default: all that can run)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    profile = get_profile(args.profile, announce=False)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing-grade warnings of tiny profiles
        table = backbones.compare_backbones(
            profile,
            args.only,
            trials=args.trials,
            epochs={"vgg16-random": args.vgg_epochs, "vgg16-imagenet": args.vgg_epochs},
        )
    summary = backbones.summarise(table)
    print(summary.round(3).to_string(index=False))
    record = {
        "provenance": {
            "command": "python benchmarks/compare_backbones.py " + " ".join(sys.argv[1:]),
            "date": datetime.date.today().isoformat(),
            "commit": commit(),
            "machine": f"{platform.machine()} {platform.system()}, "
            f"{torch.get_num_threads()} torch threads",
            "profile": profile.summary(),
            "scored_on": "development patients (split_by_patient, dev_fraction 0.5, seed 0)",
            "minutes": round((time.perf_counter() - started) / 60, 1),
        },
        "rows": json.loads(table.to_json(orient="records")),
    }
    write_json(args.out, record)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
