"""The install story stays consistent: pyproject, environment.yml, README, Makefile, CI."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.notebooks import ROOT


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements) -> dict[str, SpecifierSet]:
    out = {}
    for text in requirements:
        req = Requirement(text)
        out[req.name.lower()] = req.specifier
    return out


def test_environment_yml_lists_the_same_dependencies():
    project = _pyproject()["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = [d for d in env if isinstance(d, str) and not d.startswith(("python=", "pip"))]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    listed = {}
    for item in conda:
        name, _, spec = re.match(r"([A-Za-z0-9_.-]+)(.*)", item).group(1, 0, 2)
        listed[name.lower()] = SpecifierSet(spec)
    listed |= _names(p for p in pip if not p.startswith("-e"))
    assert listed == wanted


def test_torch_pins_are_kept():
    deps = _names(_pyproject()["project"]["dependencies"])
    assert str(deps["torch"]) == "==2.14.1"
    assert str(deps["torchvision"]) == "==0.29.1"
    assert "2.0" not in deps["jupyter-book"] and "1.0.2" in deps["jupyter-book"]


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^book: venv", makefile, re.M) and re.search(r"^test: venv", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    figure = re.search(r"!\[[^\]]*\]\(([^)]+)\)", readme).group(1)
    assert (ROOT / figure).is_file(), f"README figure {figure} is missing"


def test_readme_opens_every_notebook_in_colab():
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        url = f"colab.research.google.com/github/synovis-course/synovis/blob/main/notebooks/{path.name}"
        assert url in readme, f"README has no Colab link to {path.name}"


def test_console_script_points_at_cli():
    assert _pyproject()["project"]["scripts"]["synovis"] == "synovis_lib.cli:main"


def test_book_build_ignores_the_virtual_environment_and_outputs():
    """`make book` builds from the repository root, where .venv holds thousands of
    Markdown files and notebooks (package docs, papermill's test notebooks) that
    Sphinx would otherwise read and execute."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    excluded = set(config["exclude_patterns"])
    assert {".venv", "_build", "runs", "**/results", "tests"} <= excluded
    assert config["only_build_toc_files"] is True
