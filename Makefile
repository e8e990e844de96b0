# The course's commands. `make book` and `make test` are all a newcomer types: both create the
# virtual environment on first use (and only then), install the pinned requirements and the package.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
SOLUTIONS := $(wildcard solutions/*.ipynb)
BOOK_HTML := book/_build/html
SUBMISSIONS ?=
# OpenMP threads that spin while waiting steal the CPU from each other on a busy 2-core laptop:
# passive waiting made small torch training steps up to 9x faster there, with identical results.
OMP_WAIT_POLICY ?= PASSIVE
export OMP_WAIT_POLICY

.PHONY: help setup book test unit notebooks browser execute exercises grade lab bench clean

help:
	@echo "make book       build the HTML book from the notebooks' stored outputs ($(BOOK_HTML)/index.html)"
	@echo "make test       every check: unit and grading tests, nbval on all notebooks, book build, browser check"
	@echo "make lab        open JupyterLab on the course (workshops)"
	@echo "make execute    re-run every notebook and store its fresh outputs (authors)"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make grade      grade exercises/ (or a class: make grade SUBMISSIONS=dir)"
	@echo "make unit       the unit and grading tests only (quick)"
	@echo "make bench      run the benchmarks in bench/"

# --- set-up --------------------------------------------------------------------------------
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# --- the book ------------------------------------------------------------------------------
book: $(STAMP)
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml \
		--path-output book -W -n --keep-going
	@echo "Open $(BOOK_HTML)/index.html in a browser."

# --- checks --------------------------------------------------------------------------------
# WM_SLOW=1 also retrains the recorded reference world model and compares its metrics (~2 min).
test: $(STAMP) browser
	WM_SLOW=1 $(BIN)/pytest tests -q --ignore=tests/browser
	$(BIN)/pytest --nbval-lax -q notebooks solutions
	$(MAKE) --no-print-directory book
	$(BIN)/pytest -q tests/browser

# The quick loop for authors: unit and grading tests, without retraining the reference world model.
unit: $(STAMP)
	$(BIN)/pytest tests -q --ignore=tests/browser

notebooks: $(STAMP)
	$(BIN)/pytest --nbval-lax -q notebooks solutions

# Headless Chromium for the book check (Debian's package; needs root or sudo once).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser check ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# --- authoring -----------------------------------------------------------------------------
execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=900 --ExecutePreprocessor.record_timing=False \
		--ExecutePreprocessor.store_widget_state=False $(NOTEBOOKS) $(SOLUTIONS)

exercises: $(STAMP)
	$(BIN)/python -m worldmodels.grading generate

grade: $(STAMP)
ifeq ($(SUBMISSIONS),)
	$(BIN)/python -m worldmodels.grading grade exercises
else
	$(BIN)/python -m worldmodels.grading grade-class $(SUBMISSIONS) --out grades.csv
endif

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

bench: $(STAMP)
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf book/_build .pytest_cache
