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

# nbval with the course's extension: cells tagged nbval-tolerance compare trained numbers within a measured
# tolerance (tests/nbval_tolerance.py); cells tagged nbval-check-output compare exactly.
NBVAL := $(BIN)/python -m pytest -p tests.nbval_tolerance --nbval-lax -q
# Another reader's machine, emulated on this one: one thread and generic CPU kernels (no AVX) change how
# float32 training rounds. The stored outputs come from a default run; they must verify under this too.
OTHER_MACHINE := OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default
EXECUTE := $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 \
	--ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False
RUNS := .runs

.PHONY: help setup book test unit notebooks browser execute tolerances exercises grade lab bench clean

help:
	@echo "make book       build the HTML book from the notebooks' stored outputs ($(BOOK_HTML)/index.html)"
	@echo "make test       every check: unit and grading tests, nbval on all notebooks, book build, browser check"
	@echo "make lab        open JupyterLab on the course (workshops)"
	@echo "make execute    re-run every notebook and store its fresh outputs (authors)"
	@echo "make tolerances re-run the notebooks as two other machines would and measure the checked numbers' spread"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make grade      grade exercises/ (or a class: make grade SUBMISSIONS=dir), each student in a sandbox"
	@echo "make release    the student bundle (exercises, public tests, no solutions) in build/student"
	@echo "make sandbox    install bubblewrap, the grader's sandbox (Linux)"
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
# --all: every page is rebuilt (about 10 s); an incremental build with no changed page skips copying
# book/_static, so an edited stylesheet would not reach the book.
book: $(STAMP)
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml \
		--path-output book --all -W -n --keep-going
	@echo "Open $(BOOK_HTML)/index.html in a browser."

# --- checks --------------------------------------------------------------------------------
# WM_SLOW=1 also retrains the recorded reference world model and compares its metrics (~2 min).
# The notebooks are re-run as another machine would run them (see OTHER_MACHINE): outputs stored on
# one machine must verify on any machine.
test: $(STAMP) browser sandbox
	WM_SLOW=1 $(BIN)/pytest tests -q --ignore=tests/browser
	$(OTHER_MACHINE) $(NBVAL) notebooks solutions
	$(MAKE) --no-print-directory book
	$(BIN)/pytest -q tests/browser

# The quick loop for authors: unit and grading tests, without retraining the reference world model.
unit: $(STAMP)
	$(BIN)/pytest tests -q --ignore=tests/browser

# The notebooks' checks on this machine as it is (no emulation).
notebooks: $(STAMP)
	$(NBVAL) notebooks solutions

# Headless Chromium for the book check (Debian's package; needs root or sudo once).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser check ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# --- authoring -----------------------------------------------------------------------------
execute: $(STAMP)
	$(EXECUTE) --inplace $(NOTEBOOKS) $(SOLUTIONS)
	$(BIN)/python tests/tidy_notebooks.py $(NOTEBOOKS) $(SOLUTIONS)

# Measure how far the checked numbers move on other machines: execute every notebook with one thread, and
# with one thread and generic CPU kernels (both at once: one core each), then compare with the stored
# outputs. TOLERANCE_WRITE=--write sets each nbval-tolerance cell to 2x the spread seen (at least 2 %).
TOLERANCE_WRITE ?=
tolerances: $(STAMP)
	rm -rf $(RUNS)
	for dir in notebooks solutions; do mkdir -p $(RUNS)/one-thread/$$dir $(RUNS)/generic-cpu/$$dir; done
	( OMP_NUM_THREADS=1 $(EXECUTE) --output-dir $(RUNS)/one-thread/notebooks $(NOTEBOOKS) && \
	  OMP_NUM_THREADS=1 $(EXECUTE) --output-dir $(RUNS)/one-thread/solutions $(SOLUTIONS) ) & \
	( $(OTHER_MACHINE) $(EXECUTE) --output-dir $(RUNS)/generic-cpu/notebooks $(NOTEBOOKS) && \
	  $(OTHER_MACHINE) $(EXECUTE) --output-dir $(RUNS)/generic-cpu/solutions $(SOLUTIONS) ) & \
	wait
	for dir in notebooks solutions; do $(BIN)/python tests/nbval_tolerance.py measure $$dir \
		$(RUNS)/one-thread/$$dir $(RUNS)/generic-cpu/$$dir $(TOLERANCE_WRITE) || exit 1; done

exercises: $(STAMP)
	$(BIN)/python -m worldmodels.grading generate

# Grading runs each student's code in bubblewrap's sandbox when it works here (see docs/grading.md);
# without it the grader says so loudly, in its summary and in grades.csv.
grade: $(STAMP) sandbox
ifeq ($(SUBMISSIONS),)
	$(BIN)/python -m worldmodels.grading grade exercises
else
	$(BIN)/python -m worldmodels.grading grade-class $(SUBMISSIONS) --out grades.csv
endif

# Bubblewrap for the grader's sandbox (Debian's package; needs root or sudo once), then whether it works here.
.PHONY: sandbox release
sandbox: $(STAMP)
	@command -v bwrap >/dev/null 2>&1 || { \
		echo "Installing Debian's bubblewrap for the grader's sandbox ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq bubblewrap >/dev/null; }
	@$(BIN)/python -c "from worldmodels.grading.grader import choose_sandbox; print(choose_sandbox('auto')[1])"

# The student bundle: exercises, the public tests check() uses, the package; no solutions, no hidden tests.
release: $(STAMP)
	$(BIN)/python -m worldmodels.grading release --out build/student

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

bench: $(STAMP)
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf book/_build .pytest_cache $(RUNS)
