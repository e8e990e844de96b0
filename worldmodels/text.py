"""Text for the next-token chapter: a names corpus, a character vocabulary, a split.

The corpus is the list of first names that the PyPI package `names` (Trey Hunner, MIT licence)
ships inside its wheel: `dist.male.first` and `dist.female.first`, the frequent first names of the
1990 US Census. Nothing is downloaded at run time.

A name is modelled as a "sentence" of characters framed by a boundary token `.`:
`emma` -> `. e m m a .`. The model reads the left `.` as "start" and must predict the right
`.` as "the name ends here", so every name contributes len(name) + 1 predictions.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

BOUNDARY = "."


def load_names() -> list[str]:
    """All distinct first names of the `names` package, lower case, sorted (5,163 names, a-z only)."""
    import names  # the corpus package; imported here so the rest of the module works without it

    folder = Path(names.__file__).parent
    found = set()
    for filename in ("dist.male.first", "dist.female.first"):
        for line in (folder / filename).read_text().splitlines():
            if line.strip():
                found.add(line.split()[0].lower())
    return sorted(found)


@dataclass(frozen=True)
class CharVocab:
    """A character vocabulary; index 0 is the boundary token `.`."""

    chars: str  # the characters, boundary first

    @classmethod
    def from_words(cls, words: list[str]) -> "CharVocab":
        letters = sorted(set("".join(words)))
        if BOUNDARY in letters:
            raise ValueError(f"words must not contain the boundary character {BOUNDARY!r}")
        if not letters:
            raise ValueError("words must contain at least one character")
        return cls(BOUNDARY + "".join(letters))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Characters -> token ids. `text` may contain the boundary `.`."""
        unknown = sorted(set(text) - set(self.chars))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary {self.chars!r}")
        return [self.chars.index(c) for c in text]

    def decode(self, ids) -> str:
        """Token ids -> characters."""
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < len(self.chars)]
        if bad:
            raise ValueError(f"token ids {bad} are outside 0..{len(self.chars) - 1}")
        return "".join(self.chars[i] for i in ids)

    def frame(self, word: str) -> list[int]:
        """A word framed by boundaries: 'emma' -> ids of '.emma.'."""
        return self.encode(BOUNDARY + word + BOUNDARY)


def split_words(words: list[str], val_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Shuffle with `seed` and split into (train, val); the split is the same on every machine."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if len(words) < 2:
        raise ValueError(f"need at least 2 words to split, got {len(words)}")
    order = np.random.default_rng(seed).permutation(len(words))
    n_val = max(1, int(round(val_fraction * len(words))))
    val = [words[i] for i in order[:n_val]]
    train = [words[i] for i in order[n_val:]]
    return train, val


def encode_words(words: list[str], vocab: CharVocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Words -> (inputs, targets), both (n_words, block_size) int64.

    Row i of `inputs` is `.w1 w2 ...` and of `targets` is `w1 w2 ... .`, right-padded: padded inputs
    are 0 and padded targets are -1, which `cross_entropy(ignore_index=-1)` skips. So the mean loss
    over non-padded targets is exactly the negative log-likelihood per character (boundary included).
    """
    longest = max((len(w) for w in words), default=0)
    if block_size < longest + 1:
        raise ValueError(f"block_size must be >= longest word + 1 = {longest + 1}, got {block_size}")
    inputs = torch.zeros(len(words), block_size, dtype=torch.long)
    targets = torch.full((len(words), block_size), -1, dtype=torch.long)
    for row, word in enumerate(words):
        ids = vocab.frame(word)
        inputs[row, : len(ids) - 1] = torch.tensor(ids[:-1])
        targets[row, : len(ids) - 1] = torch.tensor(ids[1:])
    return inputs, targets
