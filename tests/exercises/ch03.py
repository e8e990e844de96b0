"""Grading tests of chapter 3's exercises (solutions/03_trajectories_as_sentences.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs
whose answers are worked out by hand in the comments.
"""

import numpy as np

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs them in
# its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True
from worldmodels.physics import WorldConfig, simulate
from worldmodels.trajectory_tokens import PositionTokenizer


def _array(result, what, shape):
    out = np.asarray(result)
    assert out.shape == shape, f"expected {what} to return shape {shape}, got {out.shape}"
    return out


# ex3.1 quantize(values, size, n_bins): px in [0, size] -> bin index 0..n_bins-1.


@exercise_test("ex3.1", points=1, hint="Bin width is size / n_bins; the index is floor(value / width) as an integer.")
def quantize_by_hand(ns):
    # width 32 / 8 = 4 px: 0 -> 0, 3.9 -> 0, 4 -> 1, 17.5 -> 4, 31.9 -> 7
    bins = _array(ns["quantize"](np.array([0.0, 3.9, 4.0, 17.5, 31.9]), 32.0, 8), "quantize", (5,))
    assert bins.dtype.kind in "iu", f"expected integer bin indices, got dtype {bins.dtype}"
    assert bins.tolist() == [0, 0, 1, 4, 7], f"expected [0, 0, 1, 4, 7], got {bins.tolist()}"


@exercise_test("ex3.1", points=1, hint="A value exactly at size would land in bin n_bins: put it in the last bin (n_bins - 1).")
def quantize_keeps_the_far_wall_inside(ns):
    bins = np.asarray(ns["quantize"](np.array([[32.0, 0.0], [16.0, 31.999]]), 32.0, 64))
    assert bins.shape == (2, 2), f"expected the input's shape (2, 2), got {bins.shape}"
    assert bins.tolist() == [[63, 0], [32, 63]], f"expected [[63, 0], [32, 63]], got {bins.tolist()}"


# ex3.2 detokenize(tokens, size, n_bins): interleaved (x, n_bins + y) tokens -> (T, 2) bin centres.


@exercise_test("ex3.2", points=1, hint="Even places hold x bins, odd places y bins + n_bins; a bin's centre is (index + 0.5) * width.")
def detokenize_by_hand(ns):
    # n_bins 8, width 4: tokens [1, 8 + 2, 7, 8 + 0] -> x bin 1, y bin 2, x bin 7, y bin 0
    pos = _array(ns["detokenize"](np.array([1, 10, 7, 8]), 32.0, 8), "detokenize", (2, 2))
    assert np.allclose(pos, [[6.0, 10.0], [30.0, 2.0]]), f"expected [[6, 10], [30, 2]], got {pos.tolist()}"


@exercise_test("ex3.2", points=1, hint="Decoding a tokenized trajectory must land within half a bin of the truth on each axis.")
def detokenize_round_trips(ns):
    tok = PositionTokenizer(size=32.0, n_bins=64)
    truth = simulate(WorldConfig(), 1, 12, seed=5).positions[0, :, 0]  # (12, 2)
    pos = _array(ns["detokenize"](tok.encode(truth), 32.0, 64), "detokenize", (12, 2))
    error = np.abs(pos - truth).max()
    assert error <= tok.max_error + 1e-9, f"expected an error of at most {tok.max_error} px, got {error:.3f} px"


# ex3.3 constant_velocity(context, horizon): (T, 2) positions -> (horizon, 2), the last step repeated.


@exercise_test("ex3.3", points=1, hint="v = context[-1] - context[-2]; prediction k (k = 1..horizon) is context[-1] + k * v.")
def constant_velocity_by_hand(ns):
    context = np.array([[0.0, 9.0], [1.0, 8.0], [3.0, 6.0]])  # last step (2, -2)
    pred = _array(ns["constant_velocity"](context.copy(), 3), "constant_velocity", (3, 2))
    expected = [[5.0, 4.0], [7.0, 2.0], [9.0, 0.0]]
    assert np.allclose(pred, expected), f"expected {expected}, got {np.round(pred, 3).tolist()}"


@exercise_test("ex3.3", points=1, hint="Only the last two positions matter; return horizon rows, not including the context.")
def constant_velocity_ignores_older_positions(ns):
    context = np.array([[20.0, 20.0], [0.0, 0.0], [10.0, 10.0], [10.5, 9.0]])
    pred = _array(ns["constant_velocity"](context.copy(), 1), "constant_velocity", (1, 2))
    assert np.allclose(pred, [[11.0, 8.0]]), f"expected [[11.0, 8.0]], got {np.round(pred, 3).tolist()}"


# ex3.4 error_by_horizon(pred, true): (B, H, 2) -> (H,) mean Euclidean distance in px.


@exercise_test("ex3.4", points=1, hint="Distance per sequence and step: sqrt(dx**2 + dy**2); then average over the batch axis 0.")
def error_by_horizon_by_hand(ns):
    true = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 3.0]]])
    # step 1: distances 5 and 1 -> 3; step 2: distances 1 and 3 -> 2
    err = _array(ns["error_by_horizon"](pred, true), "error_by_horizon", (2,))
    assert np.allclose(err, [3.0, 2.0]), f"expected [3.0, 2.0], got {np.round(err, 3).tolist()}"


@exercise_test("ex3.4", points=1, hint="Average distances, not squared distances, and keep one number per horizon step.")
def error_by_horizon_is_not_rmse(ns):
    true = np.zeros((2, 1, 2))
    pred = np.array([[[0.0, 2.0]], [[0.0, 4.0]]])  # distances 2 and 4: mean 3 (an RMS would give 3.16)
    err = _array(ns["error_by_horizon"](pred, true), "error_by_horizon", (1,))
    assert np.allclose(err, [3.0]), f"expected [3.0], got {np.round(err, 3).tolist()}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex3.1": (
        "worldmodels.trajectory_tokens.quantize",
        "worldmodels.trajectory_tokens.PositionTokenizer.encode",
    ),
    "ex3.2": (
        "worldmodels.trajectory_tokens.dequantize",
        "worldmodels.trajectory_tokens.PositionTokenizer.decode",
    ),
    "ex3.3": ("worldmodels.oracle.naive_oracle_positions",),
    "ex3.4": ("worldmodels.centroid.match_error",),
}
