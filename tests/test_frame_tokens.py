"""bench/frame_tokens.py, the candidate token generator for chapter 9: its tokens round-trip the tracks, and a frame's
logits never depend on a later frame (the sampler goes frame by frame, so training must not let them)."""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from worldmodels import multiball

BENCH = Path(__file__).parents[1] / "bench" / "frame_tokens.py"
_spec = importlib.util.spec_from_file_location("bench_frame_tokens", BENCH)
ft = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ft)


def test_tokens_round_trip_the_tracks_to_half_a_grid_step():
    clips = multiball.make_clips(64, "val", seed=0)
    v = ft.Vocabulary(q=0.05)
    tracks, presence = v.decode(v.encode(clips.positions, clips.present))
    on = np.broadcast_to(clips.present[:, None], presence.shape)
    assert np.array_equal(presence > 0, on)
    assert np.abs(tracks - clips.positions)[on].max() <= 0.025 + 1e-9
    assert 0.01 < np.abs(tracks - clips.positions)[on].max()  # the grid is felt: the test can fail


def test_a_frame_never_sees_a_later_frame():
    torch.manual_seed(0)
    v = ft.Vocabulary(q=0.1)
    model = ft.FrameTokens(v, width=32, depth=2).eval()
    for p in model.parameters():  # adaLN-Zero starts as the identity: give every gate a value
        torch.nn.init.normal_(p, std=0.05)
    clips = multiball.make_clips(4, "val", seed=0)
    tok = v.encode(clips.positions, clips.present)
    words = multiball.tokenize(clips.captions)
    later = tok.clone().view(4, ft.N, ft.T, 2)
    later[:, :, 9:] = v.mask  # frames 9.. changed
    with torch.no_grad():
        a, b = model(tok, words)[1], model(later.view_as(tok), words)[1]
    assert torch.equal(a[:, :, :8], b[:, :, :8])  # steps into frames 1..8 (frames <= 8) unchanged
    assert not torch.equal(a[:, :, 8:], b[:, :, 8:])  # and the later ones do change
