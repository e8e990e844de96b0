"""The bigram model: predict the next character from the current one only.

Two ways to get the same model: count pairs and normalise the rows (`bigram_counts`,
`bigram_probabilities`), or learn a (V, V) table of logits by gradient descent (`NeuralBigram`).
With matching smoothing they reach the same negative log-likelihood.
"""

import numpy as np
import torch
from torch import nn

from worldmodels.text import CharVocab


def bigram_counts(words: list[str], vocab: CharVocab) -> np.ndarray:
    """(V, V) int64 array; entry [a, b] counts how often character b follows character a."""
    size = len(vocab)
    counts = np.zeros((size, size), dtype=np.int64)
    for word in words:
        ids = vocab.frame(word)
        np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts


def bigram_probabilities(counts: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """Row-normalised probabilities P[a, b] = p(next = b | current = a), float64.

    `smoothing` adds a pseudo-count to every pair so no pair has probability 0 (and unseen
    pairs in held-out text do not cost an infinite loss).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"counts must be a square (V, V) array, got shape {counts.shape}")
    if smoothing < 0 or (counts < 0).any():
        raise ValueError("counts and smoothing must be non-negative")
    smoothed = counts + smoothing
    totals = smoothed.sum(axis=1, keepdims=True)
    if (totals == 0).any():
        raise ValueError("a row has no counts; use smoothing > 0")
    return smoothed / totals


def bigram_nll(probs: np.ndarray, words: list[str], vocab: CharVocab) -> float:
    """Mean negative log-likelihood of `words` under `probs`, in nats per character.

    Every word is framed as `.word.`; the final `.` counts as a character to predict.
    """
    with np.errstate(divide="ignore"):  # a pair of probability 0 costs an infinite loss, as it should
        log_probs = np.log(probs)
    total, n = 0.0, 0
    for word in words:
        ids = vocab.frame(word)
        total -= log_probs[ids[:-1], ids[1:]].sum()
        n += len(ids) - 1
    if n == 0:
        raise ValueError("words is empty; need at least one word")
    return float(total / n)


def sample_words(
    probs: np.ndarray, vocab: CharVocab, n: int, rng: np.random.Generator, temperature: float = 1.0, max_len: int = 30
) -> list[str]:
    """Sample `n` words from the bigram model, one character at a time, until the boundary `.`.

    Temperature rescales log-probabilities: p^(1/T), renormalised. T -> 0 picks the most likely
    character (argmax), T = 1 samples the model, T > 1 flattens it toward uniform.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    words = []
    for _ in range(n):
        current, chars = 0, []
        for _ in range(max_len):
            row = probs[current]
            if temperature == 0:
                current = int(np.argmax(row))
            else:
                with np.errstate(divide="ignore"):
                    logits = np.log(row) / temperature
                weights = np.exp(logits - logits.max())
                current = int(rng.choice(len(row), p=weights / weights.sum()))
            if current == 0:
                break
            chars.append(vocab.chars[current])
        words.append("".join(chars))
    return words


class NeuralBigram(nn.Module):
    """A bigram as a neural network: one (V, V) table of logits, row = current character."""

    def __init__(self, vocab_size: int):
        super().__init__()
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        self.logits = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.logits.weight)  # start uniform: loss = log V

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, T) -> logits (B, T, V) and, with targets (-1 = padding), the mean NLL."""
        logits = self.logits(idx)
        loss = None
        if targets is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1)
        return logits, loss
