"""The set-ups without `make` that book/run_it_yourself.md documents, run for real on Linux.

Two quick checks always run: `pyproject.toml` lists every third-party package the package imports, and
make's set-up installs torch from PyTorch's CPU-only index with a quick fallback to the configured index.
The others are slow (a fresh virtual environment each, a few minutes) and partly online, so they run only
with WM_INSTALL_TEST=1 (`make install-test`):

* `test_offline_install_from_the_wheelhouse`: a fresh venv installs the pinned requirements and the
  course package from `wheelhouse/linux_x86_64` (`make wheelhouse`) with `--no-index` (no network at
  all), imports the package, checks that torch is the CPU build, and runs chapter 1 end to end;
* `test_documented_pip_setup`: the documented online path, step by step: `python -m venv`, torch from
  PyTorch's CPU-only index (TORCH_CPU_INDEX), `pip install -r requirements.txt`, `pip install -e .`,
  then an import and one simulated video. Needs PyPI (and the CPU index, or a local copy of its wheel
  that this machine's pip configuration finds).

The machine's own pip configuration is switched off for the offline test (PIP_CONFIG_FILE=/dev/null,
no PIP_* variables), so nothing but the wheelhouse can satisfy a requirement.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = Path(os.environ.get("WM_WHEELHOUSE", ROOT / "wheelhouse")) / "linux_x86_64"
TORCH_CPU_INDEX = os.environ.get("TORCH_CPU_INDEX", "https://download.pytorch.org/whl/cpu")

install_test = pytest.mark.skipif(not os.environ.get("WM_INSTALL_TEST"),
                                  reason="slow install tests: set WM_INSTALL_TEST=1 (make install-test)")
# Import names that differ from the name pip installs.
DISTRIBUTIONS = {"PIL": "pillow", "IPython": "ipython", "matplotlib_inline": "matplotlib-inline"}


def test_pyproject_lists_every_package_the_course_imports():
    import tomllib

    declared = {re.split(r"[<>=\[ ;]", d)[0].lower()
                for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    imported = set()
    for path in (ROOT / "worldmodels").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "worldmodels"}
    missing = sorted(DISTRIBUTIONS.get(name, name).lower() for name in third_party
                     if DISTRIBUTIONS.get(name, name).lower() not in declared)
    assert not missing, f"pyproject.toml's dependencies lack {missing}"


def test_make_installs_the_cpu_torch_first_with_a_quick_fallback():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(STAMP): requirements.txt"):makefile.index("touch $(STAMP)")]
    first, fallback = recipe.index("--index-url $(TORCH_CPU_INDEX)"), recipe.index("|| {")
    assert "TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu" in makefile
    assert "--retries 0" in recipe and "--timeout 10" in recipe
    assert first < fallback < recipe.index("-r requirements.txt"), "torch first, then the fallback, then the pins"


def _base_python() -> str:
    """The interpreter the course's .venv was made from (a venv of a venv would work too)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _run(args, env, cwd=ROOT, timeout=1200):
    started = time.monotonic()
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    assert done.returncode == 0, (f"{' '.join(map(str, args))} failed ({done.returncode}) after {seconds:.0f} s:\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _clean_env(venv: Path, offline: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not (offline and k.startswith("PIP_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    if offline:
        env["PIP_CONFIG_FILE"] = os.devnull
        env["PIP_NO_INDEX"] = "1"
    return env


@install_test
def test_offline_install_from_the_wheelhouse(tmp_path):
    if not WHEELHOUSE.is_dir():
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: run `make wheelhouse` (or `make install-test`) first")
    venv = tmp_path / "venv"
    env = _clean_env(venv, offline=True)
    _run([_base_python(), "-m", "venv", venv], env)
    pip = [venv / "bin" / "python", "-m", "pip", "--no-cache-dir", "--disable-pip-version-check"]
    # Exactly the commands of book/run_it_yourself.md, "A room without internet".
    _run([*pip, "install", "--no-index", "--find-links", WHEELHOUSE, "-r", "requirements.txt"], env)
    _run([*pip, "install", "--no-index", "--find-links", WHEELHOUSE, "-e", "."], env)
    out = _run([venv / "bin" / "python", "-c",
                "import torch, worldmodels, worldmodels.world_model; print(torch.__version__)"], env, cwd=tmp_path)
    assert "+cpu" in out, f"the wheelhouse installed a torch that is not the CPU build: {out}"
    notebook = "notebooks/01_what_is_a_world_model.ipynb"
    _run([venv / "bin" / "jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", tmp_path / "out",
          "--ExecutePreprocessor.timeout=600", ROOT / notebook], env, timeout=900)
    assert (tmp_path / "out" / Path(notebook).name).exists()


@install_test
def test_documented_pip_setup(tmp_path):
    venv = tmp_path / "venv"
    env = _clean_env(venv, offline=False)
    _run([_base_python(), "-m", "venv", venv], env)
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    torch_pin = next(line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                     if line.startswith("torch=="))
    # book/run_it_yourself.md, "Linux": the CPU-only torch first, then the pins, then the course package.
    _run([*pip, "install", torch_pin, "--index-url", TORCH_CPU_INDEX], env)
    _run([*pip, "install", "-r", "requirements.txt"], env)
    _run([*pip, "install", "-e", "."], env)
    out = _run([venv / "bin" / "python", "-c",
                "import torch; from worldmodels.data import make_split; v = make_split('test', 2, 5); "
                "print(torch.__version__, v.frames.shape)"], env, cwd=tmp_path)
    assert "+cpu" in out and "(2, 5, 32, 32)" in out, out
    lister = _run([*pip, "list", "--format=freeze"], env)
    assert not [line for line in lister.splitlines() if line.lower().startswith("nvidia")], \
        "the set-up pulled CUDA libraries: install torch from the CPU-only index first"
