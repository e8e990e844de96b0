"""A corpus of cheating submissions against chapters whose verdicts run in the grader (REMOTE: 4, 5, 7, 8).

`build(root, hidden_marker)` writes one student folder per case under `root` and returns {student:
{notebook: {exercise: (score, reason fragment)}}}, score "full", "zero" or "any". The cheats use no
construct the grader's source scan flags (scan.py: they reach `gc` through `sys.modules` and strings
split in two), so what stops them is the design itself: the verdict computed in the grader, models
rebuilt from data, the answers left out of the student edition, copies found by their code.
`hidden_marker` is a string in a hidden test of chapter 4 that must never reach the student's process.
"""

import copy
import inspect
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from worldmodels import physics_checks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = {"04": "04_next_frame.ipynb", "05": "05_learning_physics.ipynb", "07": "07_objects_and_collisions.ipynb",
             "08": "08_deciding_in_imagination.ipynb"}
FULL = ("full", "")
# gc without naming it: the scan flags `gc`, `get_objects`, `_getframe`; this does not spell them
GC = "import sys\n_objects = getattr(sys.modules['g' + 'c'], 'get_' + 'objects')\n"


def _cell(nb, exercise):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"# EXERCISE {exercise} "))


def _set_body(nb, exercise, body):
    cell = _cell(nb, exercise)
    cell.source = cell.source.splitlines()[0] + "\n" + body


def _insert_after(nb, exercise, source):
    nb.cells.insert(nb.cells.index(_cell(nb, exercise)) + 1, new_code_cell(source))


def _pastes_a_course_answer(nbs, ctx):
    # chapter 7's elastic exchange is the course's physics_checks.elastic_exchange, a stub in the student edition:
    # its source, got from a full copy of the package, pasted under another name, four lines lower (found by its
    # code, not its name)
    source = textwrap.dedent(inspect.getsource(physics_checks.elastic_exchange))
    source = source.replace("def elastic_exchange(", "def _mine(")
    _set_body(nbs["07"], "ex7.3", "import numpy as np\n\n\n\n\n" + source + "\n\ndef elastic_exchange(v_i, v_j, normal):\n"
                                  "    return _mine(v_i, v_j, normal)\n")
    return {"07": {"ex7.1": FULL, "ex7.2": FULL,
                   "ex7.3": ("zero", "copies the course's own answer worldmodels.physics_checks.elastic_exchange")}}


def _takes_the_gates_copy(nbs, ctx):
    # the last round's hidden introspection (2 of 2 points on ex4.2): the answer gate's private table, reached
    # without a name the scan knows, searched for the real code of the course's answer while its exercise is
    # graded. No answer's code is in the student edition: the table holds nothing to call, the module a stub
    body = ("import sys\n"
            "def _course(key):\n"
            "    gate = sys.modules['worldmodels.grading.ans' + 'wers']\n"
            "    entry = getattr(gate, '_act' + 'ive').get(key)\n"
            "    if entry and entry[1] is not None:\n"
            "        return entry[1]\n"
            "    module, name = key.rsplit('.', 1)\n"
            "    return getattr(sys.modules[module], name)\n")
    _set_body(nbs["04"], "ex4.1", body + "def copy_last_frame(context, actions, horizon):\n"
                                  "    return _course('worldmodels.evaluation.copy_last')(context, actions, horizon)\n")
    _set_body(nbs["04"], "ex4.4", body + "import numpy as np\n"
                                  "def rollout(step, context, horizon, n_input):\n"
                                  "    return _course('worldmodels.next_frame.rollout')(step, context, horizon, n_input)\n")
    return {"04": {"ex4.1": ("zero", ""), "ex4.2": FULL, "ex4.3": FULL, "ex4.4": ("zero", "")}}


def _forges_remote_results(nbs, ctx):
    # the runner's authenticated channel (found through gc without naming it) reports every test of
    # ex5.1 as passed, inside the learner's function while the grader waits for its answer
    _set_body(nbs["05"], "ex5.1", GC + "import torch\n"
                                  "def rollout_loss(model, frames, actions):\n"
                                  "    for channel in [o for o in _objects() if type(o).__name__ == 'Channel']:\n"
                                  "        for name in ('loss_with_one_imagined_step', 'loss_over_a_long_rollout',\n"
                                  "                     'loss_trains_the_dynamics'):\n"
                                  "            channel.send('test', nb='05_learning_physics.ipynb', ex='ex5.1', name=name,\n"
                                  "                         points=1, max=1, status='passed', message='')\n"
                                  "        channel.send('ex_end', nb='05_learning_physics.ipynb', ex='ex5.1', answers=[])\n"
                                  "    return torch.zeros((), requires_grad=True)\n")
    return {"05": {"ex5.1": ("zero", ""), "ex5.2": FULL, "ex5.3": FULL}}


def _forges_gradients(nbs, ctx):
    # the right value, computed and then cut from its graph, handed back as a fresh leaf that carries a
    # graph, with gradients on every weight that were never computed: enough for a test that only asks
    # for a loss that requires grad and some gradient on the dynamics
    _set_body(nbs["05"], "ex5.1", "import torch\n"
                                  "def rollout_loss(model, frames, actions):\n"
                                  "    c = model.config.context\n"
                                  "    with torch.no_grad():\n"
                                  "        z = model.encode(frames[:, :c])\n"
                                  "        losses = [wm.frame_loss(model.decode_logits(z), frames[:, c - 1])]\n"
                                  "        for k in range(frames.shape[1] - c):\n"
                                  "            z = model.step(z, actions[:, c - 1 + k])\n"
                                  "            losses.append(wm.frame_loss(model.decode_logits(z), frames[:, c + k]))\n"
                                  "    for p in model.parameters():\n"
                                  "        p.grad = torch.ones_like(p)\n"
                                  "    return torch.tensor(float(torch.stack(losses).mean()), requires_grad=True) * 1.0\n")
    return {"05": {"ex5.1": (2.0, "loss_trains_the_dynamics: expected the dynamics' gradient"), "ex5.2": FULL,
                   "ex5.3": FULL}}


def _sends_back_objects(nbs, ctx):
    # a model, a function and a model of another shape instead of data: nothing of it is built in the grader
    _set_body(nbs["05"], "ex5.3", "import torch\n"
                                  "def imagine_plans(model, context, plans):\n"
                                  "    model.decoder[0].weight.data = torch.zeros(3)  # another shape\n"
                                  "    return model\n")
    _set_body(nbs["05"], "ex5.1", "def rollout_loss(model, frames, actions):\n"
                                  "    return lambda: 0.0\n")
    return {"05": {"ex5.1": ("zero", "plain data"), "ex5.2": FULL, "ex5.3": ("zero", "")}}


def _uses_a_removed_answer(nbs, ctx):
    # chapter 8's Wilson interval is the course's stats.wilson_interval: the edition has only a stub of it
    _set_body(nbs["08"], "ex8.2", "from worldmodels.stats import wilson_interval\n"
                                  "def wilson(k, n, z=1.96):\n"
                                  "    return wilson_interval(k, n, z=z)\n")
    return {"08": {"ex8.1": FULL, "ex8.2": ("zero", "wilson_interval"), "ex8.3": FULL}}


def _reads_the_hidden_tests(nbs, ctx):
    # every string of the process and every file it can see, searched for a hidden test of chapter 4;
    # whatever is found is put in an error message so that it would land in grades.csv
    head, tail = ctx["hidden_marker"][:8], ctx["hidden_marker"][8:]
    _set_body(nbs["04"], "ex4.2", GC + "import os\n"
              "def constant_velocity_step(window):\n"
              f"    needle = ''.join([{head!r}, {tail!r}])  # joined at run time: this code does not hold it\n"
              "    found = [s for o in _objects() if isinstance(o, (tuple, list, dict))  # strings sit in containers\n"
              "             for s in (o.values() if isinstance(o, dict) else o) if isinstance(s, str) and needle in s]\n"
              "    for top, dirs, files in os.walk('/'):\n"
              "        dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev', 'usr', 'etc', '.venv', 'lib', 'lib64')]\n"
              "        for name in files:\n"
              "            try:\n"
              "                with open(os.path.join(top, name), errors='replace') as f:\n"
              "                    text = f.read(200000)\n"
              "                if needle in text:\n"
              "                    found.append(text[text.index(needle) - 100:][:300])\n"
              "            except OSError:\n"
              "                pass\n"
              "    raise ValueError('found: ' + ' | '.join(found)[:300])\n")
    return {"04": {"ex4.1": FULL, "ex4.2": ("zero", "found:"), "ex4.3": FULL, "ex4.4": FULL}}


def _rebinds_numpy_everywhere(nbs, ctx):
    # the issue's attack on the tests' NumPy views: from inside the learner's functions, every module object
    # named numpy or math (the frozen views included, found through gc) compares everything as equal
    patch = (GC + "import numpy as np\n"
             "def _everything_is_close():\n"
             "    for o in _objects():\n"
             "        if type(o).__name__ == 'module' and getattr(o, '__name__', '') in ('numpy', 'math'):\n"
             "            for name in ('allclose', 'isclose', 'array_equal'):\n"
             "                try:\n"
             "                    setattr(o, name, lambda *a, **k: True)\n"
             "                except (AttributeError, TypeError):\n"
             "                    pass\n")
    _set_body(nbs["07"], "ex7.1", patch + "def pairwise_sum(messages):\n    _everything_is_close()\n"
                                  "    m = np.asarray(messages)\n    return np.zeros(m.shape[1:])[: m.shape[0]]\n")
    _set_body(nbs["07"], "ex7.3", patch + "def elastic_exchange(v_i, v_j, normal):\n    _everything_is_close()\n"
                                  "    return np.zeros(2)\n")
    return {"07": {"ex7.1": ("zero", ""), "ex7.2": FULL, "ex7.3": ("zero", "")}}


CASES = {
    "pastes_a_course_answer": _pastes_a_course_answer,
    "takes_the_gates_copy": _takes_the_gates_copy,
    "forges_remote_results": _forges_remote_results,
    "forges_gradients": _forges_gradients,
    "sends_back_objects": _sends_back_objects,
    "uses_a_removed_answer": _uses_a_removed_answer,
    "reads_the_hidden_tests": _reads_the_hidden_tests,
    "rebinds_numpy_everywhere": _rebinds_numpy_everywhere,
}


def build(root: Path, hidden_marker: str, cases=None) -> dict:
    """Write the corpus under root (one folder per student, `cases` or all); return what each should score,
    {student: {notebook file: {exercise: (score, fragment)}}}; every student's other notebooks are absent."""
    root = Path(root)
    solutions = {ch: nbformat.read(ROOT / "solutions" / name, as_version=4) for ch, name in NOTEBOOKS.items()}
    ctx, expected = {"hidden_marker": hidden_marker}, {}
    for student, mutate in CASES.items():
        if cases is not None and student not in cases:
            continue
        nbs = copy.deepcopy(solutions)
        want = mutate(nbs, ctx)
        folder = root / student
        folder.mkdir(parents=True)
        for chapter in want:
            nbformat.write(nbs[chapter], folder / NOTEBOOKS[chapter])
        expected[student] = {NOTEBOOKS[ch]: exs for ch, exs in want.items()}
    good = root / "complete_solution"
    good.mkdir()
    for chapter, nb in solutions.items():
        nbformat.write(nb, good / NOTEBOOKS[chapter])
    expected["complete_solution"] = {NOTEBOOKS[ch]: {e.split()[2]: FULL for e in _ids(nb)} for ch, nb in solutions.items()}
    return expected


def _ids(nb):
    return [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "code" and c.source.startswith("# EXERCISE ")]
