# Two commands for a reader on a fresh machine (Python 3.11):
#   make book   execute the notebooks (quick profile) and build the book into _build/html
#   make test   run the test suite (library units, notebooks in the ci profile, book build)
# Both create/refresh the local virtual environment .venv first and are idempotent.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv book test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

book: venv
	bash tools/fetch_web_assets.sh
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is in _build/html/index.html"

test: venv
	bash tools/fetch_web_assets.sh
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check synovis_lib tests benchmarks

clean:
	rm -rf _build runs results notebooks/results
