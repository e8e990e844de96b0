"""What may cross from the grader to a student's process besides plain data, and back: torch modules
rebuilt from their config and weights, helpers of the public test modules by name, and nothing a
student's reply could use to make the grader build an object."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from worldmodels import world_model as wm
from worldmodels.grading.grader import course_exercises, read_tests
from worldmodels.grading.registry import HIDDEN, exercise_test
from worldmodels.grading.remote import RemoteNamespace, public_helpers, remote_chapters, remote_tests, run_remote
from worldmodels.grading.runner import Builder, _backpropagate, load_helpers
from worldmodels.grading.wire import Outgoing, Unsendable, decode, encode, module_state

TINY = wm.WorldModelConfig(context=3, latent=6, enc_hidden=12, dyn_hidden=12, dec_hidden=12)


def _student_side(request, helpers=None, learner=None):
    """What the runner does with a "call" request: rebuild, call, backpropagate, send back."""
    builder = Builder(helpers or {})
    args, kwargs = decode(request["args"], builder), decode(request["kwargs"], builder)
    result = learner(*args, **kwargs)
    _backpropagate(result, builder.modules)
    return {"value": encode(result), "modules": [module_state(m) for m in builder.modules]}


def test_a_course_module_is_rebuilt_from_its_config_and_weights():
    torch.manual_seed(0)
    model, linear = wm.WorldModel(TINY), torch.nn.Linear(3, 2)
    linear.weight.grad = torch.ones_like(linear.weight)
    outgoing = Outgoing()
    data = encode([model, linear], outgoing=outgoing)
    assert outgoing.modules == [model, linear]
    builder = Builder({})
    rebuilt, rebuilt_linear = decode(data, builder)
    assert type(rebuilt) is wm.WorldModel and rebuilt.config == TINY and rebuilt is not model
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values()))
    assert torch.equal(rebuilt_linear.weight.grad, torch.ones(2, 3)) and rebuilt_linear.bias.grad is None
    with pytest.raises(ValueError, match="only from the grader"):
        decode(data)  # the grader's own decode (of a student's reply) builds no module
    with pytest.raises(Unsendable):
        encode(torch.nn.Sequential(torch.nn.Linear(1, 1)), outgoing=Outgoing())  # no recipe to rebuild it
    with pytest.raises(ValueError, match="may not build"):
        Builder({}).module({"$module": "os.system", "init": {}})


def test_what_the_learner_did_to_a_model_comes_back_as_if_called_here():
    torch.manual_seed(1)
    model = wm.WorldModel(TINY)
    frames, actions = torch.rand(2, 5, 32, 32), torch.randn(2, 5, 2)

    def learner(m, f, a):  # an honest rollout_loss: its graph goes through the dynamics
        return wm.rollout_loss(m, f, a)

    def call(request):
        if request["op"] == "get":
            return {"callable": True}
        return _student_side(request, learner=learner)

    loss = RemoteNamespace(call)["rollout_loss"](model, frames, actions)
    reference = wm.WorldModel(TINY)
    reference.load_state_dict(model.state_dict())
    expected = wm.rollout_loss(reference, frames, actions)
    expected.backward()
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-6) and loss.requires_grad
    assert torch.allclose(model.dynamics[0].weight.grad, reference.dynamics[0].weight.grad)

    def shrinks(m, f, a):  # a learner that changes a weight's shape: refused, not loaded
        m.dynamics[0].weight.data = torch.zeros(1)
        return torch.zeros(())

    bad = RemoteNamespace(lambda r: {"callable": True} if r["op"] == "get" else _student_side(r, learner=shrinks))
    with pytest.raises(ValueError, match="another shape"):
        bad["rollout_loss"](model, frames, actions)


def test_only_helpers_of_public_test_modules_travel_by_name(tmp_path):
    tests = read_tests(course_exercises())
    found, _ = remote_tests(tests)
    helper = public_helpers(found)
    step = next(t for t in found["ex4.4"]).func.__globals__["_plus_one"]
    assert helper(step) == ["04", "_plus_one"]
    assert helper(lambda window: window) is None and helper(np.mean) is None
    with pytest.raises(Unsendable):
        encode([lambda window: window], outgoing=Outgoing(helper))
    model_class = next(t for t in found["ex8.3"]).func.__globals__["_SlidingModel"]
    data = encode([step, model_class()], outgoing=Outgoing(helper))
    public = [t for t in tests if t[0] in remote_chapters(tests) and HIDDEN not in Path(t[1]).parts]
    helpers = load_helpers(public)
    got_step, got_model = decode(data, Builder(helpers))
    assert got_step is helpers["04"]["_plus_one"] and type(got_model) is helpers["08"]["_SlidingModel"]
    assert np.array_equal(got_step(np.ones((1, 2, 1, 1))), 2 * np.ones((1, 1, 1)))
    with pytest.raises(ValueError, match="only from the grader"):
        decode(data)

    # a helper of a hidden test module is never named: its test cannot hand it over
    hidden = tmp_path / HIDDEN
    hidden.mkdir()
    (hidden / "ch04.py").write_text("from worldmodels.grading import exercise_test\n\n"
                                    "def _secret(window):\n    return window[:, -1] * 7\n\n"
                                    "@exercise_test('ex4.4', points=1)\ndef secret(ns):\n"
                                    "    ns['rollout'](_secret, None, 1, 1)\n")
    tests_with_hidden = tests + [("04", str(hidden / "ch04.py"), (hidden / "ch04.py").read_text())]
    found, _ = remote_tests(tests_with_hidden)
    secret = next(t for t in found["ex4.4"] if t.name == "secret")
    assert public_helpers(found)(secret.func.__globals__["_secret"]) is None
    (outcome,) = run_remote([secret], lambda request: {"callable": True}, lambda: 10.0, public_helpers(found))
    assert outcome["status"] == "error" and "remove REMOTE" in outcome["message"]


def test_a_forged_reply_builds_nothing_in_the_grader():
    @exercise_test("ex9.9", points=1)
    def takes_a_number(ns):
        assert ns["f"](1.0) == 2.0

    forged = {"value": {"$module": "worldmodels.world_model.WorldModel", "init": {}}}
    (outcome,) = run_remote([takes_a_number.__exercise_test__],
                            lambda r: {"callable": True} if r["op"] == "get" else forged, lambda: 10.0)
    assert outcome["points"] == 0 and "only from the grader" in outcome["message"]
    wrong_count = {"value": 2.0, "modules": [{"state": {}}]}  # modules for a call that sent none
    (outcome,) = run_remote([takes_a_number.__exercise_test__],
                            lambda r: {"callable": True} if r["op"] == "get" else wrong_count, lambda: 10.0)
    assert outcome["points"] == 0 and "wrong number of models" in outcome["message"]


def test_the_source_scan_finds_pasted_answers_and_flags_introspection():
    import inspect
    import textwrap

    import nbformat

    from worldmodels import stats
    from worldmodels.grading.grader import _python_source
    from worldmodels.grading.registry import all_answers, repo_root
    from worldmodels.grading.scan import answer_prints, copied, introspection

    prints = answer_prints(all_answers())
    source = textwrap.dedent(inspect.getsource(stats.wilson_interval))
    pasted = "\n" * 9 + source.replace("def wilson_interval(", "def my_interval(").replace("    p = ", "    p  =  ")
    # found for chapter 8's ex8.2 also where another chapter's exercise has the same answer (ex9.6 uses it too)
    assert copied([(3, "import math\n" + pasted)], prints).get("ex8.2") == ["worldmodels.stats.wilson_interval"]
    rewritten = pasted.replace("z * z", "z ** 2")  # a changed expression is another function
    assert copied([(3, rewritten)], prints) == {}
    # no honest notebook of the course copies an answer, or uses a construct the scan flags
    for folder in ("solutions", "notebooks"):
        for path in sorted((repo_root() / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            cells = [(i, _python_source(c.source)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
            assert copied(cells, prints) == {} and introspection(cells) == [], path.name
    cells = [(0, "import numpy as np\nx = np.zeros(3).sum()"), (1, "import gc"), (2, "f = g.__code__"),
             (3, "getattr(f, '__glo' 'bals__')"), (4, "exec('1')"), (5, "model.eval()")]
    assert [(c, what) for c, _, what in introspection(cells)] == [(1, "gc"), (2, "__code__"),
                                                                  (3, "'__globals__' in a string"), (4, "exec")]
