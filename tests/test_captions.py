import numpy as np
import pytest
import torch

from worldmodels import captions
from worldmodels.data import make_split


def test_direction_and_speed_classes():
    v = np.array([[-1.0, -2.0], [1.0, -2.0], [-1.0, 2.0], [1.0, 2.0]])
    assert captions.direction_index(v).tolist() == [0, 1, 2, 3]
    assert captions.speed_index([2.2, 2.8]).tolist() == [0, 1]
    with pytest.raises(ValueError):
        captions.direction_index(np.zeros((3, 3)))


def test_first_wall_of_a_simple_track():
    # moving right, turns at the right wall (x near 29) after frame 2
    x = np.array([23.0, 26.0, 29.0, 27.0, 24.0])
    track = np.stack([x, np.full(5, 16.0)], axis=-1)[None]
    assert captions.first_wall(track, 3.0, 32).tolist() == [3]
    still = np.stack([np.arange(5.0) + 10, np.full(5, 16.0)], axis=-1)[None]
    assert captions.first_wall(still, 3.0, 32).tolist() == [-1]


def test_caption_parse_round_trip():
    for d in range(4):
        for s in (-1, 0, 1):
            for w in (-1, 0, 1, 2, 3):
                text = captions.caption(d, s, w)
                assert captions.parse(text) == {"direction": d, "speed": s, "wall": w}
    assert captions.parse(captions.GENERIC) == {"direction": -1, "speed": -1, "wall": -1}


def test_describe_reads_true_states():
    v = make_split("val", 8, 16)
    texts = captions.describe(v.positions, v.velocities)
    assert len(texts) == 8
    for text, vel in zip(texts, v.velocities[:, 0, 0]):
        assert captions.parse(text)["direction"] == captions.direction_index(vel)


def test_tokenize_pads_and_decodes():
    ids = captions.tokenize(["a ball bouncing", ""])
    assert ids.shape == (2, captions.MAX_WORDS) and ids.dtype == torch.long
    assert captions.decode_words(ids[0]) == "a ball bouncing"
    assert (ids[1] == 0).all()
    with pytest.raises(ValueError, match="not in the vocabulary"):
        captions.tokenize(["a purple ball"])
    with pytest.raises(ValueError):
        captions.tokenize("a ball bouncing")


def test_drop_parts_gives_known_words():
    rng = np.random.default_rng(0)
    parts = np.array([[1, 0, 2]] * 200)
    texts = captions.drop_parts(parts, rng)
    assert "" in texts and captions.GENERIC in texts
    captions.tokenize(texts)  # every word known
