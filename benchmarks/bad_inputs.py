"""Bad and unusual inputs, as a careless or hostile user would give them: how many get a
clear error, how many are handled, and how many crash, go wrong in silence or leave a
half-written folder.

Run: ``.venv/bin/python benchmarks/bad_inputs.py [--json out.json] [--only CATEGORY] [--list]``
(``--jobs N``: how many ``args`` cases run at once, default 2). About three minutes on two
CPU cores; the JSON has every case's id, category, expectation, outcome and message.

Every case is a small declarative entry: an id, a category, a callable that performs
it (the library in-process, or the ``synovis`` command line in a subprocess) and what
*should* happen: an error whose message names the offending thing (one or more
tokens: a file, a column, a field, an option such as ``--size``; ``a|b`` takes either),
success with a result that passes a check, or either of the two. The outcome is classified against that declared
expectation, never against what the code happens to do today:

- ``clear``: an error was expected and came as a user error, a ValueError,
  FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError or
  ImportError whose first line holds every token and is no raw ``[Errno ...]``
  (for the command line: a non-zero exit, no traceback, every token in stderr);
- ``handled``: success was expected and the result passes the check;
- ``crash``: any other exception, a traceback, a message lacking a token, a raw
  OS error, a refusal where success was expected, or a timeout;
- ``silent``: no error where one was expected, or a result that fails its check;
- ``half``: a writer left its folder neither the complete old nor the complete new
  output, left temporary folders behind, or destroyed or altered files synovis did
  not write (data loss). This overrides the others.

Categories: ``args`` (command-line arguments, checked before any work), ``writers``
(output folders: the user's own files, re-runs, concurrent runs, SIGKILL),
``csv`` (:func:`synovis_lib.clinic.load_clinic` on bad rater CSVs and image lists),
``images`` (PNG, JPEG, EXIF rotation, greyscale, 16 bit, palette, DICOM read back
exactly), ``scenes`` (:class:`synovis_lib.synth.Scene` from bad JSON) and ``cache``
(damaged entries of :func:`synovis_lib.cache.cached`).

Everything runs in temporary folders with its own ``$SYNOVIS_CACHE``, on tiny sizes.
The repository this file lives in comes first on ``sys.path`` and on the
subprocesses' ``PYTHONPATH``, so a copy of the script measures the tree it sits in.
Cases that cannot mean anything here are skipped and listed (a read-only folder when
running as root).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATEGORIES = ("args", "writers", "csv", "images", "scenes", "cache")
OUTCOMES = ("clear", "handled", "crash", "silent", "half")
USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    PermissionError,
    ImportError,
)
CLI_TIMEOUT = 120.0
PARALLEL = ("args",)
"""Categories whose cases only start ``synovis`` subprocesses, so they can run side by side
(the others change ``os.environ`` or time a process, and run one at a time)."""
PROBE = f"_bad_inputs_probe_{os.getpid()}"
"""Start of the folder names the ``--out`` inside the package cases aim at (removed after)."""
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ----------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Expect:
    """What should happen: ``error`` naming ``tokens``, ``ok`` passing ``check``, or
    ``either`` (an error naming ``tokens``, or success passing ``check``)."""

    kind: str
    tokens: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None
    what: str = ""

    def describe(self) -> str:
        if self.kind == "error":
            return f"error naming {', '.join(self.tokens)}"
        text = f"ok: {self.what}" if self.what else "ok"
        return f"error naming {', '.join(self.tokens)} or {text}" if self.kind == "either" else text


def error(*tokens: str) -> Expect:
    return Expect("error", tuple(tokens))


def ok(check: Callable[[Any], str | None] | None = None, what: str = "") -> Expect:
    return Expect("ok", (), check, what)


def either(tokens: Sequence[str], check: Callable[[Any], str | None], what: str) -> Expect:
    return Expect("either", tuple(tokens), check, what)


@dataclass
class Ctx:
    """What a case's action gets: its own empty folder, the shared fixtures, and a list
    for data-loss findings (any entry makes the case ``half``)."""

    tmp: Path
    session: Session
    damage: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    action: Callable[[Ctx], Any]
    expect: Expect
    skip: str = ""


class SetupError(Exception):
    """This script could not set a case up: a bug here, so the run stops."""


class CrashObserved(Exception):
    """Raised by an action that saw a crash it cannot return (a traceback in a second process)."""


@dataclass
class CliResult:
    argv: list[str]
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def last_line(self) -> str:
        for text in (self.stderr, self.stdout):
            lines = [s.strip() for s in re.split(r"[\r\n]+", text) if s.strip()]
            if lines:
                return lines[-1]
        return ""


# ----------------------------------------------------------------------------- running the CLI


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("SYNOVIS_PROFILE", None)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("OMP_NUM_THREADS", "1")  # cases run two at a time on small machines
    return env


def start_synovis(args: Sequence[Any], cwd: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "synovis_lib.cli", *map(str, args)]
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, started: float, timeout: float = CLI_TIMEOUT) -> CliResult:
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        out, err = proc.communicate()
    return CliResult(
        list(map(str, proc.args)), proc.returncode, out, err, time.monotonic() - started, timed_out
    )


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def synovis(args: Sequence[Any], cwd: Path, timeout: float = CLI_TIMEOUT) -> CliResult:
    started = time.monotonic()
    return finish(start_synovis(args, cwd), started, timeout)


def require_ok(result: CliResult, what: str) -> CliResult:
    if result.rc != 0:
        raise CrashObserved(f"{what} failed (exit {result.rc}): {result.last_line}")
    return result


# ----------------------------------------------------------------------------- fixtures


class Session:
    """Fixtures shared by the cases, built on first use in the session folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, Path] = {}
        self._lock = threading.Lock()

    def _once(self, name: str, make: Callable[[Path], None]) -> Path:
        with self._lock:
            if name not in self._made:
                path = self.root / name
                make(path)
                self._made[name] = path
            return self._made[name]

    def prepare(self) -> None:
        """Build every fixture now (before cases run in parallel threads)."""
        self.image_folder()
        self.clinic_folder()
        self.notebooks_dir()

    def image_folder(self) -> Path:
        """A tiny ``synovis generate`` output (8 images, 32 px) for ``train --data``."""

        def make(path: Path) -> None:
            from synovis_lib.imagefolder import write_image_folder
            from synovis_lib.synth import generate_training_set

            write_image_folder(generate_training_set(0, 32, [2, 2, 2, 2]), path)

        return self._once("train_images", make)

    def clinic_folder(self) -> Path:
        """The simulated clinic (156 images, 32 px) written as a load_clinic folder."""

        def make(path: Path) -> None:
            from synovis_lib.clinic import simulate_cohort, write_cohort

            write_cohort(simulate_cohort(seed=0, size=32), path)

        return self._once("clinic", make)

    def notebooks_dir(self) -> Path:
        """A notebooks folder with one trivial ``01_probe.ipynb``, so run-notebooks stays cheap."""

        def make(path: Path) -> None:
            path.mkdir()
            cell = {"cell_type": "code", "execution_count": None, "outputs": []}
            notebook = {
                "cells": [
                    cell
                    | {
                        "id": "params",
                        "metadata": {"tags": ["parameters"]},
                        "source": ['PROFILE = "ci"\n', 'RESULTS_DIR = "results"'],
                    },
                    cell | {"id": "work", "metadata": {}, "source": ["x = 1"]},
                ],
                "metadata": {
                    "kernelspec": {
                        "name": "python3",
                        "display_name": "Python 3",
                        "language": "python",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
            (path / "01_probe.ipynb").write_text(json.dumps(notebook), encoding="utf-8")

        return self._once("notebooks", make)


# ----------------------------------------------------------------------------- folder checks


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with a hash of its contents."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def lost(before: dict[str, str], folder: Path) -> str | None:
    """What of the user's files ``before`` is gone or altered in ``folder``, or ``None``."""
    after = snapshot(folder)
    gone = sorted(name for name in before if name not in after)
    changed = sorted(name for name in before if name in after and after[name] != before[name])
    if not gone and not changed:
        return None
    parts = [f"deleted {gone[:4]}" if gone else "", f"altered {changed[:4]}" if changed else ""]
    return "user's files " + " and ".join(p for p in parts if p)


def make_user_folder(folder: Path, extra: dict[str, bytes] | None = None) -> dict[str, str]:
    """A folder of the user's own work (notes, a source tree and ``extra`` files, e.g. a
    ``metrics.json`` of their own); returns its snapshot."""
    (folder / "src" / "data").mkdir(parents=True)
    for name, data in (extra or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "notes.txt").write_text("my notes: do not lose these\n", encoding="utf-8")
    (folder / "src" / "main.py").write_text("print('my analysis')\n", encoding="utf-8")
    (folder / "src" / "data" / "grades.csv").write_text("image,grade\nx.png,2\n", encoding="utf-8")
    return snapshot(folder)


def hidden_siblings(folder: Path) -> list[str]:
    """Hidden folders ``.<name>*`` beside ``folder`` (temporary folders a writer left)."""
    return sorted(
        p.name for p in folder.parent.glob(f".{folder.name}*") if p.is_dir() and p != folder
    )


def image_folder_problem(folder: Path) -> tuple[str | None, set[int]]:
    """Whether ``folder`` is a complete ``synovis generate`` output: manifest rows and PNG
    files agree and every PNG opens. Returns (problem or None, the seeds in the manifest)."""
    import pandas as pd
    from PIL import Image

    if not folder.is_dir():
        return f"{folder.name} does not exist", set()
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        return "no manifest.csv", set()
    try:
        rows = pd.read_csv(manifest)
    except Exception as exc:
        return f"manifest.csv unreadable ({type(exc).__name__})", set()
    listed = set(rows["file"].astype(str))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*.png")}
    if listed != present:
        return (
            f"manifest lists {len(listed)} images, {len(present)} PNGs present "
            f"({len(listed - present)} missing, {len(present - listed)} not listed)",
            set(),
        )
    for name in present:
        try:
            with Image.open(folder / name) as image:
                image.verify()
        except Exception:
            return f"{name} is not a readable PNG", set()
    return None, {int(s) for s in rows["seed"]}


def clinic_folder_problem(folder: Path) -> str | None:
    """Whether ``folder`` is a complete ``simulate-clinic`` output (labels.csv rows = PNGs)."""
    import pandas as pd

    labels = folder / "labels.csv"
    if not labels.is_file():
        return "no labels.csv"
    listed = set(pd.read_csv(labels)["image"].astype(str))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*.png")}
    if listed != present:
        return f"labels.csv lists {len(listed)} images, {len(present)} PNGs present"
    return None


# ----------------------------------------------------------------------------- args


def _resolve(value: str, ctx: Ctx) -> str:
    """Placeholders of the argument tables: fresh and broken paths, the shared fixtures."""
    tmp = ctx.tmp
    if value == "{new}":
        return str(tmp / "out")
    if value in ("{file}", "{file_sub}"):
        (tmp / "file.txt").write_text("a file, not a folder\n", encoding="utf-8")
        return str(tmp / "file.txt" / "sub") if value == "{file_sub}" else str(tmp / "file.txt")
    if value == "{pkg}":
        return str(ROOT / "synovis_lib" / f"{PROBE}_{tmp.name}")
    if value == "{readonly}":
        (tmp / "readonly").mkdir(exist_ok=True)
        (tmp / "readonly").chmod(0o555)
        return str(tmp / "readonly" / "out")
    if value == "{missing}":
        return str(tmp / "no_such_folder")
    if value == "{missing_csv}":
        return str(tmp / "no_such_labels.csv")
    if value == "{empty}":
        (tmp / "empty_drawings").mkdir(exist_ok=True)
        return str(tmp / "empty_drawings")
    if value == "{data}":
        return str(ctx.session.image_folder())
    if value == "{clinic}":
        return str(ctx.session.clinic_folder())
    if value == "{clinic_csv}":
        return str(ctx.session.clinic_folder() / "labels.csv")
    if value == "{nb}":
        return str(ctx.session.notebooks_dir())
    return value


def _remove_probe(ctx: Ctx) -> None:
    """Remove what an ``--out`` inside the package left there (the folder, hidden siblings)."""
    for path in (ROOT / "synovis_lib").glob(f"*{PROBE}_{ctx.tmp.name}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


ArgValue = str | list[str] | None

BASE_ARGS: dict[str, dict[str, ArgValue]] = {
    "generate": {"--out": "{new}", "--seed": "0", "--size": "32", "--counts": ["2"] * 4},
    "simulate-clinic": {"--out": "{new}", "--seed": "0", "--size": "32"},
    "train": {"--profile": "ci", "--out": "{new}", "--data": "{data}", "--clinic": "{clinic}"},
    "cv": {"--profile": "ci", "--out": "{new}", "--method": "centroid"},
    "second-model": {"--profile": "ci", "--out": "{new}"},
    "run-notebooks": {
        "--profile": "ci",
        "--out": "{new}",
        "--notebooks-dir": "{nb}",
        "--only": "01",
    },
}

OUT_CASES: list[tuple[str, str, str]] = [
    ("file", "{file}", "--out"),
    ("under-file", "{file_sub}", "--out"),
    ("in-package", "{pkg}", "--out"),
    ("read-only", "{readonly}", "--out"),
]

OUT_CASES_FOR = {
    "generate": ("file", "under-file", "in-package", "read-only"),
    "simulate-clinic": ("file", "under-file", "in-package", "read-only"),
    "run-notebooks": ("file", "under-file", "in-package", "read-only"),
    "train": ("file", "in-package", "read-only"),
    "cv": ("file", "in-package", "read-only"),
    "second-model": ("file", "read-only"),
}
"""Which ``--out`` cases each command gets: all check the same option, and the commands that
train would do all their work before failing on a path under a file (a minute in all)."""

ARG_CASES: dict[str, list[tuple[str, dict[str, ArgValue], str]]] = {
    "generate": [
        *[(f"size={v}", {"--size": v}, "--size") for v in ("0", "-1", "7", "abc", "32.5")],
        *[(f"size={v}", {"--size": v}, "--size") for v in ("100000", "1e9")],
        *[(f"seed={v}", {"--seed": v}, "--seed") for v in ("-1", "x", "1.5")],
        ("counts-negative", {"--counts": ["-1", "2", "2", "2"]}, "--counts"),
        ("counts-three-values", {"--counts": ["2", "2", "2"]}, "--counts"),
        ("counts-all-zero", {"--counts": ["0"] * 4}, "--counts"),
    ],
    "simulate-clinic": [
        *[(f"size={v}", {"--size": v}, "--size") for v in ("0", "-1", "7", "16", "abc", "100000")],
        *[(f"seed={v}", {"--seed": v}, "--seed") for v in ("-1", "x", "1.5")],
    ],
    "train": [
        ("profile=nope", {"--profile": "nope"}, "--profile"),
        *[(f"trials={v}", {"--trials": v}, "--trials") for v in ("0", "-1", "x")],
        ("data-missing", {"--data": "{missing}"}, "no_such_folder"),
        ("data-is-file", {"--data": "{file}"}, "file.txt"),
        ("data-empty-folder", {"--data": "{empty}"}, "empty_drawings"),
        ("clinic-missing", {"--clinic": "{missing}"}, "no_such_folder"),
        ("clinic-is-file", {"--clinic": "{file}"}, "file.txt"),
        ("clinic-csv-missing", {"--clinic-csv": "{missing_csv}"}, "no_such_labels.csv"),
        (
            "clinic-csv-without-clinic",
            {"--clinic": None, "--clinic-csv": "{clinic_csv}"},
            "--clinic-csv",
        ),
    ],
    "cv": [
        ("profile=nope", {"--profile": "nope"}, "--profile"),
        *[(f"epochs={v}", {"--epochs": v}, "--epochs") for v in ("0", "-1")],
        ("folds=0", {"--folds": "0"}, "--folds"),
        *[(f"trial={v}", {"--trial": v}, "--trial") for v in ("-1", "x")],
        ("method=nope", {"--method": "nope"}, "--method"),
    ],
    "second-model": [
        ("profile=nope", {"--profile": "nope"}, "--profile"),
        *[(f"seed={v}", {"--seed": v}, "--seed") for v in ("-1", "x", "1.5")],
        *[
            (f"dev-fraction={v}", {"--dev-fraction": v}, "--dev-fraction")
            for v in ("0", "0.9", "nan", "abc")
        ],
        ("new=0", {"--new": "0"}, "--new"),
        ("trials=0", {"--trials": "0"}, "--trials"),
    ],
    "run-notebooks": [
        ("profile=nope", {"--profile": "nope"}, "--profile"),
        *[(f"jobs={v}", {"--jobs": v}, "--jobs") for v in ("0", "-1")],
        *[(f"timeout={v}", {"--timeout": v}, "--timeout") for v in ("-5", "nan", "abc")],
        ("only=99", {"--only": "99"}, "99"),
        ("notebooks-dir-missing", {"--notebooks-dir": "{missing}"}, "no_such_folder"),
        ("parameter-PROFILE", {"-p": ["PROFILE", "paper"]}, "PROFILE"),
    ],
}


def _argv(command: str, changes: dict[str, ArgValue], ctx: Ctx) -> list[str]:
    options = {**BASE_ARGS[command], **changes}
    argv = [command]
    for name, value in options.items():
        if value is None:
            continue
        argv.append(name)
        argv.extend(_resolve(v, ctx) for v in ([value] if isinstance(value, str) else value))
    return argv


def cli_action(command: str, changes: dict[str, ArgValue]) -> Callable[[Ctx], CliResult]:
    def action(ctx: Ctx) -> CliResult:
        try:
            return synovis(_argv(command, changes, ctx), ctx.tmp)
        finally:
            if (ctx.tmp / "readonly").exists():
                (ctx.tmp / "readonly").chmod(0o755)
            _remove_probe(ctx)

    return action


def args_cases() -> list[Case]:
    cases = []
    for command, table in ARG_CASES.items():
        rows = list(table)
        rows += [
            (f"out-{name}", {"--out": value}, token)
            for name, value, token in OUT_CASES
            if name in OUT_CASES_FOR[command]
        ]
        for name, changes, token in rows:
            skip = (
                "running as root: a read-only folder is writable"
                if IS_ROOT and "read-only" in name
                else ""
            )
            cases.append(
                Case(
                    f"args/{command}/{name}",
                    "args",
                    cli_action(command, changes),
                    error(token),
                    skip,
                )
            )
    return cases


# ----------------------------------------------------------------------------- writers


def gen_args(out: Path, seed: int = 0, counts: int = 2, size: int = 32) -> list[Any]:
    return ["generate", "--out", out, "--seed", seed, "--size", size, "--counts", *[counts] * 4]


def clinic_args(out: Path, *extra: Any) -> list[Any]:
    return ["simulate-clinic", "--out", out, "--size", 32, *extra]


def train_args(ctx: Ctx, out: Path, *extra: Any) -> list[Any]:
    data, clinic = ctx.session.image_folder(), ctx.session.clinic_folder()
    return ["train", "--profile", "ci", "--out", out, "--data", data, "--clinic", clinic, *extra]


def cv_args(out: Path) -> list[Any]:
    return ["cv", "--profile", "ci", "--method", "centroid", "--out", out]


def out_of(result: CliResult) -> Path:
    return Path(result.argv[result.argv.index("--out") + 1])


OWN_RESULTS = {"metrics.json": b'{"my": "own numbers"}\n', "figures/confusion_trial0.png": b"mine"}
"""Files of the user's that share names with what ``synovis train`` writes."""


def onto_user_folder(
    args: Callable[[Ctx, Path], list[Any]], extra: dict[str, bytes] | None = None
) -> Callable[[Ctx], CliResult]:
    """Run a writer onto a folder of the user's own files; the files must survive."""

    def action(ctx: Ctx) -> CliResult:
        folder = ctx.tmp / "my_project"
        before = make_user_folder(folder, extra)
        result = synovis(args(ctx, folder), ctx.tmp)
        if problem := lost(before, folder):
            ctx.damage.append(problem)
        return result

    return action


def own_clinic_force(ctx: Ctx) -> CliResult:
    """``simulate-clinic --force`` onto the user's own clinical images and labels.csv."""
    from PIL import Image

    folder = ctx.tmp / "my_clinic"
    folder.mkdir()
    for name in ("scan1.png", "scan2.png"):
        Image.new("RGB", (40, 40), (90, 30, 30)).save(folder / name)
    (folder / "labels.csv").write_text(
        "image,patient_id,rater_1,rater_2\nscan1.png,A,1,1\nscan2.png,B,2,2\n", encoding="utf-8"
    )
    before = snapshot(folder)
    result = synovis(clinic_args(folder, "--force"), ctx.tmp)
    if problem := lost(before, folder):
        ctx.damage.append(problem)
    return result


def onto_earlier(
    fixture: str, args: Callable[[Ctx, Path], list[Any]], name: str = "results"
) -> Callable[[Ctx], CliResult]:
    """A writer onto a copy of an earlier synovis output (``image_folder`` or ``clinic``)."""

    def action(ctx: Ctx) -> CliResult:
        out = ctx.tmp / name
        shutil.copytree(getattr(ctx.session, f"{fixture}_folder")(), out)
        return synovis(args(ctx, out), ctx.tmp)

    return action


def into_empty(args: Callable[[Path], list[Any]]) -> Callable[[Ctx], CliResult]:
    def action(ctx: Ctx) -> CliResult:
        out = ctx.tmp / "new_empty"
        out.mkdir()
        return synovis(args(out), ctx.tmp)

    return action


def check_image_folder(result: CliResult) -> str | None:
    return image_folder_problem(out_of(result))[0]


def check_clinic_folder(result: CliResult) -> str | None:
    return clinic_folder_problem(out_of(result))


def check_regenerated(result: CliResult) -> str | None:
    """After generate (seed 0, 2 per grade) then generate (seed 1, 1 per grade): 4 new PNGs."""
    out = out_of(result)
    problem, seeds = image_folder_problem(out)
    if problem:
        return problem
    pngs = len(list(out.rglob("*.png")))
    if pngs != 4 or seeds != {1}:
        return f"{pngs} PNGs with seeds {sorted(seeds)} after the re-run (expected 4, seed 1)"
    return f"left {left} beside the folder" if (left := hidden_siblings(out)) else None


def train_twice(ctx: Ctx) -> CliResult:
    """Train with two trials, then with one into the same folder."""
    out = ctx.tmp / "run"
    require_ok(synovis(train_args(ctx, out, "--trials", 2), ctx.tmp), "first train (2 trials)")
    return synovis(train_args(ctx, out, "--trials", 1), ctx.tmp)


def check_retrained(result: CliResult) -> str | None:
    import pandas as pd

    out = out_of(result)
    if stale := sorted(p.name for p in (out / "figures").glob("*trial1*")):
        return f"figures of the earlier run's trial 1 remain: {stale}"
    trials = set(pd.read_csv(out / "predictions.csv")["trial"])
    return None if trials == {0} else f"predictions.csv holds trials {sorted(trials)}"


def concurrent_generate(existing: bool) -> Callable[[Ctx], str]:
    """Two ``generate`` runs (seeds 0 and 1) into one folder at the same moment: both
    succeed, or one is refused naming the folder and the lock; one complete output."""

    def action(ctx: Ctx) -> str:
        out = ctx.tmp / "train_images"
        if existing:
            shutil.copytree(ctx.session.image_folder(), out)
        started = time.monotonic()
        args = [gen_args(out, seed=s, counts=40, size=224) for s in (0, 1)]  # a second to write
        procs = [start_synovis(a, ctx.tmp) for a in args]
        results = [finish(p, started) for p in procs]
        for seed, r in enumerate(results):
            if r.timed_out or "Traceback" in r.stderr:
                raise CrashObserved(f"seed {seed}: {r.last_line}")
            text = r.stderr.lower()
            if r.rc != 0 and not (out.name in r.stderr and ("another" in text or "lock" in text)):
                raise CrashObserved(f"seed {seed} refused without naming the lock: {r.last_line}")
        winners = {seed for seed, r in enumerate(results) if r.rc == 0}
        if not winners:
            raise CrashObserved("both runs refused")
        problem, seeds = image_folder_problem(out)
        if problem or len(seeds) != 1 or not seeds <= winners:
            ctx.damage.append(problem or f"folder holds seeds {sorted(seeds)}, winners {winners}")
        if left := hidden_siblings(out):
            ctx.damage.append(f"left temporary folders {left}")
        return f"exit codes {[r.rc for r in results]}, folder from seed {sorted(seeds)}"

    return action


def wait_for_writing(out: Path, proc: subprocess.Popen, limit: float = 60.0) -> bool:
    """Wait until the writer's temporary folder ``.<name>*`` appears; False if it never did."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if hidden_siblings(out):
            return True
        time.sleep(0.01)
    return False


def kill_generate(seed: int, while_writing: bool) -> Callable[[Ctx], str]:
    """SIGKILL a ``generate`` replacing its own earlier output: ``seed`` draws the moment,
    0.2-3 s after the start, or 0-0.8 s after its temporary folder appears (writing its 160
    images at 224 px takes about a second)."""

    def action(ctx: Ctx) -> str:
        out = ctx.tmp / "train_images"
        shutil.copytree(ctx.session.image_folder(), out)
        rng = random.Random(seed)
        proc = start_synovis(gen_args(out, seed=1, counts=40, size=224), ctx.tmp)
        started = time.monotonic()
        if while_writing and not wait_for_writing(out, proc):
            raise CrashObserved("the writer never made a temporary folder")
        time.sleep(rng.uniform(0.0, 0.8) if while_writing else rng.uniform(0.2, 3.0))
        moment = time.monotonic() - started
        finished = proc.poll() is not None
        kill_group(proc)
        proc.communicate()
        problem, seeds = image_folder_problem(out)
        if problem or seeds not in ({0}, {1}):
            ctx.damage.append(f"after SIGKILL at {moment:.1f}s: {problem or sorted(seeds)}")
        state = "it had finished" if finished else f"left the {'old' if seeds == {0} else 'new'}"
        rerun = synovis(gen_args(out, seed=1, counts=40, size=224), ctx.tmp)
        if rerun.rc != 0:
            raise CrashObserved(f"re-run after SIGKILL failed: {rerun.last_line}")
        problem, seeds = image_folder_problem(out)
        if problem or seeds != {1}:
            ctx.damage.append(f"after the re-run: {problem or sorted(seeds)}")
        if left := hidden_siblings(out):
            ctx.damage.append(f"SIGKILL at {moment:.1f}s: {left} beside the folder after a re-run")
        return f"SIGKILL at {moment:.1f}s ({state} output)"

    return action


def writers_cases() -> list[Case]:
    refused = error("my_project")
    rows: list[tuple[str, Callable[[Ctx], Any], Expect]] = [
        ("generate-onto-user-folder", onto_user_folder(lambda c, o: gen_args(o)), refused),
        (
            "generate-force-onto-user-folder",
            onto_user_folder(lambda c, o: [*gen_args(o), "--force"]),
            error("my_project|--force"),
        ),
        (
            "simulate-clinic-onto-user-folder",
            onto_user_folder(lambda c, o: clinic_args(o)),
            refused,
        ),
        (
            "simulate-clinic-force-onto-user-folder",
            onto_user_folder(lambda c, o: clinic_args(o, "--force")),
            refused,
        ),
        ("simulate-clinic-force-onto-own-clinic-images", own_clinic_force, error("my_clinic")),
        ("train-onto-user-folder", onto_user_folder(train_args, OWN_RESULTS), refused),
        ("cv-onto-user-folder", onto_user_folder(lambda c, o: cv_args(o)), refused),
        (
            "generate-onto-simulate-clinic-output",
            onto_earlier("clinic", lambda c, o: gen_args(o)),
            error("results"),
        ),
        (
            "simulate-clinic-force-onto-generate-output",
            onto_earlier("image", lambda c, o: clinic_args(o, "--force")),
            error("results"),
        ),
        (
            "generate-into-empty-folder",
            into_empty(gen_args),
            ok(check_image_folder, "a complete image folder"),
        ),
        (
            "simulate-clinic-into-empty-folder",
            into_empty(clinic_args),
            ok(check_clinic_folder, "a complete clinic folder"),
        ),
        (
            "generate-rerun-fewer-counts",
            onto_earlier("image", lambda c, o: gen_args(o, seed=1, counts=1), "train_images"),
            ok(check_regenerated, "only the new images"),
        ),
        (
            "simulate-clinic-force-rerun",
            onto_earlier("clinic", lambda c, o: clinic_args(o, "--seed", 1, "--force"), "clinic"),
            ok(check_clinic_folder, "a complete clinic folder"),
        ),
        ("train-rerun-fewer-trials", train_twice, ok(check_retrained, "no stale figures")),
        (
            "concurrent-generate-new-folder",
            concurrent_generate(False),
            ok(what="one complete output"),
        ),
        (
            "concurrent-generate-over-own-output",
            concurrent_generate(True),
            ok(what="one complete output"),
        ),
        (
            "sigkill-generate-random-1",
            kill_generate(1, False),
            ok(what="old or new, then a clean re-run"),
        ),
        (
            "sigkill-generate-writing-2",
            kill_generate(2, True),
            ok(what="old or new, then a clean re-run"),
        ),
        (
            "sigkill-generate-writing-3",
            kill_generate(3, True),
            ok(what="old or new, then a clean re-run"),
        ),
    ]
    return [Case(f"writers/{name}", "writers", action, expect) for name, action, expect in rows]


# ----------------------------------------------------------------------------- csv

BASE_CSV = """image,patient_id,rater_1,rater_2,rater_3,true_grade
a.png,p1,0,0,,0
b.png,p1,1,2,2,2
c.png,p2,3,3,,3
d.png,p2,2,2,,2
e.png,p3,1,1,,1
f.png,p3,0,1,0,0
"""
BASE_CONSENSUS = [0, 2, 3, 2, 1, 0]
CLINIC_SIZE = 16


@dataclass
class Loaded:
    """What ``load_clinic`` returned, with the warnings it gave."""

    cohort: Any
    warnings: list[str]

    def __repr__(self) -> str:
        table = self.cohort.table
        consensus = ["-" if v is None or str(v) == "<NA>" else int(v) for v in table["consensus"]]
        return (
            f"{len(table)} images, columns {list(table.columns)}, consensus {consensus}, "
            f"{len(self.warnings)} warning(s)"
        )


def make_clinic(folder: Path, csv_text: str = BASE_CSV) -> None:
    """Six 16 px PNGs ``a.png`` .. ``f.png`` of different colours and a ``labels.csv``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate("abcdef"):
        Image.new("RGB", (CLINIC_SIZE, CLINIC_SIZE), (40 * i, 100, 200 - 30 * i)).save(
            folder / f"{name}.png"
        )
    (folder / "labels.csv").write_text(csv_text, encoding="utf-8")


def load(folder: Path, csv: Path | None = None) -> Loaded:
    from synovis_lib.clinic import load_clinic

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cohort = load_clinic(folder, csv, size=CLINIC_SIZE)
    return Loaded(cohort, [str(w.message) for w in caught])


def edit(old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    """Replace ``old`` by ``new`` in the folder's labels.csv (``count`` times; 0: all)."""

    def mutate(folder: Path) -> None:
        csv = folder / "labels.csv"
        text = csv.read_text(encoding="utf-8")
        if old not in text:
            raise SetupError(f"{old!r} is not in the base CSV")
        csv.write_text(text.replace(old, new, count if count else -1), encoding="utf-8")

    return mutate


def write_csv_bytes(data: bytes) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        (folder / "labels.csv").write_bytes(data)

    return mutate


def drop_column(name: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        lines = (folder / "labels.csv").read_text(encoding="utf-8").splitlines()
        k = lines[0].split(",").index(name)
        rows = [",".join(c for i, c in enumerate(line.split(",")) if i != k) for line in lines]
        (folder / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    return mutate


def then(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        for m in mutations:
            m(folder)

    return mutate


def replace_image(name: str, data: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        (folder / name).unlink()
        data(folder / name)

    return mutate


def truncated_png(path: Path) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def check_base(loaded: Loaded) -> str | None:
    import pandas as pd

    cohort = loaded.cohort
    if len(cohort) != 6 or cohort.images.shape != (6, CLINIC_SIZE, CLINIC_SIZE, 3):
        return f"{len(cohort)} rows, images {cohort.images.shape} (expected 6)"
    consensus = [None if pd.isna(v) else int(v) for v in cohort.table["consensus"].tolist()]
    if consensus != BASE_CONSENSUS:
        return f"consensus {consensus}, expected {BASE_CONSENSUS}"
    return None


def check_unscored_warned(loaded: Loaded) -> str | None:
    import pandas as pd

    cohort = loaded.cohort
    if len(cohort) != 6:
        return f"{len(cohort)} images loaded, 6 listed: unscored images dropped"
    pending = int(pd.isna(cohort.table["consensus"]).sum())
    if pending != 2:
        return f"{pending} images without consensus, expected the 2 disagreements"
    if not any(re.search(r"\b2\b", w) for w in loaded.warnings):
        return f"no warning counting the 2 unscored images (warnings: {loaded.warnings[:2]})"
    return None


def warned_about(name: str) -> Callable[[Loaded], str | None]:
    def check(loaded: Loaded) -> str | None:
        if problem := check_base(loaded):
            return problem
        return None if any(name in w for w in loaded.warnings) else f"no warning names {name!r}"

    return check


def check_patient_ids(loaded: Loaded) -> str | None:
    ids = list(loaded.cohort.table["patient_id"].astype(str))
    return None if ids[:2] == ["007", "007"] else f"patient ids read as {ids[:2]}, written 007"


def csv_action(
    mutate: Callable[[Path], None] | None, csv: str | None = None
) -> Callable[[Ctx], Loaded]:
    def action(ctx: Ctx) -> Loaded:
        folder = ctx.tmp / "clinic"
        make_clinic(folder)
        if mutate:
            mutate(folder)
        return load(folder, (folder / csv) if csv else None)

    return action


def outside_symlink(folder: Path) -> None:
    secret = folder.parent / "secret.png"
    shutil.copy(folder / "a.png", secret)
    (folder / "a.png").unlink()
    (folder / "a.png").symlink_to(secret)


def bad_suffix(suffix: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        from PIL import Image

        if suffix == ".gif":
            Image.new("P", (16, 16)).save(folder / "b.gif")
        else:
            (folder / f"b{suffix}").write_text("not an image", encoding="utf-8")
        edit("b.png", f"b{suffix}")(folder)

    return mutate


def train_unscored(ctx: Ctx) -> tuple[Path, int, int]:
    """``synovis train --clinic`` on the simulated clinic with the rater_3 column removed."""
    import pandas as pd

    clinic = ctx.tmp / "clinic_no_rater3"
    shutil.copytree(ctx.session.clinic_folder(), clinic)
    table = pd.read_csv(clinic / "labels.csv", dtype=str, keep_default_na=False)
    unscored = int((table["rater_1"] != table["rater_2"]).sum())
    table.drop(columns=["rater_3"]).to_csv(clinic / "labels.csv", index=False)
    out = ctx.tmp / "run"
    args = ["train", "--profile", "ci", "--out", out, "--data", ctx.session.image_folder()]
    result = synovis([*args, "--clinic", clinic], ctx.tmp)
    if result.rc != 0:
        raise CrashObserved(f"exit {result.rc}: {result.last_line}")
    return out, len(table), unscored


def _find_key(data: Any, key: str) -> Any:
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            if (found := _find_key(value, key)) is not None:
                return found
    return None


def check_train_unscored(found: tuple[Path, int, int]) -> str | None:
    import pandas as pd

    out, images, unscored = found
    predictions = pd.read_csv(out / "predictions.csv", dtype=str, keep_default_na=False)
    if len(predictions) != images:
        return f"predictions.csv has {len(predictions)} rows for {images} images (1 trial)"
    empty = predictions["reference"].str.strip() == ""
    if int(empty.sum()) != unscored:
        return f"{int(empty.sum())} rows with an empty reference, {unscored} unscored images"
    if "reason" not in predictions or (predictions.loc[empty, "reason"].str.strip() == "").any():
        return "no reason given for the unscored rows"
    counted = _find_key(json.loads((out / "metrics.json").read_text()), "unscored")
    return (
        None if counted == unscored else f"metrics.json unscored = {counted}, expected {unscored}"
    )


def csv_cases() -> list[Case]:
    rows: list[tuple[str, Callable[[Path], None] | None, Expect]] = [
        ("header-rater3", edit("rater_3", "rater3"), error("labels.csv", "rater3")),
        ("header-Rater_1", edit("rater_1", "Rater_1"), error("labels.csv", "rater_1")),
        ("header-rater-space-2", edit("rater_2", "rater 2"), error("labels.csv", "rater_2")),
        ("header-Image", edit("image,", "Image,"), error("labels.csv", "image")),
        ("header-patientid", edit("patient_id", "patientid"), error("labels.csv", "patient_id")),
        ("header-True-Grade", edit("true_grade", "True Grade"), error("labels.csv", "True Grade")),
        ("semicolons", edit(",", ";", 0), error("labels.csv")),
        (
            "utf8-bom",
            write_csv_bytes(b"\xef\xbb\xbf" + BASE_CSV.encode()),
            ok(check_base, "as without"),
        ),
        ("blank-lines", edit("\nc.png", "\n\n\nc.png"), ok(check_base, "as without")),
        (
            "crlf-line-ends",
            write_csv_bytes(BASE_CSV.replace("\n", "\r\n").encode()),
            ok(check_base, "as without"),
        ),
        ("excel-trailing-commas", edit("\n", ",,\n", 0), ok(check_base, "as without")),
        (
            "spaces-around-grades",
            edit("c.png,p2,3,3", "c.png,p2, 3 ,3 "),
            ok(check_base, "as without"),
        ),
        ("grade-2.0", edit("d.png,p2,2,2", "d.png,p2,2.0,2.0"), ok(check_base, "2.0 read as 2")),
        (
            "quoted-fields",
            edit("e.png,p3,1,1", '"e.png","p3","1","1"'),
            ok(check_base, "as without"),
        ),
        (
            "patient-id-leading-zeros",
            edit("p1,", "007,", 0),
            ok(check_patient_ids, "patient 007 kept as 007"),
        ),
        ("missing-required-column", drop_column("rater_2"), error("labels.csv", "rater_2")),
        (
            "extra-unknown-column",
            edit("true_grade\n", "true_grade,notes\n"),
            either(("labels.csv", "notes"), warned_about("notes"), "loaded, a warning names it"),
        ),
        (
            "duplicate-header",
            edit("rater_2,rater_3", "rater_1,rater_3"),
            error("labels.csv", "rater_1"),
        ),
        (
            "row-with-extra-fields",
            edit("c.png,p2,3,3,,3", "c.png,p2,3,3,,3,9,9"),
            error("labels.csv", "c.png|row 3|line 4"),
        ),
        ("duplicate-image", edit("c.png", "a.png"), error("labels.csv", "a.png")),
        ("duplicate-image-dot-slash", edit("c.png", "./a.png"), error("labels.csv", "a.png")),
        ("grade-4", edit("c.png,p2,3,3", "c.png,p2,4,3"), error("labels.csv", "rater_1")),
        ("grade-minus-1", edit("c.png,p2,3,3", "c.png,p2,3,-1"), error("labels.csv", "rater_2")),
        ("grade-1.5", edit("c.png,p2,3,3", "c.png,p2,1.5,3"), error("labels.csv", "rater_1")),
        ("grade-two", edit("c.png,p2,3,3", "c.png,p2,two,3"), error("labels.csv", "rater_1")),
        ("grade-NaN-text", edit("c.png,p2,3,3", "c.png,p2,NaN,3"), error("labels.csv", "rater_1")),
        (
            "rater3-nan-text",
            edit("f.png,p3,0,1,0", "f.png,p3,0,1,nan"),
            error("labels.csv", "rater_3"),
        ),
        (
            "true-grade-5",
            edit("c.png,p2,3,3,,3", "c.png,p2,3,3,,5"),
            error("labels.csv", "true_grade"),
        ),
        (
            "empty-required-grade",
            edit("c.png,p2,3,3", "c.png,p2,,3"),
            error("labels.csv", "rater_1"),
        ),
        ("empty-patient-id", edit("c.png,p2", "c.png,"), error("labels.csv", "patient_id")),
        ("empty-image-name", edit("c.png,p2", ",p2"), error("labels.csv", "image")),
        (
            "rater3-partly-missing",
            edit("f.png,p3,0,1,0", "f.png,p3,0,1,"),
            error("labels.csv", "rater_3"),
        ),
        (
            "rater3-column-absent",
            drop_column("rater_3"),
            ok(check_unscored_warned, "all 6 kept, a warning counts 2"),
        ),
        ("absolute-image-path", None, error("labels.csv")),
        (
            "dotdot-image-path",
            then(
                lambda f: shutil.copy(f / "a.png", f.parent / "outside.png"),
                edit("a.png", "../outside.png"),
            ),
            error("labels.csv", "../outside.png"),
        ),
        ("symlink-outside-folder", outside_symlink, error("labels.csv", "a.png")),
        ("missing-image-file", edit("c.png", "zzz.png"), error("labels.csv", "zzz.png")),
        ("case-mismatched-name", edit("c.png", "C.PNG"), error("labels.csv", "C.PNG")),
        ("suffix-gif", bad_suffix(".gif"), error("labels.csv", "b.gif")),
        ("suffix-txt", bad_suffix(".txt"), error("labels.csv", "b.txt")),
        ("truncated-png", replace_image("c.png", truncated_png), error("labels.csv", "c.png")),
        (
            "text-file-named-png",
            replace_image("c.png", lambda p: p.write_text("hello")),
            error("labels.csv", "c.png"),
        ),
        ("empty-csv", write_csv_bytes(b""), error("labels.csv")),
        (
            "header-only",
            write_csv_bytes(BASE_CSV.splitlines()[0].encode() + b"\n"),
            error("labels.csv"),
        ),
        (
            "latin1-csv",
            write_csv_bytes(BASE_CSV.replace("p1", "Jos\xe9").encode("latin-1")),
            error("labels.csv"),
        ),
        ("no-labels-csv", lambda f: (f / "labels.csv").unlink(), error("labels.csv")),
    ]
    cases = []
    for name, mutate, expect in rows:
        action = csv_action(mutate)
        if name == "absolute-image-path":
            action = _absolute_path_case
            expect = error("labels.csv", "/a.png")
        cases.append(Case(f"csv/{name}", "csv", action, expect))
    cases += [
        Case(
            "csv/csv-is-a-folder",
            "csv",
            csv_action(lambda f: (f / "sub.csv").mkdir(), "sub.csv"),
            error("sub.csv"),
        ),
        Case(
            "csv/image-folder-missing",
            "csv",
            lambda ctx: load(ctx.tmp / "no_such_clinic"),
            error("no_such_clinic"),
        ),
        Case(
            "csv/train-clinic-without-rater3",
            "csv",
            train_unscored,
            ok(
                check_train_unscored,
                "every image predicted; unscored rows with a reason; metrics count them",
            ),
        ),
    ]
    return cases


def _absolute_path_case(ctx: Ctx) -> Loaded:
    folder = ctx.tmp / "clinic"
    make_clinic(folder)
    edit("a.png", str(folder / "a.png"))(folder)
    return load(folder)


# ----------------------------------------------------------------------------- images

PICTURE_SIZE = 64


def picture() -> Any:
    """A smooth RGB picture with an off-centre block, so a rotation cannot pass for upright."""
    import numpy as np

    n = PICTURE_SIZE
    y, x = np.mgrid[0:n, 0:n].astype(float)
    rgb = np.stack([128 + 90 * np.sin(x / 9.0), 40 + 3 * y, 200 - 1.5 * (x + y)], axis=-1)
    rgb[4:14, 4:24] = (230, 220, 40)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def grey_gradient(low: float, high: float, dtype: str) -> Any:
    import numpy as np

    row = np.linspace(low, high, PICTURE_SIZE)
    return np.round(np.tile(row, (PICTURE_SIZE, 1))).astype(dtype)


def _rgb(grey: Any) -> Any:
    import numpy as np

    return np.repeat(np.asarray(grey)[..., None], 3, axis=-1)


def _scaled(grey: Any, full: float) -> Any:
    import numpy as np

    return _rgb(np.round(np.asarray(grey, dtype=float) * 255.0 / full).astype(np.uint8))


@dataclass(frozen=True)
class Picture:
    """A file to write and the RGB array it should read as."""

    suffix: str
    write: Callable[[Path], None]
    expected: Callable[[], Any]
    tolerance: str
    """``exact``, ``rounding`` (max abs diff <= 1) or ``jpeg`` (mean abs diff < 3)."""


def _save(array_fn: Callable[[], Any], **options: Any) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from PIL import Image

        Image.fromarray(array_fn()).save(path, **options)

    return write


def _exif_rotated(path: Path) -> None:
    """The picture stored turned 90 degrees anticlockwise, tagged orientation 6 (a viewer
    turns it clockwise, upright again), as phones and some scanners export."""
    import numpy as np
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    stored = np.ascontiguousarray(np.rot90(picture()))
    Image.fromarray(stored).save(path, format="JPEG", quality=95, exif=exif.tobytes())


def _palette(path: Path) -> None:
    from PIL import Image

    Image.fromarray(picture()).quantize(colors=64).save(path, format="PNG")


def _palette_expected() -> Any:
    import numpy as np
    from PIL import Image

    return np.asarray(Image.fromarray(picture()).quantize(colors=64).convert("RGB"))


def _rgba(path: Path) -> None:
    import numpy as np
    from PIL import Image

    rgba = np.concatenate([picture(), np.full((PICTURE_SIZE, PICTURE_SIZE, 1), 255, np.uint8)], -1)
    Image.fromarray(rgba, mode="RGBA").save(path, format="PNG")


def _grey16(values: Callable[[], Any]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from PIL import Image

        Image.fromarray(values().astype("uint16")).save(path, format="PNG")

    return write


def _grey16_const() -> Any:
    import numpy as np

    return np.full((PICTURE_SIZE, PICTURE_SIZE), 30000, dtype=np.uint16)


PICTURES: dict[str, Picture] = {
    "png-rgb": Picture(".png", _save(picture, format="PNG"), picture, "exact"),
    "jpeg-q95": Picture(".jpg", _save(picture, format="JPEG", quality=95), picture, "jpeg"),
    "jpeg-exif-orientation-6": Picture(".jpg", _exif_rotated, picture, "jpeg"),
    "png-grey8-constant-128": Picture(
        ".png",
        _save(lambda: grey_gradient(128, 128, "uint8"), format="PNG"),
        lambda: _rgb(grey_gradient(128, 128, "uint8")),
        "exact",
    ),
    "png-grey8-gradient": Picture(
        ".png",
        _save(lambda: grey_gradient(20, 200, "uint8"), format="PNG"),
        lambda: _rgb(grey_gradient(20, 200, "uint8")),
        "exact",
    ),
    "png-grey16-constant": Picture(
        ".png", _grey16(_grey16_const), lambda: _scaled(_grey16_const(), 65535), "rounding"
    ),
    "png-grey16-gradient": Picture(
        ".png",
        _grey16(lambda: grey_gradient(1000, 20000, "uint16")),
        lambda: _scaled(grey_gradient(1000, 20000, "uint16"), 65535),
        "rounding",
    ),
    "png-rgba-opaque": Picture(".png", _rgba, picture, "exact"),
    "png-palette": Picture(".png", _palette, _palette_expected, "exact"),
}


def write_dicom(
    path: Path, pixels: Any, photometric: str, bits_stored: int = 8, frames: int = 1
) -> None:
    """A minimal secondary-capture DICOM file (pydicom), uncompressed."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    rows, columns = pixels.shape[-3:-1] if photometric == "RGB" else pixels.shape[-2:]
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 3 if photometric == "RGB" else 1
    ds.PhotometricInterpretation = photometric
    if photometric == "RGB":
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if bits_stored == 8 else 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)


def _dicom(
    pixels: Callable[[], Any], photometric: str, bits: int = 8, frames: int = 1
) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import numpy as np

        data = pixels()
        if frames > 1:
            data = np.stack([data] * frames)
        write_dicom(path, data, photometric, bits, frames)

    return write


DICOMS: dict[str, Picture] = {
    "dicom-rgb-8bit": Picture(".dcm", _dicom(picture, "RGB"), picture, "exact"),
    "dicom-monochrome2-8bit": Picture(
        ".dcm",
        _dicom(lambda: grey_gradient(20, 200, "uint8"), "MONOCHROME2"),
        lambda: _rgb(grey_gradient(20, 200, "uint8")),
        "exact",
    ),
    "dicom-monochrome1-8bit": Picture(
        ".dcm",
        _dicom(lambda: grey_gradient(20, 200, "uint8"), "MONOCHROME1"),
        lambda: _rgb(255 - grey_gradient(20, 200, "uint8")),
        "exact",
    ),
    "dicom-monochrome2-12bit": Picture(
        ".dcm",
        _dicom(lambda: grey_gradient(100, 3000, "uint16"), "MONOCHROME2", bits=12),
        lambda: _scaled(grey_gradient(100, 3000, "uint16"), 4095),
        "rounding",
    ),
}


def compare(got: Any, expected: Any, tolerance: str) -> str | None:
    import numpy as np

    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape}"
    diff = np.abs(got.astype(int) - expected.astype(int))
    if tolerance == "jpeg":
        mean = float(diff.mean())
        return None if mean < 3 else f"mean abs diff {mean:.1f} (allowed < 3)"
    allowed = 0 if tolerance == "exact" else 1
    worst = int(diff.max())
    if worst <= allowed:
        return None
    return f"max abs diff {worst} (allowed {allowed}); read {int(got.mean())} on average, expected {int(expected.mean())}"


def via_load_clinic(picture_: Picture) -> Callable[[Ctx], Any]:
    def action(ctx: Ctx) -> Any:
        from synovis_lib.clinic import load_clinic

        folder = ctx.tmp / "clinic"
        folder.mkdir()
        name = f"x{picture_.suffix}"
        picture_.write(folder / name)
        (folder / "labels.csv").write_text(
            f"image,patient_id,rater_1,rater_2\n{name},p1,0,0\n", encoding="utf-8"
        )
        return load_clinic(folder, size=PICTURE_SIZE).images[0]

    return action


def via_image_folder(picture_: Picture) -> Callable[[Ctx], Any]:
    def action(ctx: Ctx) -> Any:
        from synovis_lib.imagefolder import read_image_folder

        folder = ctx.tmp / "drawings"
        (folder / "grade_0").mkdir(parents=True)
        picture_.write(folder / "grade_0" / f"x{picture_.suffix}")
        return read_image_folder(folder).images[0]

    return action


def images_cases() -> list[Case]:
    cases = []

    def check(picture_: Picture) -> Callable[[Any], str | None]:
        return lambda got: compare(got, picture_.expected(), picture_.tolerance)

    for name, pic in PICTURES.items():
        what = f"{pic.tolerance} match"
        cases.append(
            Case(f"images/load_clinic/{name}", "images", via_load_clinic(pic), ok(check(pic), what))
        )
        cases.append(
            Case(
                f"images/image_folder/{name}", "images", via_image_folder(pic), ok(check(pic), what)
            )
        )
    for name, pic in DICOMS.items():
        cases.append(
            Case(
                f"images/load_clinic/{name}",
                "images",
                via_load_clinic(pic),
                ok(check(pic), f"{pic.tolerance} match"),
            )
        )
    multi = Picture(".dcm", _dicom(picture, "RGB", frames=3), picture, "exact")
    cases.append(
        Case(
            "images/load_clinic/dicom-multi-frame", "images", via_load_clinic(multi), error("x.dcm")
        )
    )
    return cases


# ----------------------------------------------------------------------------- scenes

SCENE_BASE = "g1_single_spot"
"""A shipped scene with a vessel, so every layer has fields to break."""


def scene_dict() -> dict[str, Any]:
    from synovis_lib.synth import basic_scene

    data = json.loads(basic_scene(SCENE_BASE).to_json())
    if not data["layers"]["vascularity"]["vessels"]:
        raise SetupError(f"{SCENE_BASE} has no vessel")
    return data


def numeric_fields() -> list[tuple[tuple[Any, ...], tuple[str, ...]]]:
    """Every numeric field of every layer: its path in the scene dict and the tokens a
    message about it must hold (the layer, or ``vessels[0]``, and the field)."""
    layers = scene_dict()["layers"]
    fields = []
    for layer in ("joint_tissue", "bone_surface"):
        for name in layers[layer]:
            if name != "transform":
                fields.append((("layers", layer, name), (layer, name)))
    vessel = layers["vascularity"]["vessels"][0]
    for name, value in vessel.items():
        if isinstance(value, int | float):
            fields.append((("layers", "vascularity", "vessels", 0, name), ("vessels[0]", name)))
    for layer in ("joint_tissue", "bone_surface", "vascularity"):
        for name in layers[layer]["transform"]:
            fields.append((("layers", layer, "transform", name), (layer, "transform", name)))
    return fields


def with_value(path: Sequence[Any], value: Any) -> dict[str, Any]:
    data = scene_dict()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def scene_from_dict(data: Any) -> Callable[[Ctx], Any]:
    def action(ctx: Ctx) -> Any:
        from synovis_lib.synth import Scene

        return Scene.from_dict(data)

    return action


def scene_from_json(text: str, source: str = "scene") -> Callable[[Ctx], Any]:
    def action(ctx: Ctx) -> Any:
        from synovis_lib.synth import Scene

        return Scene.from_json(text, source=source)

    return action


def scene_load(content: bytes | str, name: str = "my_scene.json") -> Callable[[Ctx], Any]:
    def action(ctx: Ctx) -> Any:
        from synovis_lib.synth import Scene

        path = ctx.tmp / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return Scene.load(path)

    return action


REPRESENTATIVE: list[tuple[tuple[Any, ...], tuple[str, ...], list[tuple[str, Any]]]] = [
    (
        ("layers", "joint_tissue", "skin_y"),
        ("joint_tissue", "skin_y"),
        [
            ("1e300", 1e300),
            ("negative", -0.2),
            ("string", "0.04"),
            ("bool", True),
            ("null", None),
        ],
    ),
    (
        ("layers", "bone_surface", "joint_x"),
        ("bone_surface", "joint_x"),
        [
            ("1e300", 1e300),
            ("negative", -0.3),
            ("string", "0.6"),
            ("bool", False),
            ("null", None),
        ],
    ),
    (
        ("layers", "vascularity", "vessels", 0, "rx"),
        ("vessels[0]", "rx"),
        [
            ("1e300", 1e300),
            ("negative", -0.01),
            ("string", "big"),
            ("bool", True),
            ("null", None),
        ],
    ),
    (
        ("layers", "vascularity", "transform", "angle"),
        ("vascularity", "transform", "angle"),
        [
            ("1e300", 1e300),
            ("negative", -90.0),
            ("string", "10"),
            ("bool", True),
            ("null", None),
        ],
    ),
]


def round_trip(ctx: Ctx) -> list[str]:
    """The shipped scenes whose dict or JSON form does not rebuild them exactly."""
    from synovis_lib.synth import Scene, load_basic_scenes

    return [
        s.id
        for s in load_basic_scenes()
        if Scene.from_dict(s.to_dict()) != s or Scene.from_json(s.to_json()) != s
    ]


def save_bad_scene(how: str) -> Callable[[Ctx], Path]:
    """``Scene.save`` of a scene carrying a non-finite number (set past the checks)."""

    def action(ctx: Ctx) -> Path:
        from synovis_lib.synth import Scene

        scene = Scene.from_dict(scene_dict())
        if how == "replace-nan":
            scene = dataclasses.replace(
                scene, joint_tissue=dataclasses.replace(scene.joint_tissue, recess_offset=math.nan)
            )
        else:
            object.__setattr__(scene.bone_surface.transform, "scale", math.inf)
        return scene.save(ctx.tmp / "bad_scene.json")

    return action


def check_strict_json(path: Path) -> str | None:
    text = Path(path).read_text(encoding="utf-8")

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError as exc:
        return f"wrote {exc} into {Path(path).name} (not JSON other tools read)"
    return None


def escape_image_folder(image_id: str) -> Callable[[Ctx], Path]:
    """write_image_folder of a training set whose second image's provenance id is a path."""

    def action(ctx: Ctx) -> Path:
        import numpy as np
        import pandas as pd

        from synovis_lib.imagefolder import write_image_folder
        from synovis_lib.synth import TrainingSet

        provenance = pd.DataFrame([{"id": "art_g0_0000", "grade": 0}, {"id": image_id, "grade": 0}])
        training_set = TrainingSet(np.zeros((2, 8, 8, 3), np.uint8), np.array([0, 0]), provenance)
        out = ctx.tmp / "a" / "b" / "c" / "out"
        try:
            return write_image_folder(training_set, out)
        finally:
            strays = [
                p.relative_to(ctx.tmp).as_posix()
                for p in ctx.tmp.rglob("*.png")
                if not p.resolve().is_relative_to(out.resolve())
            ]
            if strays:
                ctx.damage.append(f"wrote {strays} outside the output folder")

    return action


def scenes_cases() -> list[Case]:
    cases = []
    non_finite = [("NaN", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf)]
    for k, (path, tokens) in enumerate(numeric_fields()):  # each field one of the three
        value_name, value = non_finite[k % 3]
        label = f"{value_name}/" + ".".join(str(p) for p in path[1:])
        if value_name == "Infinity":
            action = scene_from_dict(with_value(path, value))
            cases.append(Case(f"scenes/from_dict/{label}", "scenes", action, error(*tokens)))
        else:
            action = scene_from_json(json.dumps(with_value(path, value)))
            cases.append(Case(f"scenes/from_json/{label}", "scenes", action, error(*tokens)))
    for path, tokens, values in REPRESENTATIVE:
        label = ".".join(str(p) for p in path[1:])
        for value_name, value in values:
            content = json.dumps(with_value(path, value))
            cases.append(
                Case(
                    f"scenes/load/{value_name}/{label}",
                    "scenes",
                    scene_load(content),
                    error("my_scene.json", *tokens),
                )
            )
    base = scene_dict()
    misc: list[tuple[str, Callable[[Ctx], Any], Expect]] = [
        ("from_dict/unknown-top-field", scene_from_dict(base | {"colour": "red"}), error("colour")),
        (
            "from_dict/unknown-layer",
            scene_from_dict(with_value(("layers", "doppler"), {})),
            error("doppler"),
        ),
        (
            "from_dict/unknown-layer-field",
            scene_from_dict(with_value(("layers", "joint_tissue", "thickness"), 0.1)),
            error("thickness"),
        ),
        (
            "from_dict/unknown-vessel-field",
            scene_from_dict(with_value(("layers", "vascularity", "vessels", 0, "radius"), 0.1)),
            error("radius"),
        ),
        (
            "from_dict/unknown-transform-field",
            scene_from_dict(with_value(("layers", "bone_surface", "transform", "rotation"), 5)),
            error("rotation"),
        ),
        (
            "from_dict/vessel-kind-blob",
            scene_from_dict(with_value(("layers", "vascularity", "vessels", 0, "kind"), "blob")),
            error("kind"),
        ),
        (
            "from_dict/vessels-not-a-list",
            scene_from_dict(with_value(("layers", "vascularity", "vessels"), {"x": 0.5})),
            error("vessels"),
        ),
        ("from_dict/grade-string", scene_from_dict(base | {"grade": "2"}), error("grade")),
        ("from_dict/grade-bool", scene_from_dict(base | {"grade": True}), error("grade")),
        ("from_dict/id-dotdot-path", scene_from_dict(base | {"id": "../../../X"}), error("id")),
        ("from_dict/id-slash", scene_from_dict(base | {"id": "a/b"}), error("id")),
        ("from_dict/id-empty", scene_from_dict(base | {"id": ""}), error("id")),
        ("from_dict/id-dot", scene_from_dict(base | {"id": "."}), error("id")),
        ("from_dict/id-300-chars", scene_from_dict(base | {"id": "x" * 300}), error("id")),
        ("from_dict/id-number", scene_from_dict(base | {"id": 7}), error("id")),
        ("from_json/not-an-object", scene_from_json("[1, 2]", "list.json"), error("list.json")),
        (
            "from_json/deeply-nested",
            scene_from_json("[" * 100_000, "deep.json"),
            error("deep.json"),
        ),
        ("load/truncated-json", scene_load(json.dumps(base)[:200]), error("my_scene.json")),
        ("load/empty-file", scene_load(b""), error("my_scene.json")),
        (
            "load/non-utf8-bytes",
            scene_load(
                json.dumps(base | {"description": "caf\xe9"}, ensure_ascii=False).encode("latin-1")
            ),
            error("my_scene.json"),
        ),
        (
            "load/over-2MB",
            scene_load(json.dumps(base | {"description": "x" * 2_200_000})),
            error("my_scene.json"),
        ),
        ("load/missing-file", lambda ctx: _load_missing(ctx), error("nowhere.json")),
        (
            "round-trip-shipped-scenes",
            round_trip,
            ok(lambda bad: f"round trip changes {bad}" if bad else None, "s rebuilt exactly"),
        ),
        (
            "save/replace-NaN",
            save_bad_scene("replace-nan"),
            either(("recess_offset",), check_strict_json, "no NaN in the file"),
        ),
        (
            "save/setattr-Infinity",
            save_bad_scene("setattr-inf"),
            either(("scale",), check_strict_json, "no Infinity in the file"),
        ),
        ("write_image_folder/id-dotdot", escape_image_folder("../../../X"), error("../../../X")),
        ("write_image_folder/id-slash", escape_image_folder("a/b"), error("a/b")),
    ]
    cases += [Case(f"scenes/{name}", "scenes", action, expect) for name, action, expect in misc]
    return cases


def _load_missing(ctx: Ctx) -> Any:
    from synovis_lib.synth import Scene

    return Scene.load(ctx.tmp / "nowhere.json")


# ----------------------------------------------------------------------------- cache


@contextlib.contextmanager
def cache_env(root: Path) -> Iterator[None]:
    old = os.environ.get("SYNOVIS_CACHE")
    os.environ["SYNOVIS_CACHE"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SYNOVIS_CACHE", None)
        else:
            os.environ["SYNOVIS_CACHE"] = old


@dataclass
class CacheRun:
    value: Any
    builds: list[int]
    listing: list[str]
    again: Any


def _json_save(value: Any, path: Path) -> None:
    from synovis_lib import files

    files.write_json(path, value)


def _npy_save(value: Any, path: Path) -> None:
    import numpy as np

    from synovis_lib import files

    with files.atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, value)


def _npy_load(path: Path) -> Any:
    import numpy as np

    return np.load(path, allow_pickle=False)


def damaged_entry(damage: Callable[[Path], None], npy: bool = False) -> Callable[[Ctx], CacheRun]:
    """Cache a value, damage the entry on disk, then ask again (and a third time)."""

    def action(ctx: Ctx) -> CacheRun:
        import numpy as np

        from synovis_lib import cache, files

        save, load_ = (_npy_save, _npy_load) if npy else (_json_save, files.read_json)
        builds: list[int] = []

        def build(n: int) -> Callable[[], Any]:
            def make() -> Any:
                builds.append(n)
                return np.arange(1000) * n if npy else {"value": n, "pad": "x" * 200}

            return make

        params = {"case": "damaged", "npy": npy}
        with cache_env(ctx.tmp / "cache"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cache.cached("probe", params, build(1), save, load_)
            damage(cache.cache_path("probe", params))
            value = cache.cached("probe", params, build(2), save, load_)
            again = cache.cached("probe", params, build(3), save, load_)
            listing = sorted(p.name for p in cache.cache_path("probe", params).parent.iterdir())
        return CacheRun(value, builds, listing, again)

    return action


def check_rebuilt(run: CacheRun) -> str | None:
    import numpy as np

    fresh = run.value["value"] if isinstance(run.value, dict) else int(run.value[1])
    if fresh != 2:
        return f"returned the value of build {fresh}, not the fresh build"
    if run.builds != [1, 2]:
        return f"builds {run.builds}: the rebuilt entry was not stored"
    if not np.array_equal(
        np.asarray(run.again if not isinstance(run.again, dict) else 0),
        np.asarray(run.value if not isinstance(run.value, dict) else 0),
    ):
        return "the third call returned something else"
    if not any("corrupt" in name for name in run.listing):
        return f"the damaged entry was not kept aside (kind folder: {run.listing})"
    return None


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _into_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "junk").write_text("x", encoding="utf-8")


def failing_build(ctx: Ctx) -> CacheRun:
    """A build that raises: no entry may remain, and the next call builds."""
    from synovis_lib import cache, files

    params = {"case": "failing"}
    with cache_env(ctx.tmp / "cache"):

        def boom() -> Any:
            raise RuntimeError("build failed")

        with contextlib.suppress(RuntimeError):
            cache.cached("probe", params, boom, _json_save, files.read_json)
        listing = sorted(p.name for p in cache.cache_path("probe", params).parent.iterdir())
        value = cache.cached("probe", params, lambda: {"value": 2}, _json_save, files.read_json)
    return CacheRun(value, [], listing, None)


def check_failing_build(run: CacheRun) -> str | None:
    if run.listing:
        return f"entries left after a failed build: {run.listing}"
    return None if run.value == {"value": 2} else f"next call returned {run.value}"


def interrupted_save(ctx: Ctx) -> CacheRun:
    """A save that writes half an entry in place and fails (a non-atomic saver, a full disk)."""
    from synovis_lib import cache, files

    params = {"case": "interrupted"}

    def half_save(value: Any, path: Path) -> None:
        path.write_text('{"value": 1, "pa', encoding="utf-8")
        raise OSError("No space left on device")

    with cache_env(ctx.tmp / "cache"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(OSError):
            cache.cached("probe", params, lambda: {"value": 1}, half_save, files.read_json)
        value = cache.cached("probe", params, lambda: {"value": 2}, _json_save, files.read_json)
        listing = sorted(p.name for p in cache.cache_path("probe", params).parent.iterdir())
    return CacheRun(value, [1, 2], listing, value)


def cache_root_is_file(ctx: Ctx) -> Any:
    from synovis_lib import cache, files

    (ctx.tmp / "cache_file").write_text("not a folder", encoding="utf-8")
    with cache_env(ctx.tmp / "cache_file"):
        return cache.cached("probe", {"case": "file"}, lambda: 1, _json_save, files.read_json)


def cache_cases() -> list[Case]:
    rebuilt = ok(
        check_rebuilt, "damaged entry set aside as *corrupt*, fresh build returned and stored"
    )
    return [
        Case("cache/json-entry-truncated", "cache", damaged_entry(_truncate), rebuilt),
        Case(
            "cache/json-entry-empty", "cache", damaged_entry(lambda p: p.write_bytes(b"")), rebuilt
        ),
        Case(
            "cache/json-entry-garbage",
            "cache",
            damaged_entry(lambda p: p.write_bytes(bytes(range(256)))),
            rebuilt,
        ),
        Case("cache/npy-entry-truncated", "cache", damaged_entry(_truncate, npy=True), rebuilt),
        Case("cache/entry-is-a-folder", "cache", damaged_entry(_into_folder), rebuilt),
        Case(
            "cache/build-raises", "cache", failing_build, ok(check_failing_build, "no entry left")
        ),
        Case(
            "cache/save-interrupted-half-written",
            "cache",
            interrupted_save,
            ok(
                lambda r: (
                    None
                    if r.value == {"value": 2} and any("corrupt" in n for n in r.listing)
                    else f"value {r.value}, folder {r.listing}"
                ),
                "half entry set aside, rebuilt",
            ),
        ),
        Case("cache/SYNOVIS_CACHE-is-a-file", "cache", cache_root_is_file, error("cache_file")),
    ]


# ----------------------------------------------------------------------------- classification


def has_tokens(text: str, tokens: Sequence[str]) -> str | None:
    """The first token missing from ``text``, or ``None``. A token matches as a whole word
    where it starts or ends with a word character; ``a|b`` matches either."""
    for token in tokens:
        if not any(re.search(_token_pattern(t), text) for t in token.split("|")):
            return token
    return None


def _token_pattern(token: str) -> str:
    pattern = re.escape(token)
    if re.match(r"\w", token):
        pattern = r"(?<!\w)" + pattern
    if re.search(r"\w$", token):
        pattern += r"(?!\w)"
    return pattern


RAW_OS_ERROR = re.compile(r"\[Errno \d+\]")


@dataclass
class Record:
    id: str
    category: str
    expected: str
    outcome: str
    message: str
    seconds: float


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _short(value: Any) -> str:
    if isinstance(getattr(value, "id", None), str) and hasattr(value, "grade"):
        return f"{type(value).__name__}(id={value.id!r}, ...)"  # a scene: its id says enough
    text = " ".join((value if isinstance(value, str) else repr(value)).split())
    return text if len(text) < 200 else text[:197] + "..."


def _check(expect: Expect, value: Any) -> str | None:
    """The case's check on a result; a check that cannot even read the result fails it."""
    if expect.check is None:
        return None
    try:
        return expect.check(value)
    except Exception as exc:
        return f"result unusable: {first_line(exc)}"


def classify_cli(expect: Expect, result: CliResult) -> tuple[str, str]:
    line = result.last_line
    if result.timed_out:
        return "crash", f"timed out after {result.seconds:.0f} s: {line}"
    if expect.kind == "error" or (expect.kind == "either" and result.rc != 0):
        if result.rc == 0:
            return "silent", f"exit 0: {line}"
        if "Traceback" in result.stderr:
            return "crash", f"traceback: {line}"
        if missing := has_tokens(result.stderr, expect.tokens):
            return "crash", f"exit {result.rc}, stderr lacks {missing!r}: {line}"
        if RAW_OS_ERROR.search(line):
            return "crash", f"raw OS error: {line}"
        return "clear", line
    if result.rc != 0:
        return "crash", f"exit {result.rc}: {line}"
    problem = _check(expect, result)
    return ("silent", problem) if problem else ("handled", line)


def classify(
    case: Case, value: Any, exc: BaseException | None, damage: list[str]
) -> tuple[str, str]:
    expect = case.expect
    if damage:
        detail = (
            value.last_line if isinstance(value, CliResult) else (first_line(exc) if exc else "")
        )
        return "half", "; ".join(damage) + (f" [{detail}]" if detail else "")
    if exc is not None:
        message = first_line(exc)
        if expect.kind == "ok" or isinstance(exc, CrashObserved):
            return "crash", message
        if not isinstance(exc, USER_ERRORS):
            return "crash", message
        if missing := has_tokens(message, expect.tokens):
            return "crash", f"lacks {missing!r}: {message}"
        if RAW_OS_ERROR.search(message):
            return "crash", f"raw OS error: {message}"
        return "clear", message
    if isinstance(value, CliResult):
        return classify_cli(expect, value)
    if expect.kind == "error":
        return "silent", f"no error; returned {_short(value)}"
    problem = expect.check(value) if expect.check else None
    return (
        ("silent", problem)
        if problem
        else ("handled", _short(value) if isinstance(value, str) else "ok")
    )


def run_case(case: Case, session: Session) -> Record:
    if case.skip:
        return Record(case.id, case.category, case.expect.describe(), "skipped", case.skip, 0.0)
    tmp = Path(tempfile.mkdtemp(prefix="case-", dir=session.root))
    ctx = Ctx(tmp, session)
    value: Any = None
    exc: BaseException | None = None
    started = time.monotonic()
    try:
        value = case.action(ctx)
    except SetupError:
        raise
    except Exception as err:
        exc = err
    seconds = time.monotonic() - started
    outcome, message = classify(case, value, exc, ctx.damage)
    shutil.rmtree(tmp, ignore_errors=True)
    return Record(
        case.id, case.category, case.expect.describe(), outcome, message, round(seconds, 2)
    )


# ----------------------------------------------------------------------------- report


def all_cases() -> list[Case]:
    builders = {
        "args": args_cases,
        "writers": writers_cases,
        "csv": csv_cases,
        "images": images_cases,
        "scenes": scenes_cases,
        "cache": cache_cases,
    }
    return [case for category in CATEGORIES for case in builders[category]()]


def table(records: Sequence[Record]) -> str:
    header = (
        f"{'category':10s}" + "".join(f"{o:>9s}" for o in (*OUTCOMES, "total")) + f"{'skipped':>9s}"
    )
    lines = [header, "-" * len(header)]
    for category in (*CATEGORIES, "total"):
        rows = [r for r in records if category in ("total", r.category)]
        if not rows:
            continue
        ran = [r for r in rows if r.outcome != "skipped"]
        counts = [sum(r.outcome == o for r in ran) for o in OUTCOMES]
        skipped = len(rows) - len(ran)
        lines.append(
            f"{category:10s}" + "".join(f"{c:9d}" for c in (*counts, len(ran))) + f"{skipped:9d}"
        )
    return "\n".join(lines)


def run_all(cases: Sequence[Case], session: Session, jobs: int) -> list[Record]:
    """Run the cases, the :data:`PARALLEL` categories ``jobs`` at a time; records in case order."""
    done: dict[str, Record] = {}
    printing = threading.Lock()

    def one(case: Case) -> None:
        record = run_case(case, session)
        with printing:
            done[case.id] = record
            print(
                f"[{len(done):3d}/{len(cases)}] {record.outcome:8s} {record.seconds:6.1f}s {case.id}",
                flush=True,
            )

    if any(c.category in ("args", "writers", "csv") and not c.skip for c in cases):
        session.prepare()
    for case in cases:
        if case.category not in PARALLEL:
            one(case)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, [c for c in cases if c.category in PARALLEL]))
    return [done[c.id] for c in cases]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write every case's record to this JSON file")
    parser.add_argument("--only", choices=CATEGORIES, help="run one category")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--jobs", type=int, default=2, help=f"{'/'.join(PARALLEL)} cases run at once (default 2)"
    )
    args = parser.parse_args(argv)

    cases = [c for c in all_cases() if args.only in (None, c.category)]
    if args.list:
        for case in cases:
            skip = f"  [skipped: {case.skip}]" if case.skip else ""
            print(f"{case.id:70s} {case.expect.describe()}{skip}")
        print(f"{len(cases)} cases")
        return 0

    import synovis_lib

    print(f"synovis_lib from {Path(synovis_lib.__file__).parent}; {len(cases)} cases", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="synovis-bad-inputs-") as root:
        os.environ["SYNOVIS_CACHE"] = str(Path(root) / "cache")
        os.environ.pop("SYNOVIS_PROFILE", None)
        records = run_all(cases, Session(Path(root)), args.jobs)
    total = time.monotonic() - started

    print()
    print(table(records))
    print(f"\n{len(records)} cases in {total:.0f} s")
    problems = [r for r in records if r.outcome in ("crash", "silent", "half")]
    if problems:
        print("\ncrash / silent / half:")
        for r in problems:
            print(f"  {r.outcome:6s} {r.id}: {r.message}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "synovis_lib": str(Path(synovis_lib.__file__).parent),
                    "seconds": round(total, 1),
                    "cases": [dataclasses.asdict(r) for r in records],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
