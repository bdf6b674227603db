"""The ``synovis`` command line: argument parsing, and nothing else.

Each command is a small handler that imports the module doing the work only
when it runs, so ``synovis --help`` starts without loading PyTorch. Arguments
are checked by their ``type`` before any work starts. Every error, from a bad
argument or from the library refusing bad input, is one line on stderr naming
what is wrong, with exit status 2 and no traceback.

Taught in the README ("From the shell").
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from synovis_lib import __version__
from synovis_lib.profiles import (
    DEFAULT_PROFILE,
    ENV_VAR,
    INPUT_SIZE,
    PAPER_COUNTS,
    PROFILES,
    get_profile,
)

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)
"""What the library raises on bad input: reported in one line, never as a traceback."""


class CommandError(Exception):
    """A command-line error, already worded for the user."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage and exits; one line is enough
        raise CommandError(f"{self.prog}: error: {message}")


def _int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {low}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{value} is above the maximum {high}")
        return value

    parse.__name__ = f"integer >= {low}" if high is None else f"integer in {low}..{high}"
    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"{value} is not in (0, 0.5]")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _folder(text: str) -> Path:
    """An output folder: new or an existing folder, never a file, never inside the installed
    package, and in a place this user may write."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    package = Path(__file__).resolve().parent
    if path.resolve().is_relative_to(package):
        raise argparse.ArgumentTypeError(f"{text} is inside the synovis package ({package})")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: {existing} is not writable")
    return path


def _check_out(out: Path, kind: str, replace: bool = True) -> None:
    """Refuse, before any work, an ``--out`` that the writer would refuse at the end."""
    from synovis_lib.files import check_output_folder

    check_output_folder(out, kind, replace=replace)


def _existing_folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    return path


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return path


SEED = _int_at_least(0)
SIZE = _int_at_least(8, 2048)
"""Image sizes: 2048 px is far above the study's 224 and still fits in memory."""
CLINIC_SIZE = _int_at_least(32, 2048)
"""The simulator draws a screenshot's scale bars and text at 32 px or more."""
COUNT = _int_at_least(1)


def _config(args: argparse.Namespace) -> int:
    from synovis_lib.config import print_config

    print_config()
    return 0


def _generate(args: argparse.Namespace) -> int:
    from synovis_lib.imagefolder import KIND, write_image_folder
    from synovis_lib.synth import generate_training_set

    _check_out(args.out, KIND)
    if not sum(args.counts):
        raise ValueError("--counts: all four counts are 0; ask for at least one image")
    training_set = generate_training_set(args.seed, args.size, list(args.counts), progress=True)
    out = write_image_folder(training_set, args.out)
    print(f"wrote {len(training_set)} images {training_set.counts()} to {out}")
    return 0


def _simulate_clinic(args: argparse.Namespace) -> int:
    from synovis_lib.clinic import KIND, LABELS_FILE, simulate_cohort, write_cohort

    _check_out(args.out, KIND, replace=args.force)
    cohort = simulate_cohort(seed=args.seed, size=args.size, progress=True)
    write_cohort(cohort, args.out, overwrite=args.force)
    counts = "/".join(str(int(c)) for c in cohort.consensus_counts())
    print(
        f"wrote {len(cohort)} images and {LABELS_FILE} to {args.out} "
        f"(consensus grade 0/1/2/3: {counts}); load them with synovis_lib.clinic.load_clinic"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    from synovis_lib import imagefolder, pipeline, results

    _check_out(args.out, results.RUN_KIND)
    if args.clinic_csv and not args.clinic:
        raise ValueError("--clinic-csv needs --clinic, the folder its images are in")
    profile = get_profile(args.profile, **({"trials": args.trials} if args.trials else {}))
    print(profile.summary())
    train_set = imagefolder.read_image_folder(args.data, profile.image_size) if args.data else None
    cohort, reference = pipeline.test_cohort(profile, args.clinic, args.clinic_csv)
    run = pipeline.train_and_test(profile, train_set, cohort)
    results.write_run(args.out, profile, run.trials, run.evaluations, run.names, reference)
    print(run.trials.models[0].weights.summary())
    print(run.trials.summary()[["mean ± sd"]].to_string())
    unscored = run.evaluations[0].unscored_summary(f"{reference} grade")
    if unscored:
        print(f"{unscored}: listed in predictions.csv without a grade, not scored")
    print(f"wrote metrics.json, predictions.csv, weights.json and figures/ to {args.out}")
    return 0


def _cv(args: argparse.Namespace) -> int:
    from synovis_lib import pipeline, results

    _check_out(args.out, results.CV_KIND)
    profile = get_profile(args.profile)
    schemes = [False, True] if args.both else [args.grouped]
    runs = [
        pipeline.cv_for(profile, grouped, args.trial, args.method, epochs=args.epochs)
        for grouped in schemes
    ]
    results.write_cv(runs, args.out, profile.name)
    for r in runs:
        print(r.summary(), f"[{r.method}]", *r.notes, sep="\n  ")
    print(f"wrote {args.out}")
    return 0


def _second_model(args: argparse.Namespace) -> int:
    from synovis_lib import pipeline, results

    _check_out(args.out, results.STUDY_KIND)
    profile = get_profile(args.profile)
    study = pipeline.second_model_study(
        profile, args.dev_fraction, args.seed, args.new, args.trials
    )
    results.write_study(study, args.out)
    print(study.weights)
    print(study.comparison.summary().to_string())
    print(study.comparison.mcnemar.to_string(index=False))
    print("yardstick (initial vs placebo):")
    print(study.placebo.summary().to_string())
    print(f"wrote {args.out}")
    return 0


def _run_notebooks(args: argparse.Namespace) -> int:
    from synovis_lib import runner

    out = args.out or Path("runs") / args.profile
    _check_out(out, runner.KIND)
    only = [s for s in args.only.split(",") if s.strip()] if args.only else None
    report = runner.run_notebooks(
        notebooks_dir=args.notebooks_dir,
        out=out,
        profile=args.profile,
        only=only,
        jobs=args.jobs,
        parameters=runner.parse_overrides(args.parameters),
        force=args.force,
        kernel=args.kernel,
        timeout=args.timeout,
    )
    if os.environ.get(ENV_VAR):
        print(f"note: ${ENV_VAR}={os.environ[ENV_VAR]} overrides --profile in the notebooks")
    print(runner.format_summary(report.outcomes, out))
    print(f"results: {report.results_csv} and {report.results_md}")
    return 1 if report.failed else 0


def _profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        choices=sorted(PROFILES),
        help=f"run profile (default {DEFAULT_PROFILE})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``synovis`` parser with every command (nothing heavy is imported)."""
    parser = _Parser(
        prog="synovis",
        description=(
            "synovis: rebuild Fukae et al. (VGG-16 trained on artificial power Doppler "
            "images of MCP joints) from the shell."
        ),
    )
    parser.add_argument("--version", action="version", version=f"synovis {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("config", help="print versions, device and ImageNet weights status")
    p.set_defaults(func=_config)

    p = sub.add_parser(
        "generate", help="write the artificial training set as an ImageFolder + manifest.csv"
    )
    p.add_argument(
        "--out",
        required=True,
        type=_folder,
        help="output folder: new, empty or an earlier 'synovis generate' output (replaced whole)",
    )
    p.add_argument("--seed", type=SEED, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--size", type=SIZE, default=INPUT_SIZE, help="image size in pixels")
    p.add_argument(
        "--counts",
        type=_int_at_least(0),
        nargs=4,
        default=list(PAPER_COUNTS),
        metavar=("G0", "G1", "G2", "G3"),
        help="images per grade (default: the study's 212 236 222 200)",
    )
    p.set_defaults(func=_generate)

    p = sub.add_parser(
        "simulate-clinic",
        help="write the simulated clinical test set (PNG images + labels.csv)",
        description=(
            "Simulate the study's clinical test set (156 images, 74 patients, three raters) "
            "and write it in the format load_clinic reads."
        ),
    )
    p.add_argument("--out", required=True, type=_folder, help="folder to create")
    p.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    p.add_argument(
        "--size",
        type=CLINIC_SIZE,
        default=INPUT_SIZE,
        help=f"image size in pixels (default {INPUT_SIZE})",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace --out if it is an earlier 'synovis simulate-clinic' output",
    )
    p.set_defaults(func=_simulate_clinic)

    p = sub.add_parser(
        "train",
        help="train the study's model (VGG-16 transfer learning) and write metrics, predictions, figures",
        description=(
            "Train the profile's model on the artificial images (an ImageFolder written by "
            "'synovis generate', or generated in memory), test it on a clinical folder "
            "(load_clinic format) or else on the simulated clinical cohort, and write the "
            "results."
        ),
    )
    _profile_argument(p)
    p.add_argument(
        "--data",
        type=_existing_folder,
        help="ImageFolder with grade_0..grade_3 (default: generate)",
    )
    p.add_argument("--out", required=True, type=_folder, help="output folder")
    p.add_argument(
        "--clinic",
        type=_existing_folder,
        help="clinical images folder with labels.csv (default: the simulated cohort)",
    )
    p.add_argument(
        "--clinic-csv", type=_existing_file, help="rater CSV (default: CLINIC/labels.csv)"
    )
    p.add_argument("--trials", type=COUNT, help="independent trials (default: the profile's)")
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "cv", help="cross-validate on the artificial training set (stratified or group-aware)"
    )
    _profile_argument(p)
    p.add_argument("--out", required=True, type=_folder, help="output folder")
    p.add_argument(
        "--grouped", action="store_true", help="keep every variant of a basic scene in one fold"
    )
    p.add_argument("--both", action="store_true", help="run the stratified and the grouped CV")
    p.add_argument("--trial", type=SEED, default=0, help="trial whose options and seed to use")
    p.add_argument(
        "--method",
        default="network",
        choices=("network", "knn", "centroid"),
        help="train the profile's network per fold (default) or a pixel classifier",
    )
    p.add_argument(
        "--epochs", type=COUNT, default=None, help="epochs per fold (default: the profile's)"
    )
    p.set_defaults(func=_cv)

    p = sub.add_parser(
        "second-model",
        help="error analysis, new images modelled on a misclassified image, the second model",
    )
    _profile_argument(p)
    p.add_argument("--out", required=True, type=_folder, help="output folder")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the split and the choice")
    p.add_argument(
        "--dev-fraction", type=_fraction, default=0.5, help="share of patients for development"
    )
    p.add_argument("--new", type=COUNT, default=5, help="new images to draw (the study: 5)")
    p.add_argument("--trials", type=COUNT, default=None, help="trials (default: the profile's)")
    p.set_defaults(func=_second_model)

    p = sub.add_parser(
        "run-notebooks",
        help="execute the notebooks with papermill and gather their metrics",
        description=(
            "Execute notebooks/NN_*.ipynb with papermill, in numeric order, into OUT "
            "(PROFILE and RESULTS_DIR=OUT/results are injected). Finished notebooks with "
            "unchanged source and parameters are reused. Writes OUT/results.csv and results.md."
        ),
    )
    _profile_argument(p)
    p.add_argument(
        "--out", type=_folder, default=None, help="output folder (default: runs/<profile>)"
    )
    p.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 05,06")
    p.add_argument(
        "--jobs",
        type=COUNT,
        default=1,
        help="notebooks executed at once (default 1); each kernel then gets its share of the CPUs",
    )
    p.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="extra notebook parameter; VALUE is a Python literal or a string (repeatable)",
    )
    p.add_argument(
        "--notebooks-dir", type=_existing_folder, default="notebooks", help="folder of NN_*.ipynb"
    )
    p.add_argument("--force", action="store_true", help="execute even if a finished output matches")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    p.add_argument("--timeout", type=_seconds, default=None, help="per-cell timeout in seconds")
    p.set_defaults(func=_run_notebooks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``synovis`` with ``argv``; returns the exit status (2 for any user error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except CommandError as err:
        print(err, file=sys.stderr)
    except USER_ERRORS as err:
        print(f"synovis {args.command}: error: {err}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
