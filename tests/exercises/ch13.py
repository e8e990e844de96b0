"""Grading tests of chapter 13's exercises (solutions/13_latent_actions.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny arrays whose
answers are worked out by hand in the comments.
"""

import numpy as np

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs them in
# its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


def _array(x):
    return np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, dtype=float)


# ex13.1 quantise_straight_through(e, codebook, upstream) -> (q, index, gradient on e of (q_st * upstream).sum()).


@exercise_test("ex13.1", points=1, hint="The nearest code by Euclidean distance: torch.cdist(e, codebook).argmin(dim=1); q = codebook[index].")
def snaps_to_the_nearest_code(ns):
    # (0.9, 1.2) is nearest (1, 1); (0.1, -0.1) nearest (0, 0); (-0.8, 1.5) nearest (-1, 2)
    codebook = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]])
    e = np.array([[0.9, 1.2], [0.1, -0.1], [-0.8, 1.5]])
    q, index, _ = ns["quantise_straight_through"](e, codebook, np.ones((3, 2)))
    assert _array(index).astype(int).tolist() == [1, 0, 2], f"expected codes [1, 0, 2], got {_array(index).tolist()}"
    assert np.allclose(_array(q), codebook[[1, 0, 2]]), f"expected the codes' vectors, got {_array(q).tolist()}"


@exercise_test("ex13.1", points=1, hint="q_st = e + (q - e).detach(): forward it equals q, backward its gradient with respect to e is the identity.")
def gradient_passes_straight_through(ns):
    codebook = np.array([[0.0, 0.0], [1.0, 1.0]])
    e = np.array([[0.9, 1.2], [0.1, -0.1]])
    upstream = np.array([[1.0, 2.0], [3.0, -4.0]])
    _, _, grad = ns["quantise_straight_through"](e, codebook, upstream)
    assert grad is not None, "no gradient reached e: build q_st = e + (q - e).detach() from an e that requires grad"
    assert np.allclose(_array(grad), upstream), f"expected the upstream gradient {upstream.tolist()} on e, got {_array(grad).tolist()}"


# ex13.2 best_one_to_one(confusion) -> mapping[action] = code, one-to-one, most agreeing steps.


@exercise_test("ex13.2", points=1, hint="Try every assignment of distinct codes to the actions (itertools.permutations(range(n_codes), n_actions)) and keep the one with the largest sum.")
def beats_the_greedy_choice(ns):
    # greedy: both action 0 and action 1 prefer code 0. One-to-one: 0 -> 1 (45) + 1 -> 0 (40) + 2 -> 2 (30) = 115
    # beats 0 -> 0 (50) + 1 -> 1 (5) + 2 -> 2 (30) = 85
    confusion = np.array([[50, 40, 0], [45, 5, 0], [0, 0, 30]])
    got = [int(c) for c in ns["best_one_to_one"](confusion)]
    assert got == [1, 0, 2], f"expected mapping [1, 0, 2] (115 agreeing steps), got {got}"


@exercise_test("ex13.2", points=1, hint="With more codes than actions, some codes stay unused; mapping has one entry per action (column).")
def more_codes_than_actions(ns):
    # 4 codes, 2 actions: action 0 -> code 3 (9), action 1 -> code 1 (7)
    confusion = np.array([[1, 0], [0, 7], [2, 6], [9, 1]])
    got = [int(c) for c in ns["best_one_to_one"](confusion)]
    assert got == [3, 1], f"expected mapping [3, 1], got {got}"
    permuted = np.random.default_rng(0).permutation(5)
    eye = np.eye(5, dtype=int)[permuted] * 10  # code permuted[a] ... row i is code i: action permuted[i]
    got = [int(c) for c in ns["best_one_to_one"](eye)]
    expected = np.argsort(permuted).tolist()
    assert got == expected, f"expected {expected} for a permuted diagonal, got {got}"


# ex13.3 direction_agreement(shifts, direction, max_angle_deg=45) -> fraction within the angle.


@exercise_test("ex13.3", points=1, hint="cos(angle) = shift . direction / (|shift| |direction|); agree when it is above cos(45 degrees).")
def agreement_by_hand(ns):
    # (1, 0.2): 11 degrees, agrees; (0.5, -0.6): 50 degrees, no; (-0.1, 1): 96 degrees, no; (2, 1.9): 43.5 degrees, agrees
    shifts = np.array([[1.0, 0.2], [0.5, -0.6], [-0.1, 1.0], [2.0, 1.9]])
    got = float(ns["direction_agreement"](shifts, np.array([1.0, 0.0])))
    assert np.isclose(got, 0.5), f"expected 0.5 (two of four within 45 degrees), got {got}"
    got = float(ns["direction_agreement"](shifts, np.array([0.0, 3.0]), 90.0))
    assert np.isclose(got, 0.75), f"expected 0.75 within 90 degrees of (0, 3) (y down), got {got}"


@exercise_test("ex13.3", points=1, hint="A shift of zero has no direction: it never agrees (guard the division by its length).")
def zero_shift_never_agrees(ns):
    got = float(ns["direction_agreement"](np.array([[0.0, 0.0], [0.0, -2.0]]), np.array([0.0, -1.0])))
    assert np.isclose(got, 0.5), f"expected 0.5 (the zero shift does not agree), got {got}"


ANSWERS = {
    "ex13.1": ("worldmodels.latent_actions.quantise",),
    "ex13.2": ("worldmodels.latent_actions_training.best_mapping",),
    "ex13.3": ("worldmodels.latent_actions_training.agrees_in_direction",),
}
