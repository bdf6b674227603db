"""Build the book: execute the notebooks with synovis' runner, then render them.

    .venv/bin/python tools/build_book.py              # quick profile, two notebooks at once
    SYNOVIS_PROFILE=ci .venv/bin/python tools/build_book.py

``make book`` runs this. Three steps:

1. :func:`synovis_lib.runner.run_notebooks` executes ``notebooks/`` into
   ``_build/executed`` with papermill, ``--jobs`` notebooks at once (each in
   its own kernel; the artefact cache's locks let two notebooks wait for one
   model instead of training it twice). A notebook whose source, parameters
   and profile have not changed is not executed again (the runner's
   manifest). Any failure stops the build with the notebook, cell and log.
2. :func:`stage` copies the book's sources into ``_build/source`` with the
   executed notebooks in place of the stripped ones (the parameters the runner
   injected collapsed, as plumbing) and execution turned off.
3. ``jupyter-book build _build/source --path-output . -W -n --keep-going``
   writes ``_build/html``.

Readers get exactly the notebooks the runner executed, the same path the test
suite takes (``tests/conftest.py`` stages the ci-profile outputs with
:func:`stage`). Executing through the runner rather than through Jupyter
Book's own cache lets two notebooks run at once on a 2-core laptop, which
Jupyter Book 1 cannot do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("_config.yml", "_toc.yml", "book")


def stage(root: Path, executed: dict[str, Path], dest: Path) -> Path:
    """Copy the book's sources from ``root`` into ``dest``, with each executed notebook
    (``{stem: path}``) in ``dest/notebooks``, its injected-parameters cell collapsed
    (``hide-cell``), and Jupyter Book's execution turned off."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in SOURCES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("_build"))
        else:
            shutil.copy2(source, dest / name)
    (dest / "notebooks").mkdir()
    for stem, path in executed.items():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            tags = cell.metadata.get("tags", [])
            if "injected-parameters" in tags and "hide-cell" not in tags:
                cell.metadata["tags"] = [*tags, "hide-cell"]
        nbformat.write(nb, dest / "notebooks" / f"{stem}.ipynb")
    config = yaml.safe_load((dest / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    (dest / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def jupyter_book(source: Path, output: Path) -> subprocess.CompletedProcess:
    """``jupyter-book build source --path-output output -W -n --keep-going`` (HTML in
    ``output/_build/html``), its output captured."""
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(source)]
    command += ["--path-output", str(output), "-W", "-n", "--keep-going"]
    return subprocess.run(command, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile",
        default=os.environ.get("SYNOVIS_PROFILE") or "quick",
        help="default: $SYNOVIS_PROFILE, else quick",
    )
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's sources")
    args = parser.parse_args(argv)
    from synovis_lib.runner import format_summary, run_notebooks

    build = args.root / "_build"
    report = run_notebooks(
        args.root / "notebooks", build / "executed", profile=args.profile, jobs=args.jobs
    )
    print(format_summary(report.outcomes, build / "executed"))
    if report.failed:
        return 1
    executed = {o.notebook: Path(o.output) for o in report.outcomes}
    proc = jupyter_book(stage(args.root, executed, build / "source"), args.root)
    print(proc.stdout[-3000:])
    if proc.returncode:
        print(proc.stderr, file=sys.stderr)
        return proc.returncode
    print(f"The book is in {build / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
