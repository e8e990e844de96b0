import numpy as np
import pytest
import torch

from worldmodels.physics import WorldConfig, simulate
from worldmodels.trajectory_tokens import PositionTokenizer, dequantize, quantize


def test_quantize_by_hand():
    assert quantize([0.0, 0.49, 0.5, 31.99, 32.0], 0.0, 32.0, 64).tolist() == [0, 0, 1, 63, 63]
    assert np.allclose(dequantize([0, 1, 63], 0.0, 32.0, 64), [0.25, 0.75, 31.75])


def test_layout_interleaves_x_then_shifted_y():
    tok = PositionTokenizer(size=32.0, n_bins=32)
    tokens = tok.encode([[1.2, 5.7], [2.9, 31.0]])
    assert tokens.tolist() == [1, 32 + 5, 2, 32 + 31]
    assert tok.vocab_size == 64 and tok.bin_width == 1.0


def test_round_trip_within_quantization_error():
    tok = PositionTokenizer(size=32.0, n_bins=64)
    positions = simulate(WorldConfig(), 20, 15, seed=0).positions[:, :, 0]  # (B, T, 2)
    tokens = tok.encode(positions)
    assert tokens.shape == (20, 30) and tokens.dtype == np.int64
    back = tok.decode(tokens)
    assert back.shape == positions.shape
    error = np.abs(back - positions)
    assert error.max() <= tok.max_error + 1e-12
    assert error.mean() > 0.05  # there is an error: decoding gives bin centres
    assert np.array_equal(tok.encode(back), tokens)  # bin centres are fixed points
    assert np.array_equal(tok.decode(torch.as_tensor(tokens)), back)


def test_allowed_alternates_axes():
    tok = PositionTokenizer(n_bins=4)
    assert tok.allowed(0).tolist() == [True] * 4 + [False] * 4
    assert tok.allowed(3).tolist() == [False] * 4 + [True] * 4


def test_bad_input_raises():
    tok = PositionTokenizer(size=32.0, n_bins=8)
    with pytest.raises(ValueError, match="inside"):
        tok.encode([[33.0, 1.0]])
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 2\)"):
        tok.encode([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="even"):
        tok.decode([1, 9, 2])
    with pytest.raises(ValueError, match="x tokens"):
        tok.decode([9, 1])  # a y token where an x token belongs
    with pytest.raises(ValueError, match="n_bins"):
        PositionTokenizer(n_bins=0)
