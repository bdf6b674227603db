"""Batch-execute the course notebooks with papermill: ``synovis run-notebooks``.

A researcher re-runs the whole study (or a few notebooks) on their own
parameters without opening Jupyter::

    synovis run-notebooks --profile quick --out runs/quick
    synovis run-notebooks --profile paper --out runs/paper --only 05,06 -p SEED 1

Each ``notebooks/NN_*.ipynb`` runs in the notebooks folder (as in the book
build, so relative paths in a notebook mean the same thing everywhere) with
``PROFILE`` and ``RESULTS_DIR=<out>/results`` (relative to the notebooks
folder, so no page shows a path of this machine) injected, plus every ``-p NAME
VALUE`` (VALUE is read as a Python literal, else kept as a string). The output
folder then holds:

- ``NN_name.ipynb``: the executed notebook, renamed into place only when it
  ran to the end; a failed run leaves ``NN_name.failed.ipynb`` (the partial
  notebook, for debugging) and never a half-written ``NN_name.ipynb``;
- ``logs/NN_name.log``: the notebook's stdout and stderr, then the error;
- ``results/NN_name.metrics.json``: each notebook's headline numbers
  (:func:`synovis_lib.files.write_metrics`), gathered into ``results.csv``
  and ``results.md``; removed before a notebook runs again and when it fails,
  so the table only ever holds numbers of finished runs;
- ``.synovis-output.json``: the marker saying synovis wrote the folder; a
  folder with other files and no marker is refused, and a second run into
  the same folder at the same time is refused (the folder is updated in
  place, notebook by notebook, so finished notebooks can be reused);
- ``manifest.json``: for each finished notebook a hash of its source, the
  parameters and ``$SYNOVIS_PROFILE``. A re-run with the same hash reuses the
  output instead of executing again (``--force`` executes anyway). Library
  code is not part of the hash: after changing ``synovis_lib``, use ``--force``.

With ``--jobs N`` up to N notebooks execute at once, each in its own process
(the notebooks are independent: each rebuilds what it needs through
:mod:`synovis_lib.cache`), and each kernel's numerical libraries get their share
of the CPUs (:func:`threads_per_job`) unless ``OMP_NUM_THREADS`` and its kin are
already set. Whatever order they finish in, the summary, the
manifest and the results table list notebooks by number.

Taught in the README ("Profiles, and running the notebooks in batch").
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from synovis_lib.config import PROGRESS_ENV_VAR
from synovis_lib.files import claim_folder, read_json, write_json, write_text
from synovis_lib.profiles import ENV_VAR as PROFILE_ENV_VAR
from synovis_lib.profiles import PROFILES

NOTEBOOK_PATTERN = re.compile(r"^(\d{2})_[\w-]+\.ipynb$")
"""Course notebooks are ``NN_topic.ipynb``; anything else in the folder is ignored."""
RESERVED_PARAMETERS = ("PROFILE", "RESULTS_DIR")
MANIFEST = "manifest.json"
KIND = "run-notebooks"
"""The kind of output folder this writes (:data:`synovis_lib.files.MARKER`)."""


@dataclass(frozen=True)
class Failure:
    """Where and how a notebook failed.

    ``cell_index`` counts the cells of the source notebook from 0 (papermill's
    injected-parameters cell is not counted); ``None`` when the failure came
    before any cell ran (e.g. the kernel did not start). A timeout or a kernel
    that died is placed in the cell papermill was running.
    """

    ename: str
    evalue: str
    cell_index: int | None = None
    execution_count: int | None = None
    cell_source: str = ""

    def describe(self) -> str:
        where = "outside any cell" if self.cell_index is None else f"in cell {self.cell_index}"
        if self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        line = self.cell_source.strip().splitlines()[0] if self.cell_source.strip() else ""
        text = f"{where}: {self.ename}: {self.evalue}".rstrip(": ")
        return f"{text}\n      cell starts: {line}" if line else text


@dataclass(frozen=True)
class Outcome:
    """What happened to one notebook: ``status`` is ``ok``, ``reused`` or ``failed``."""

    notebook: str
    status: str
    output: Path | None
    log: Path
    seconds: float = 0.0
    failure: Failure | None = None
    partial: Path | None = None


@dataclass(frozen=True)
class Task:
    """One notebook to execute (picklable, so it can go to a worker process)."""

    source: Path
    output: Path
    log: Path
    parameters: dict[str, Any]
    cwd: Path
    kernel: str = "python3"
    timeout: float | None = None
    threads: int | None = None
    """CPU threads for the kernel's numerical libraries (``None``: their own default)."""

    @property
    def name(self) -> str:
        return self.source.stem

    @property
    def partial(self) -> Path:
        return self.output.with_name(f".{self.output.stem}.running.ipynb")

    @property
    def failed(self) -> Path:
        return self.output.with_name(f"{self.output.stem}.failed.ipynb")


@dataclass
class RunReport:
    """All outcomes in notebook order, and where the results tables were written."""

    outcomes: list[Outcome]
    results_csv: Path
    results_md: Path
    results: pd.DataFrame = field(repr=False)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def discover_notebooks(folder: str | os.PathLike, only: Iterable[str] | None = None) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks in ``folder`` in numeric order, optionally only numbers ``only``.

    ``only`` takes numbers such as ``"5"``, ``"05"`` or ``"05_vgg16"``; an unknown one raises.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"notebooks folder {root} does not exist")
    found = {
        NOTEBOOK_PATTERN.match(p.name).group(1): p
        for p in root.glob("*.ipynb")
        if NOTEBOOK_PATTERN.match(p.name)
    }
    if not found:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks in {root}")
    if only is None:
        return [found[k] for k in sorted(found)]
    wanted = []
    for item in only:
        number = item.strip().split("_")[0]
        if not number.isdigit() or f"{int(number):02d}" not in found:
            raise ValueError(
                f"--only {item!r}: no notebook {number}_*.ipynb in {root} "
                f"(have {', '.join(sorted(found))})"
            )
        wanted.append(f"{int(number):02d}")
    return [found[k] for k in sorted(set(wanted))]


def parse_value(text: str) -> Any:
    """A ``-p`` value: a Python literal (``3``, ``0.1``, ``True``, ``[1, 2]``) or else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(pairs: Sequence[Sequence[str]] | None) -> dict[str, Any]:
    """``[("SEED", "1"), ...]`` from ``-p NAME VALUE`` into ``{"SEED": 1, ...}``."""
    overrides = {name: parse_value(value) for name, value in pairs or []}
    check_parameter_names(overrides)
    return overrides


def check_parameter_names(parameters: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for a name that is not an identifier or that the runner sets itself."""
    for name in parameters:
        if not name.isidentifier():
            raise ValueError(f"-p {name!r}: a parameter name must be a Python identifier")
        if name in RESERVED_PARAMETERS:
            raise ValueError(
                f"-p {name}: set by the runner (use --profile for PROFILE; "
                "RESULTS_DIR is always <out>/results)"
            )


def notebook_parameters(path: Path) -> set[str]:
    """The names assigned in ``path``'s cell tagged ``parameters`` (empty if it has none)."""
    import nbformat

    names: set[str] = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else [getattr(node, "target", None)]
                )
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def check_parameters_exist(parameters: Mapping[str, Any], notebooks: Sequence[Path]) -> None:
    """Raise ``ValueError`` for a ``-p`` name that no selected notebook has (a typo such as
    ``SEDD`` would otherwise only make papermill log a warning and run the defaults)."""
    known = set().union(*(notebook_parameters(path) for path in notebooks))
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValueError(
            f"-p {', '.join(unknown)}: no selected notebook has such a parameter "
            f"(they have: {', '.join(sorted(known - set(RESERVED_PARAMETERS)))})"
        )


def run_hash(source: Path, parameters: Mapping[str, Any]) -> str:
    """Hash of what decides a notebook's result: its source, the parameters, ``$SYNOVIS_PROFILE``."""
    digest = hashlib.sha256(source.read_bytes())
    digest.update(json.dumps(dict(parameters), sort_keys=True, default=str).encode())
    digest.update(f"{PROFILE_ENV_VAR}={os.environ.get(PROFILE_ENV_VAR, '')}".encode())
    return digest.hexdigest()


def _source_cell_index(nb: Any, executed_index: int) -> int:
    """Map papermill's cell index (executed notebook) back to the source notebook.

    Papermill counts its ``injected-parameters`` cell but not the error-marker
    cells it adds when saving a failed notebook; the source has neither.
    """
    cells = [
        cell
        for cell in nb.cells
        if "papermill-error-cell-tag" not in cell.get("metadata", {}).get("tags", [])
    ]
    injected = sum(
        "injected-parameters" in cell.get("metadata", {}).get("tags", [])
        for cell in cells[:executed_index]
    )
    return executed_index - injected


def _failure_from(error: BaseException, partial: Path) -> Failure:
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        index = error.cell_index
        if partial.exists():
            index = _source_cell_index(nbformat.read(partial, as_version=4), index)
        return Failure(
            ename=error.ename,
            evalue=str(error.evalue),
            cell_index=index,
            execution_count=error.exec_count,
            cell_source=error.source,
        )
    # A timeout or a dead kernel happens inside the last cell that started, in papermill's
    # partial output (which marks a timed-out cell "completed", not "failed").
    index, source = None, ""
    if isinstance(error, CellTimeoutError | DeadKernelError) and partial.exists():
        nb = nbformat.read(partial, as_version=4)
        status = [c.get("metadata", {}).get("papermill", {}).get("status") for c in nb.cells]
        started = [i for i, s in enumerate(status) if s not in (None, "pending")]
        if started:
            index, source = _source_cell_index(nb, started[-1]), nb.cells[started[-1]].source
    return Failure(
        ename=type(error).__name__, evalue=str(error), cell_index=index, cell_source=source
    )


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
"""The backend that puts a figure into the notebook when a cell calls ``plt.show()``."""
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""What torch, NumPy and SciPy read for their thread pools when a kernel starts."""


def threads_per_job(jobs: int) -> int:
    """The CPUs this process may use, shared among ``jobs`` notebooks at once (at least 1).

    Each kernel's torch would otherwise start one thread per CPU, so two notebooks
    on two cores run four busy threads that take turns; measured with
    ``benchmarks/book_budget.py``.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) // jobs)


@contextlib.contextmanager
def kernel_environment(threads: int | None) -> Iterator[dict[str, str]]:
    """The environment a kernel starts in, set for the duration of the block.

    Progress bars off (``SYNOVIS_PROGRESS=0``: an executed notebook is read, not
    watched) and, with ``threads``, that many threads in each of
    :data:`THREAD_VARIABLES`; a value the user has set for these is kept. The
    matplotlib backend is always the inline one (:data:`INLINE_BACKEND`): a
    backend inherited from the caller (``MPLBACKEND=Agg`` in a test session or a
    headless shell) would make ``plt.show()`` draw nothing, and the executed
    notebook, and the book, would lose their figures in silence. Yields what was
    set; the previous environment is restored afterwards.
    """
    wanted = {PROGRESS_ENV_VAR: "0"}
    if threads is not None:
        wanted |= dict.fromkeys(THREAD_VARIABLES, str(threads))
    added = {name: value for name, value in wanted.items() if name not in os.environ}
    added["MPLBACKEND"] = INLINE_BACKEND
    before = {name: os.environ.get(name) for name in added}
    os.environ.update(added)
    try:
        yield added
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(task: Task) -> Outcome:
    """Execute one notebook: into a temporary file, renamed into place only on success.

    The kernel starts in :func:`kernel_environment` (no progress bars; with
    ``task.threads``, that many threads per numerical library). On failure the partial notebook is kept
    as ``NN_name.failed.ipynb`` and the error (cell, name, message, traceback) is
    appended to the log.
    """
    import papermill as pm

    task.log.parent.mkdir(parents=True, exist_ok=True)
    task.output.parent.mkdir(parents=True, exist_ok=True)
    task.partial.unlink(missing_ok=True)
    start = time.perf_counter()
    with kernel_environment(task.threads), task.log.open("w", encoding="utf-8") as log:
        log.write(f"# {task.source} -> {task.output}\n# parameters: {task.parameters}\n")
        log.write(f"# cwd: {task.cwd}  {PROFILE_ENV_VAR}={os.environ.get(PROFILE_ENV_VAR, '')}\n")
        log.flush()
        try:
            pm.execute_notebook(
                task.source,
                task.partial,
                parameters=task.parameters,
                kernel_name=task.kernel,
                cwd=task.cwd,
                progress_bar=False,
                stdout_file=log,
                stderr_file=log,
                execution_timeout=task.timeout,
            )
        except Exception as error:
            failure = _failure_from(error, task.partial)
            log.write(f"\n# FAILED {failure.describe()}\n")
            log.write("".join(traceback.format_exception(error)))
            partial = None
            if task.partial.exists():
                os.replace(task.partial, task.failed)
                partial = task.failed
            return Outcome(
                task.name,
                "failed",
                None,
                task.log,
                time.perf_counter() - start,
                failure,
                partial,
            )
    os.replace(task.partial, task.output)
    task.failed.unlink(missing_ok=True)
    return Outcome(task.name, "ok", task.output, task.log, time.perf_counter() - start)


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(value)
        else:
            flat[name] = value
    return flat


def results_table(results_dir: str | os.PathLike) -> pd.DataFrame:
    """Every ``*.metrics.json`` in ``results_dir`` as one long table: notebook, metric, value.

    Nested dicts become dotted metric names; lists are kept as JSON text.
    Rows are ordered by notebook (numbers first), then by metric name.
    """
    rows = []
    for path in sorted(Path(results_dir).glob("*.metrics.json")):
        notebook = path.name.removesuffix(".metrics.json")
        try:
            metrics = read_json(path)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from error
        if not isinstance(metrics, Mapping):
            raise ValueError(f"{path}: expected a JSON object of metrics")
        rows += [
            {"notebook": notebook, "metric": key, "value": value}
            for key, value in sorted(_flatten(metrics).items())
        ]
    return pd.DataFrame(rows, columns=["notebook", "metric", "value"])


def _markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table (pandas' ``to_markdown`` needs ``tabulate``, which we do not depend on)."""

    def cell(value: Any) -> str:
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def _relative(path: Path | None, root: Path) -> str:
    if path is None:
        return "-"
    with contextlib.suppress(ValueError):
        return str(path.relative_to(root))
    return str(path)


def status_table(outcomes: Sequence[Outcome], out: Path) -> pd.DataFrame:
    """One row per notebook: status, seconds, output and log (relative to ``out``)."""
    return pd.DataFrame(
        [
            {
                "notebook": o.notebook,
                "status": o.status,
                "seconds": round(o.seconds, 1),
                "output": _relative(o.output or o.partial, out),
                "log": _relative(o.log, out),
            }
            for o in outcomes
        ],
        columns=["notebook", "status", "seconds", "output", "log"],
    )


def write_results(
    outcomes: Sequence[Outcome], out: str | os.PathLike, profile: str
) -> tuple[Path, Path, pd.DataFrame]:
    """Write ``results.csv`` (the metrics) and ``results.md`` (runs + metrics) into ``out``."""
    root = Path(out)
    table = results_table(root / "results")
    csv = root / "results.csv"
    write_text(csv, table.to_csv(index=False))
    metrics = _markdown_table(table) if len(table) else "_No notebook wrote metrics._"
    md = root / "results.md"
    write_text(
        md,
        f"# synovis run-notebooks: profile `{profile}`\n\n## Runs\n\n"
        f"{_markdown_table(status_table(outcomes, root))}\n\n## Metrics\n\n{metrics}\n",
    )
    return csv, md, table


def format_summary(outcomes: Sequence[Outcome], out: str | os.PathLike) -> str:
    """The text printed at the end of a run: one line per notebook, then each failure in detail."""
    root = Path(out)
    lines = [f"{'notebook':40} {'status':7} {'seconds':>8}"]
    lines += [f"{o.notebook:40} {o.status:7} {o.seconds:8.1f}" for o in outcomes]
    failed = [o for o in outcomes if o.status == "failed"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "reused", "failed")}
    lines.append(
        f"\n{counts['ok']} executed, {counts['reused']} reused, {counts['failed']} failed "
        f"(outputs in {root})"
    )
    for o in failed:
        lines.append(f"\nFAILED {o.notebook} {o.failure.describe() if o.failure else ''}")
        lines.append(f"      log: {o.log}")
        if o.partial:
            lines.append(f"      partial notebook: {o.partial}")
    return "\n".join(lines)


def _metrics_file(out: Path, notebook: str) -> Path:
    """Where ``write_metrics(RESULTS_DIR, notebook, ...)`` puts a notebook's numbers."""
    return out / "results" / f"{notebook}.metrics.json"


def _load_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        manifest = read_json(path)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON; delete it to re-run everything") from error
    return manifest if isinstance(manifest, dict) else {}


def run_notebooks(
    notebooks_dir: str | os.PathLike = "notebooks",
    out: str | os.PathLike = "runs/quick",
    profile: str = "quick",
    only: Iterable[str] | None = None,
    jobs: int = 1,
    parameters: Mapping[str, Any] | None = None,
    force: bool = False,
    kernel: str = "python3",
    timeout: float | None = None,
    progress: bool = True,
) -> RunReport:
    """Execute the notebooks into ``out`` and gather their metrics (see the module docstring).

    Raises ``ValueError`` for an unknown profile, a bad ``-p`` or ``jobs < 1``, and
    ``FileExistsError`` if ``out`` holds files synovis did not write or another run is
    writing it (:func:`synovis_lib.files.claim_folder`).
    """
    if profile not in PROFILES:  # --profile itself, whatever $SYNOVIS_PROFILE says
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    notebooks = discover_notebooks(notebooks_dir, only)
    root = Path(out).resolve()
    check_parameter_names(parameters or {})
    check_parameters_exist(parameters or {}, notebooks)
    with claim_folder(root, KIND):
        return _run(notebooks, root, profile, jobs, parameters, force, kernel, timeout, progress)


def notebook_relative(path: Path, notebooks_dir: Path) -> str:
    """``path`` as the notebooks (which run in ``notebooks_dir``) should be given it:
    relative, so an executed notebook and the book show no path of this machine;
    absolute only where no relative path exists (another drive on Windows)."""
    try:
        return Path(os.path.relpath(path, notebooks_dir.resolve())).as_posix()
    except ValueError:
        return str(path)


def _run(
    notebooks: list[Path],
    root: Path,
    profile: str,
    jobs: int,
    parameters: Mapping[str, Any] | None,
    force: bool,
    kernel: str,
    timeout: float | None,
    progress: bool,
) -> RunReport:
    results = notebook_relative(root / "results", notebooks[0].parent if notebooks else root)
    params = {"PROFILE": profile, "RESULTS_DIR": results, **(parameters or {})}
    manifest_path = root / MANIFEST
    manifest = _load_manifest(manifest_path)
    outcomes: dict[str, Outcome] = {}
    tasks: list[tuple[Task, str]] = []
    for source in notebooks:
        task = Task(
            source=source.resolve(),
            output=root / source.name,
            log=root / "logs" / f"{source.stem}.log",
            parameters=params,
            cwd=source.parent.resolve(),
            kernel=kernel,
            timeout=timeout,
        )
        digest = run_hash(source, params)
        entry = manifest.get(task.name, {})
        if not force and entry.get("hash") == digest and task.output.exists():
            outcomes[task.name] = Outcome(task.name, "reused", task.output, task.log)
        else:
            _metrics_file(root, task.name).unlink(missing_ok=True)  # never a stale number
            tasks.append((task, digest))

    def record(outcome: Outcome, digest: str) -> None:
        outcomes[outcome.notebook] = outcome
        if outcome.status == "ok":
            manifest[outcome.notebook] = {
                "hash": digest,
                "parameters": params,
                "synovis_profile_env": os.environ.get(PROFILE_ENV_VAR, ""),
                "output": outcome.output.name if outcome.output else None,
                "seconds": round(outcome.seconds, 2),
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        else:
            manifest.pop(outcome.notebook, None)
            (root / f"{outcome.notebook}.ipynb").unlink(missing_ok=True)
            _metrics_file(root, outcome.notebook).unlink(missing_ok=True)
        write_json(manifest_path, dict(sorted(manifest.items())))

    bar = tqdm(total=len(tasks), desc="notebooks", unit="nb", disable=not progress or not tasks)
    if jobs == 1 or len(tasks) <= 1:
        for task, digest in tasks:
            bar.set_postfix_str(task.name)
            record(execute(task), digest)
            bar.update()
    else:
        spawn = multiprocessing.get_context("spawn")
        threads = threads_per_job(jobs)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
            futures: dict[Future[Outcome], str] = {
                pool.submit(execute, replace(task, threads=threads)): digest
                for task, digest in tasks
            }
            for future in as_completed(futures):
                outcome = future.result()
                bar.set_postfix_str(outcome.notebook)
                record(outcome, futures[future])
                bar.update()
    bar.close()
    ordered = [outcomes[p.stem] for p in notebooks]
    csv, md, table = write_results(ordered, root, profile)
    return RunReport(ordered, csv, md, table)


__all__ = [
    "Failure",
    "Outcome",
    "RunReport",
    "Task",
    "check_parameter_names",
    "discover_notebooks",
    "execute",
    "format_summary",
    "kernel_environment",
    "notebook_relative",
    "parse_overrides",
    "parse_value",
    "results_table",
    "run_hash",
    "run_notebooks",
    "status_table",
    "threads_per_job",
    "write_results",
]
