"""Grading tests of chapter 2's exercises (solutions/02_next_token.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs
whose answers are worked out by hand in the comments.
"""

import math

import numpy as np
import torch

from worldmodels.grading import exercise_test, expect_array

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs them in
# its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


# ex2.1 bigram_probabilities(counts, smoothing): (V, V) counts -> row-normalised probabilities.


@exercise_test("ex2.1", points=1, hint="Divide each row by its own sum: counts / counts.sum(axis=1, keepdims=True).")
def probabilities_by_hand(ns):
    probs = expect_array(ns["bigram_probabilities"](np.array([[1, 3], [0, 2]]), 0.0), "bigram_probabilities")
    assert probs.shape == (2, 2), f"expected shape (2, 2), got {probs.shape}"
    assert np.allclose(probs, [[0.25, 0.75], [0.0, 1.0]]), f"expected [[0.25, 0.75], [0.0, 1.0]], got {probs.tolist()}"


@exercise_test("ex2.1", points=1, hint="Add the smoothing to every count before you normalise.")
def probabilities_with_smoothing(ns):
    # counts + 1 = [[2, 4, 1], [1, 1, 1], [6, 1, 1]] -> rows / 7, / 3, / 8
    counts = np.array([[1, 3, 0], [0, 0, 0], [5, 0, 0]])
    probs = expect_array(ns["bigram_probabilities"](counts.copy(), 1.0), "bigram_probabilities")
    expected = np.array([[2 / 7, 4 / 7, 1 / 7], [1 / 3, 1 / 3, 1 / 3], [6 / 8, 1 / 8, 1 / 8]])
    assert probs.shape == (3, 3), f"expected shape (3, 3), got {probs.shape}"
    assert np.allclose(probs.sum(axis=1), 1), f"expected rows summing to 1, got {probs.sum(axis=1).tolist()}"
    assert np.allclose(probs, expected), f"expected {expected.round(3).tolist()}, got {probs.round(3).tolist()}"


# ex2.2 sequence_nll(probs, ids): mean -ln P[ids[t], ids[t+1]] over the len(ids) - 1 transitions.


@exercise_test("ex2.2", points=1, hint="A uniform model gives every token probability 1/V, so each step costs ln V.")
def nll_of_uniform_model_is_log_v(ns):
    probs = np.full((5, 5), 0.2)
    nll = float(ns["sequence_nll"](probs, [0, 3, 1, 4, 0]))
    assert math.isclose(nll, math.log(5), rel_tol=1e-9), f"expected ln 5 = {math.log(5):.6f}, got {nll:.6f}"


@exercise_test("ex2.2", points=1, hint="Average over transitions (pairs), not over tokens: 3 tokens make 2 pairs.")
def nll_by_hand(ns):
    probs = np.array([[0.1, 0.9], [0.5, 0.5]])
    # 0 -> 1 costs -ln 0.9, 1 -> 0 costs -ln 0.5; mean of the two
    expected = -(math.log(0.9) + math.log(0.5)) / 2
    nll = float(ns["sequence_nll"](probs, [0, 1, 0]))
    assert math.isclose(nll, expected, rel_tol=1e-9), f"expected {expected:.6f} nats, got {nll:.6f}"


# ex2.3 softmax_with_temperature(logits, temperature): probabilities of softmax(logits / temperature).


@exercise_test("ex2.3", points=1, hint="At temperature 1 this is the ordinary softmax: exp(l) / sum(exp(l)).")
def temperature_one_is_softmax(ns):
    logits = np.array([1.0, 2.0, 0.5, -1.0])
    probs = expect_array(ns["softmax_with_temperature"](logits.copy(), 1.0), "softmax_with_temperature")
    expected = np.exp(logits) / np.exp(logits).sum()
    assert probs.shape == (4,), f"expected shape (4,), got {probs.shape}"
    assert np.allclose(probs, expected), f"expected {expected.round(4).tolist()}, got {probs.round(4).tolist()}"


@exercise_test("ex2.3", points=1, hint="Divide the logits by the temperature; for temperature 0 return a one-hot vector at the argmax.")
def temperature_sharpens_and_flattens(ns):
    logits = np.array([0.0, 3.0, 1.0])
    half = expect_array(ns["softmax_with_temperature"](logits.copy(), 0.5), "softmax_with_temperature")
    expected = np.exp(2 * logits) / np.exp(2 * logits).sum()
    assert np.allclose(half, expected), f"at temperature 0.5 expected {expected.round(4).tolist()}, got {half.round(4).tolist()}"
    zero = expect_array(ns["softmax_with_temperature"](logits.copy(), 0.0), "softmax_with_temperature")
    assert np.allclose(zero, [0, 1, 0]), f"at temperature 0 expected one-hot [0, 1, 0], got {zero.tolist()}"
    hot = expect_array(ns["softmax_with_temperature"](logits.copy(), 1000.0), "softmax_with_temperature")
    assert np.allclose(hot, 1 / 3, atol=1e-3), f"at temperature 1000 expected nearly uniform, got {hot.round(4).tolist()}"


@exercise_test("ex2.3", points=1, hint="Subtract the largest logit before exp() so that large logits do not overflow.")
def temperature_is_numerically_stable(ns):
    probs = expect_array(ns["softmax_with_temperature"](np.array([1000.0, 1000.0, 0.0]), 1.0), "softmax_with_temperature")
    assert np.allclose(probs, [0.5, 0.5, 0.0]), f"expected [0.5, 0.5, 0.0] for logits [1000, 1000, 0], got {probs.tolist()}"


# ex2.4 causal_attention(scores): (T, T) scores -> attention weights, zero above the diagonal.


@exercise_test("ex2.4", points=1, hint="Set the scores above the diagonal (key s > query t) to -inf, then softmax each row.")
def causal_attention_masks_the_future(ns):
    scores = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    weights = expect_array(ns["causal_attention"](scores.clone()), "causal_attention")
    assert weights.shape == (5, 5), f"expected shape (5, 5), got {weights.shape}"
    upper = np.triu(weights, k=1)
    assert np.all(upper == 0), f"expected zeros above the diagonal (the future), got {upper.round(3).tolist()}"
    assert np.allclose(weights.sum(axis=1), 1), f"expected rows summing to 1, got {weights.sum(axis=1).round(4).tolist()}"


@exercise_test("ex2.4", points=1, hint="Row t is the softmax of scores[t, :t + 1] alone; the first row is [1, 0, 0, ...].")
def causal_attention_by_hand(ns):
    scores = torch.tensor([[5.0, 9.0, 9.0], [0.0, math.log(3.0), 7.0], [0.0, 0.0, 0.0]])
    # row 0 only sees itself -> [1, 0, 0]; row 1: softmax([0, ln 3]) = [1/4, 3/4]; row 2: uniform
    expected = np.array([[1, 0, 0], [0.25, 0.75, 0], [1 / 3, 1 / 3, 1 / 3]])
    weights = expect_array(ns["causal_attention"](scores.clone()), "causal_attention")
    assert np.allclose(weights, expected), f"expected {expected.round(3).tolist()}, got {weights.round(3).tolist()}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex2.1": ("worldmodels.bigram.bigram_probabilities",),
    "ex2.2": ("worldmodels.bigram.bigram_nll",),
    "ex2.3": (),  # sample_from_logits samples: no package function returns tempered probabilities
    "ex2.4": (),  # the weights are computed inside CausalSelfAttention.forward, never returned
}
