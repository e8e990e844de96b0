# The course's commands. `make book` and `make test` are all a newcomer types: both create the
# virtual environment on first use (and only then), install the pinned requirements and the package.

PYTHON ?= python3
# Recipes run in bash with pipefail: a job whose output is piped through a prefix still fails when it fails.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
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
	wheelhouse install-test figures glossary

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
	@echo "make figures    redraw the landing page's animation and the workshop pages' figures (tools/)"
	@echo "make glossary   link the glossary's terms in every notebook's prose (tools/link_glossary.py)"
	@echo "make grade      grade exercises/ (or a class: make grade SUBMISSIONS=dir), each student in a sandbox"
	@echo "make release    the student bundle (exercises, public tests, no solutions) in build/student"
	@echo "make sandbox    install bubblewrap, the grader's sandbox (Linux)"
	@echo "make unit       the unit and grading tests only (quick)"
	@echo "make bench      run the benchmarks in bench/"

# --- set-up --------------------------------------------------------------------------------
# torch first, from PyTorch's CPU-only index: on Linux the default index (PyPI) has the CUDA build, several
# GB of NVIDIA libraries a laptop does not use. Where that index cannot be reached (a mirror, a proxy, no
# internet), pip gives up at once (--retries 0, a short timeout) and torch comes from the configured index.
TORCH := $(shell grep '^torch==' requirements.txt)
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --timeout 10 --retries 0 --index-url $(TORCH_CPU_INDEX) "$(TORCH)" || { \
		echo "PyTorch's CPU-only index cannot be reached: $(TORCH) from the configured index instead"; \
		$(BIN)/python -m pip install --quiet "$(TORCH)"; }
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# --- the book ------------------------------------------------------------------------------
# --all: every page is rebuilt (about 10 s); an incremental build with no changed page skips copying
# book/_static, so an edited stylesheet would not reach the book.
# tools/exercise_statements.py refreshes the exercises' page from solutions/ and tests/exercises/;
# tools/front_matter.py writes every list of chapters (table of contents, README, intro, course map, ...)
# from the table of chapters, tools/chapters.py; tools/book_config.py adds to book/_config.yml what follows
# from the repository URL (launch buttons); tools/course_archive.py writes the course as one zip, which the
# page "Run it yourself" offers for download.
BOOK_CONFIG := book/_build/_config.yml
book: $(STAMP)
	$(BIN)/python tools/exercise_statements.py
	$(BIN)/python tools/front_matter.py
	$(BIN)/python tools/course_archive.py
	$(BIN)/python tools/book_config.py $(BOOK_CONFIG)
	$(BIN)/jupyter-book build . --config $(BOOK_CONFIG) --toc book/_toc.yml \
		--path-output book --all -W -n --keep-going
	@echo "Open $(BOOK_HTML)/index.html in a browser."

# --- checks --------------------------------------------------------------------------------
# WM_SLOW=1 also retrains every recorded reference run (world model, next-frame predictor, object model,
# planning results, diffusion model) and compares its metrics with the record.
# The notebooks are re-run as another machine would run them (see OTHER_MACHINE): outputs stored on
# one machine must verify on any machine.
# Six jobs at once on two cores, each printing its lines as they come with its name in front ([unit]
# ...) and its slowest tests at the end: the unit tests; the diffusion model's reproduction; the other
# reference-run reproductions (tests marked @pytest.mark.slow, each retraining a recorded run or its recorded
# prefix on one thread), then the book and its browser checks (test-book); nbval in three parts of about
# equal run time (tools/nbval_split.py, from the run times in tools/chapters.py), each one thread as
# OTHER_MACHINE says. Each job takes a similar share of the CPU; more jobs than cores use the time that
# some spend waiting (the grader's timeouts, the browser), which left the two cores a fifth idle with four.
# The grader's tests give a correct solution the grader's own per-exercise limit, so that the extra jobs cannot
# time it out; more jobs than six lengthen the reproductions-then-book chain, which already ends last.
test: $(STAMP) browser sandbox
	$(MAKE) --no-print-directory -j6 test-unit test-diffusion test-book test-nbval-a test-nbval-b test-nbval-c

# PYTHONUNBUFFERED: lines reach the terminal when printed, not when a job ends.
JOB = $(BUSY) PYTHONUNBUFFERED=1
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider --durations=10
LABEL = 2>&1 | sed -u 's/^/[$(1)] /'
.PHONY: test-unit test-diffusion test-slow test-nbval-a test-nbval-b test-nbval-c test-book
test-unit: $(STAMP)
	$(JOB) WM_SLOW=1 $(PYTEST) tests --ignore=tests/browser -m "not slow" $(call LABEL,unit)
test-diffusion: $(STAMP)
	$(JOB) WM_SLOW=1 $(PYTEST) tests/test_diffusion.py -m slow $(call LABEL,diffusion)
test-slow: $(STAMP)
	$(JOB) WM_SLOW=1 $(PYTEST) -v tests --ignore=tests/browser --ignore=tests/test_diffusion.py -m slow $(call LABEL,slow)
test-nbval-a test-nbval-b test-nbval-c: test-nbval-%: $(STAMP)
	files=$$($(BIN)/python tools/nbval_split.py $*) && \
		$(JOB) $(OTHER_MACHINE) $(NBVAL) -p no:cacheprovider --durations=10 $$files $(call LABEL,nbval-$*)
# The book (from the stored outputs) and its browser checks run when the reproductions end, in their place.
test-book: test-slow
	$(MAKE) --no-print-directory book $(call LABEL,book)
	$(JOB) $(BIN)/pytest -q tests/browser $(call LABEL,browser)
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
	  OMP_NUM_THREADS=1 $(EXECUTE) --output-dir $(RUNS)/one-thread/solutions $(SOLUTIONS) ) & one=$$!; \
	( $(OTHER_MACHINE) $(EXECUTE) --output-dir $(RUNS)/generic-cpu/notebooks $(NOTEBOOKS) && \
	  $(OTHER_MACHINE) $(EXECUTE) --output-dir $(RUNS)/generic-cpu/solutions $(SOLUTIONS) ) & two=$$!; \
	wait $$one; first=$$?; wait $$two; second=$$?; \
	if [ $$first != 0 ] || [ $$second != 0 ]; then \
		echo "make tolerances: a run failed (one thread: exit $$first, generic CPU: exit $$second)"; exit 1; fi
	for dir in notebooks solutions; do $(BIN)/python tests/nbval_tolerance.py measure $$dir \
		$(RUNS)/one-thread/$$dir $(RUNS)/generic-cpu/$$dir $(TOLERANCE_WRITE) || exit 1; done

exercises: $(STAMP)
	$(BIN)/python -m worldmodels.grading generate
	$(BIN)/python tools/exercise_statements.py

# The figures drawn by scripts: the landing page's animation and the workshop pages' figures.
figures: $(STAMP)
	$(BIN)/python tools/make_cover.py
	$(BIN)/python tools/workshop_figures.py

# Link the first use of each glossary term in every notebook's prose to the glossary (idempotent).
glossary: $(STAMP)
	$(BIN)/python tools/link_glossary.py $(NOTEBOOKS)

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
