import pytest
import torch

from worldmodels.patches import patchify, unpatchify


def test_round_trip():
    x = torch.randn(2, 3, 4, 8, 6)
    tokens = patchify(x, (2, 4, 3))
    assert tokens.shape == (2, 2 * 2 * 2, 2 * 4 * 3 * 3)
    assert torch.equal(unpatchify(tokens, (4, 8, 6), (2, 4, 3)), x)


def test_a_token_is_one_spacetime_block():
    x = torch.arange(1 * 1 * 2 * 2 * 2.0).view(1, 1, 2, 2, 2)
    tokens = patchify(x, (1, 2, 2))  # one token per time step, holding the whole 2x2 frame
    assert tokens.shape == (1, 2, 4)
    assert tokens[0, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert tokens[0, 1].tolist() == [4.0, 5.0, 6.0, 7.0]


def test_longer_clip_more_tokens_same_size():
    a = patchify(torch.zeros(1, 4, 8, 4, 4), (2, 2, 2))
    b = patchify(torch.zeros(1, 4, 16, 4, 4), (2, 2, 2))
    assert b.shape[1] == 2 * a.shape[1] and b.shape[2] == a.shape[2]


def test_errors():
    with pytest.raises(ValueError, match="divisible"):
        patchify(torch.zeros(1, 2, 3, 4, 4), (2, 2, 2))
    with pytest.raises(ValueError):
        patchify(torch.zeros(2, 4, 4, 4), (1, 1, 1))
    with pytest.raises(ValueError):
        patchify(torch.zeros(1, 1, 2, 2, 2), (0, 1, 1))
    with pytest.raises(ValueError, match="do not fit"):
        unpatchify(torch.zeros(1, 3, 8), (4, 2, 2), (2, 2, 2))
