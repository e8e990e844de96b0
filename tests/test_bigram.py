import math

import numpy as np
import pytest
import torch

from worldmodels.bigram import NeuralBigram, bigram_counts, bigram_nll, bigram_probabilities, sample_words
from worldmodels.text import CharVocab, encode_words


def test_counts_by_hand():
    vocab = CharVocab.from_words(["ab"])  # '.', 'a', 'b'
    counts = bigram_counts(["ab", "a"], vocab)
    # pairs: .a ab b.  and  .a a.
    expected = np.array([[0, 2, 0], [1, 0, 1], [1, 0, 0]])
    assert np.array_equal(counts, expected)


def test_probabilities_rows_sum_to_one_and_smoothing():
    counts = np.array([[1, 3], [0, 2]])
    assert np.allclose(bigram_probabilities(counts, smoothing=0), [[0.25, 0.75], [0.0, 1.0]])
    probs = bigram_probabilities(counts, smoothing=1)
    assert np.allclose(probs.sum(1), 1) and (probs > 0).all()
    with pytest.raises(ValueError, match="square"):
        bigram_probabilities(np.ones((2, 3)))
    with pytest.raises(ValueError, match="smoothing"):
        bigram_probabilities(np.zeros((2, 2)), smoothing=0)


def test_uniform_model_has_loss_log_v():
    vocab = CharVocab.from_words(["abc", "cab"])
    uniform = np.full((len(vocab), len(vocab)), 1 / len(vocab))
    assert math.isclose(bigram_nll(uniform, ["abc", "ba"], vocab), math.log(len(vocab)), rel_tol=1e-12)


def test_nll_by_hand():
    vocab = CharVocab.from_words(["ab"])
    probs = bigram_probabilities(bigram_counts(["ab"], vocab), smoothing=0)
    # '.ab.' is certain under its own counts: .->a, a->b, b->. all have probability 1
    assert bigram_nll(probs, ["ab"], vocab) == 0.0


def test_zero_temperature_sampling_is_argmax():
    vocab = CharVocab.from_words(["ab"])
    probs = np.array([[0.1, 0.6, 0.3], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]])
    rng = np.random.default_rng(0)
    assert sample_words(probs, vocab, 3, rng, temperature=0) == ["ab"] * 3
    assert sample_words(probs, vocab, 2, rng, temperature=1e-3) == ["ab"] * 2
    with pytest.raises(ValueError, match="temperature"):
        sample_words(probs, vocab, 1, rng, temperature=-1)


def test_neural_bigram_starts_uniform_and_fits_counts():
    vocab = CharVocab.from_words(["ab", "ba"])
    words = ["ab", "ba", "aab"]
    x, y = encode_words(words, vocab, block_size=4)
    model = NeuralBigram(len(vocab))
    logits, loss = model(x, y)
    assert logits.shape == (3, 4, len(vocab))
    assert math.isclose(loss.item(), math.log(len(vocab)), rel_tol=1e-6)
    opt = torch.optim.Adam(model.parameters(), lr=0.5)
    for _ in range(300):
        loss = model(x, y)[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
    count_loss = bigram_nll(bigram_probabilities(bigram_counts(words, vocab), smoothing=0), words, vocab)
    assert abs(loss.item() - count_loss) < 0.02
