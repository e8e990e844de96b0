"""The grader's isolation pieces, one by one: files as data, plain data on the wire, the verdict in the
grader, the grading edition of the package and the per-student control group."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from worldmodels.grading.cgroups import StudentGroup, kind
from worldmodels.grading.edition import removable, student_edition
from worldmodels.grading.grader import course_exercises, read_tests
from worldmodels.grading.registry import exercise_test, repo_root
from worldmodels.grading.remote import RemoteNamespace, is_remote, run_remote
from worldmodels.grading.submission import copy_submission
from worldmodels.grading.wire import Unsendable, decode, encode, raised, reraise

ROOT = repo_root()


def test_only_regular_files_are_copied_and_links_are_never_followed(tmp_path):
    src, dst, secret = tmp_path / "student", tmp_path / "copy", tmp_path / "secret.txt"
    (src / "sub").mkdir(parents=True)
    secret.write_text("the instructor's")
    (src / "01_x.ipynb").write_text("{}")
    (src / "sub" / "data.csv").write_text("1,2")
    (src / "02_y.ipynb").symlink_to(secret)
    (src / "environ.ipynb").symlink_to("/proc/self/environ")
    (src / "linked_dir").symlink_to(tmp_path)
    os.mkfifo(src / "03_z.ipynb")
    problems = copy_submission(src, dst)
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*")) == ["01_x.ipynb", "sub", "sub/data.csv"]
    assert "symbolic link" in problems["02_y.ipynb"] and "symbolic link" in problems["environ.ipynb"]
    assert "symbolic link" in problems["linked_dir"] and "FIFO" in problems["03_z.ipynb"]
    assert not any("instructor" in why or "PATH=" in why for why in problems.values())
    (tmp_path / "link_student").symlink_to(src)
    assert "symbolic link" in copy_submission(tmp_path / "link_student", tmp_path / "copy2")[""]


def test_plain_data_round_trips_and_nothing_else_travels():
    value = {"a": (1, 2.5, float("nan"), None, "s"), 3: [np.arange(6.0).reshape(2, 3), np.float32(1.5)],
             "t": torch.ones(2, dtype=torch.float64), "s": slice(1, None, 2), "size": torch.Size([2, 3])}
    back = decode(encode(value))
    assert back["a"][:2] == (1, 2.5) and np.isnan(back["a"][2]) and back["a"][3:] == (None, "s")
    assert np.array_equal(back[3][0], value[3][0]) and back[3][1].dtype == np.float32
    assert back["t"].dtype == torch.float64 and back["s"] == slice(1, None, 2) and back["size"] == (2, 3)
    for bad in (lambda x: x, object(), np.array([object()]), torch.nn.Linear(1, 1)):
        with pytest.raises(Unsendable):
            encode(bad)
    with pytest.raises(ValueError):  # a pickle in disguise is refused by np.load(allow_pickle=False)
        import base64
        import io
        buffer = io.BytesIO()
        np.save(buffer, np.array([{}], dtype=object), allow_pickle=True)
        decode({"$array": base64.b64encode(buffer.getvalue()).decode()})


def test_exceptions_travel_as_their_builtin_kind():
    class MyError(ValueError):
        pass

    error = reraise(raised(MyError("bad shape")))
    assert isinstance(error, ValueError) and type(error).__name__ == "MyError" and str(error) == "bad shape"
    assert type(reraise(raised(NotImplementedError("ex1.1: stub")))) is NotImplementedError
    exit_error = reraise(raised(SystemExit(3)))
    assert isinstance(exit_error, Exception) and not isinstance(exit_error, SystemExit)


def test_remote_tests_judge_in_the_grader_with_only_answers_from_the_student():
    @exercise_test("ex9.9", points=2)
    def doubles(ns):
        got = np.asarray(ns["double"](np.array([1.0, 2.0])))
        assert np.allclose(got, [2.0, 4.0]), f"expected [2, 4], got {got.tolist()}"

    seen = []

    def call(request):  # the student's side: a learner's function that returns zeros
        seen.append(request)
        if request["op"] == "get":
            return {"callable": True}
        return {"value": encode(np.zeros(2))}

    (outcome,) = run_remote([doubles.__exercise_test__], call, lambda: 10.0)
    assert outcome["status"] == "failed" and outcome["points"] == 0 and "expected [2, 4]" in outcome["message"]
    assert [r["op"] for r in seen] == ["get", "call"], "the student's process only sees inputs"
    missing = RemoteNamespace(lambda request: {"missing": True})
    with pytest.raises(AssertionError, match="does not define `double`"):
        missing["double"]
    assert is_remote((ROOT / "tests" / "exercises" / "ch01.py").read_text())
    assert not is_remote("REMOTE = False\n")


def test_the_grading_edition_leaves_out_the_answers_nothing_needs(tmp_path):
    tests = read_tests(course_exercises())
    remove = removable(tests)
    assert remove.get("worldmodels.physics.kinetic_energy") == "ex1.2"
    assert "worldmodels.oracle.reflect" not in remove, "the simulator needs reflect: it stays"
    edition = student_edition(tmp_path, remove)
    text = (edition / "physics.py").read_text()
    assert "is the course's answer to ex1.2" in text and "einsum" not in text.split("def kinetic_energy")[1][:600]
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import worldmodels.physics as p, numpy as np\n"
              "try:\n    p.kinetic_energy(np.ones((1, 1, 1, 2)))\nexcept NotImplementedError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert "not in the student edition" in out.stdout, out.stderr


@pytest.mark.skipif(kind() == "none", reason="no cgroups the grader may use here")
def test_a_student_group_caps_processes_even_for_root():
    group = StudentGroup(memory_mb=512, processes=16)
    try:
        script = ("import os, time\nn = 0\nfor _ in range(64):\n    try:\n        pid = os.fork()\n"
                  "    except OSError:\n        break\n    if pid == 0:\n        os.close(1)\n        os.close(2)\n        time.sleep(30)\n        os._exit(0)\n"
                  "    n += 1\nprint(n)\n")
        out = subprocess.run(group.prefix([sys.executable, "-I", "-c", script]), capture_output=True, text=True,
                             timeout=60)
        assert 0 < int(out.stdout) < 16, out.stdout + out.stderr
        assert group.pids(), "the sleeping children are in the group"
    finally:
        group.close()
    time.sleep(0.1)
    assert group.pids() == [] and group.folders == []
