"""Hidden grading tests of chapter 3 (run by the grader only, after the public ones in ../ch03.py).

They compare with the course's own tokenizer, which the student edition of the package does not carry.
"""

import numpy as np

from worldmodels.grading import exercise_test, expect_array
from worldmodels.physics import WorldConfig, simulate
from worldmodels.trajectory_tokens import PositionTokenizer


@exercise_test("ex3.2", points=1, hint="Decoding a tokenized trajectory must land within half a bin of the truth on each axis.")
def detokenize_round_trips(ns):
    tok = PositionTokenizer(size=32.0, n_bins=64)
    truth = simulate(WorldConfig(), 1, 12, seed=5).positions[0, :, 0]  # (12, 2)
    pos = expect_array(ns["detokenize"](tok.encode(truth), 32.0, 64), "detokenize", (12, 2), floats=False)
    error = np.abs(pos - truth).max()
    assert error <= tok.max_error + 1e-9, f"expected an error of at most {tok.max_error} px, got {error:.3f} px"
