import pytest
import torch

from worldmodels.text import BOUNDARY, CharVocab, encode_words, load_names, split_words


def test_corpus_is_lowercase_letters():
    words = load_names()
    assert len(words) == 5163  # distinct first names in the package's two census lists
    assert words == sorted(set(words))
    assert all(w.isalpha() and w.islower() for w in words)


def test_vocab_round_trip_and_boundary_first():
    vocab = CharVocab.from_words(["emma", "bob"])
    assert vocab.chars == ".abemo"
    assert vocab.chars[0] == BOUNDARY
    assert vocab.decode(vocab.encode(".emma.")) == ".emma."
    assert vocab.frame("bob") == [0, 2, 5, 2, 0]


def test_vocab_rejects_bad_input():
    vocab = CharVocab.from_words(["ab"])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("abc")
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([3])
    with pytest.raises(ValueError, match="boundary"):
        CharVocab.from_words(["a.b"])


def test_split_is_disjoint_seeded_and_complete():
    words = [f"w{i}" for i in range(100)]
    train, val = split_words(words, val_fraction=0.2, seed=1)
    assert len(val) == 20 and len(train) == 80
    assert sorted(train + val) == sorted(words)
    assert split_words(words, 0.2, seed=1) == (train, val)
    assert split_words(words, 0.2, seed=2) != (train, val)
    with pytest.raises(ValueError, match="val_fraction"):
        split_words(words, val_fraction=1.0)


def test_encode_words_shifts_targets_and_pads():
    vocab = CharVocab.from_words(["ab", "b"])  # '.', 'a', 'b'
    x, y = encode_words(["ab", "b"], vocab, block_size=4)
    assert x.shape == y.shape == (2, 4) and x.dtype == torch.long
    assert x[0].tolist() == [0, 1, 2, 0] and y[0].tolist() == [1, 2, 0, -1]
    assert x[1].tolist() == [0, 2, 0, 0] and y[1].tolist() == [2, 0, -1, -1]
    with pytest.raises(ValueError, match="block_size"):
        encode_words(["abc"], vocab, block_size=3)
