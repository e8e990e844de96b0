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
# How idle OpenMP threads wait never changes a result. Spinning (OpenMP's default) is fastest on free
# cores: chapter 5 trains ~1.6x faster than with passive waiting on 2 quiet cores. Jobs that share the
# cores with other jobs (make test runs three at once) wait passively instead: a spinning thread steals
# the core another job needs (2-3x slower there). See bench/scaling.py.
BUSY := OMP_WAIT_POLICY=PASSIVE

# nbval with the course's extension: cells tagged nbval-tolerance compare trained numbers within a measured
# tolerance (tests/nbval_tolerance.py); cells tagged nbval-check-output compare exactly.
NBVAL := $(BIN)/python -m pytest -p tests.nbval_tolerance --nbval-lax -q
# Another reader's machine, emulated on this one: one thread and generic CPU kernels (no AVX) change how
# float32 training rounds. The stored outputs come from a default run; they must verify under this too.
OTHER_MACHINE := OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default
EXECUTE := $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 \
	--ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False
RUNS := .runs
# JupyterLab reads the course's configuration from jupyter/ (no news or update check from the web: a
# workshop room may have no internet). JUPYTER_CONFIG_PATH adds a read-only folder to the search path;
# the user's own ~/.jupyter still applies.
LAB_ENV := JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter
# JupyterLab refuses to start as root without --allow-root (containers, cloud machines): add it only then.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
WHEELHOUSE := wheelhouse

.PHONY: help setup book test unit notebooks browser execute tolerances exercises grade lab labtest bench clean \
	wheelhouse install-test

help:
	@echo "make book       build the HTML book from the notebooks' stored outputs ($(BOOK_HTML)/index.html)"
	@echo "make test       every check: unit and grading tests, nbval on all notebooks, book build, browser check"
	@echo "make lab        open JupyterLab on the course (workshops)"
	@echo "make labtest    the JupyterLab check alone: chapter 2, its slider, an exercise check, the explorer"
	@echo "make wheelhouse every wheel for Windows, macOS (arm64) and Linux laptops in $(WHEELHOUSE)/ (a room without internet)"
	@echo "make install-test  a fresh venv installs from $(WHEELHOUSE)/linux_x86_64 with no index and runs chapter 1"
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
# book/book_config.py adds to book/_config.yml what follows from the repository URL (launch buttons);
# book/exercise_statements.py refreshes the exercises' page from solutions/ and tests/exercises/.
BOOK_CONFIG := book/_build/_config.yml
book: $(STAMP)
	$(BIN)/python book/exercise_statements.py
	$(BIN)/python book/book_config.py $(BOOK_CONFIG)
	$(BIN)/jupyter-book build . --config $(BOOK_CONFIG) --toc book/_toc.yml \
		--path-output book --all -W -n --keep-going
	@echo "Open $(BOOK_HTML)/index.html in a browser."

# --- checks --------------------------------------------------------------------------------
# WM_SLOW=1 also retrains every recorded reference run (world model, next-frame predictor, object model,
# planning results, diffusion model) and compares its metrics with the record.
# The notebooks are re-run as another machine would run them (see OTHER_MACHINE): outputs stored on
# one machine must verify on any machine.
# Four jobs at once on two cores (their outputs are printed whole, one after the other): the unit tests
# with the diffusion model's reproduction, the other slow reference-run reproductions, and nbval in two
# halves, each one thread as OTHER_MACHINE says. Each job takes a similar share of the CPU.
test: $(STAMP) browser sandbox
	$(MAKE) --no-print-directory -j4 --output-sync=target test-unit test-slow test-nbval-a test-nbval-b
	$(MAKE) --no-print-directory book
	$(BIN)/pytest -q tests/browser

# nbval's two halves, about equal in run time (the heavier chapters split between them).
NBVAL_A := $(filter notebooks/0% solutions/0%,$(wildcard notebooks/0[1357]_*.ipynb notebooks/09_*.ipynb solutions/0[1-5]_*.ipynb))
NBVAL_B := $(filter-out $(NBVAL_A),$(NOTEBOOKS) $(SOLUTIONS))
# The slow reproductions (WM_SLOW=1) that run in their own job; the diffusion model's stays with the unit tests.
SLOW := tests/test_world_model.py::test_training_code_reproduces_the_reference_metrics \
	tests/test_objects.py::test_training_code_reproduces_the_reference_metrics \
	tests/test_planning.py::test_bench_reproduces_the_recorded_results \
	tests/test_testbed.py::test_recording_code_reproduces_the_recorded_next_frame_predictor
.PHONY: test-unit test-slow test-nbval-a test-nbval-b
test-unit: $(STAMP)
	$(BUSY) WM_SLOW=1 $(BIN)/pytest tests -q --ignore=tests/browser -p no:cacheprovider $(addprefix --deselect ,$(SLOW))
test-slow: $(STAMP)
	$(BUSY) WM_SLOW=1 $(BIN)/pytest -q -p no:cacheprovider $(SLOW)
test-nbval-a: $(STAMP)
	$(BUSY) $(OTHER_MACHINE) $(NBVAL) -p no:cacheprovider $(NBVAL_A)
test-nbval-b: $(STAMP)
	$(BUSY) $(OTHER_MACHINE) $(NBVAL) -p no:cacheprovider $(NBVAL_B)
# tests/browser holds the book check (test_book.py) and the JupyterLab run (test_lab.py, ~1.5-3 min).

# The JupyterLab check alone: JupyterLab in headless chromium runs chapter 2, moves its slider, runs an
# exercise's check() on the stub, presses the explorer's push button, and stops the server.
labtest: $(STAMP) browser
	$(BIN)/pytest -q tests/browser/test_lab.py

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
	$(BIN)/python book/exercise_statements.py

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
	$(LAB_ENV) $(BIN)/jupyter lab --notebook-dir=. $(ALLOW_ROOT)

# --- a room without internet ---------------------------------------------------------------
# Every wheel for Windows (x86-64), macOS (arm64, x86-64) and Linux (x86-64), CPython 3.11, in
# $(WHEELHOUSE)/<platform>/ (gitignored; 225-325 MB per platform). Needs the network once. Intel Macs get
# none: PyTorch publishes no wheel of the pinned torch for them (its last is 2.2.2); the script says so.
# Install from it with no index at all: see book/run_it_yourself.md.
wheelhouse: $(STAMP)
	$(BIN)/python tools/wheelhouse.py --out $(WHEELHOUSE)

# The documented offline install, tested: a fresh venv, `pip install --no-index` from the Linux
# wheelhouse, import the package, run chapter 1 (builds the Linux wheelhouse first if missing; ~3 min).
install-test: $(STAMP)
	test -d $(WHEELHOUSE)/linux_x86_64 || $(BIN)/python tools/wheelhouse.py --out $(WHEELHOUSE) --platforms linux_x86_64
	WM_INSTALL_TEST=1 $(BIN)/pytest -q tests/test_install.py

bench: $(STAMP)
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf book/_build .pytest_cache $(RUNS)
