"""Captions as prompts: describe a one-ball clip in words from its true state, and tokenize the words.

A caption has three parts, each read off the true initial state and the true track:

- the direction of the first motion, one of four quadrants: "up left", "up right", "down left", "down right"
  (y grows downwards, so "up" means a negative y velocity);
- the speed class: "slow" below SPEED_SPLIT px/frame, "fast" above it;
- the first wall the ball bounces off within the clip: "top", "bottom", "left", "right" (or none).

    "a ball moving up left , fast , bounces off the top wall"

The vocabulary is small and closed (VOCAB, one id per word, id 0 pads), as Part 1's character
vocabulary was one id per character: `encode` turns words into ids and `decode` back, and
`tokenize` pads a batch of captions to one length. Direction and wall words are different words
("leftward" vs "left" wall) so that a bag of words already says which part a word belongs to.
"""

from __future__ import annotations

import numpy as np
import torch

SPEED_SPLIT = 2.5  # px/frame; the canonical world draws speeds 2-3 px/frame
DIRECTIONS = ("upward leftward", "upward rightward", "downward leftward", "downward rightward")
SPEEDS = ("slow", "fast")
WALLS = ("top", "bottom", "left", "right")
GENERIC = "a ball bouncing"  # the ambiguous prompt: no direction, no speed, no wall
PAD = "<pad>"
VOCAB = (PAD, "a", "ball", "bouncing", "moving", ",", "bounces", "off", "the", "wall",
         "upward", "downward", "leftward", "rightward", "slow", "fast", "top", "bottom", "left", "right")
MAX_WORDS = 14


def direction_index(velocity) -> np.ndarray:
    """Velocities (..., 2) in px/frame -> quadrant index (...) into DIRECTIONS (0 up-left .. 3 down-right)."""
    v = np.asarray(velocity, dtype=np.float64)
    if v.shape[-1:] != (2,):
        raise ValueError(f"velocity must have shape (..., 2), got {v.shape}")
    return 2 * (v[..., 1] > 0).astype(int) + (v[..., 0] > 0).astype(int)


def speed_index(speed) -> np.ndarray:
    """Speeds (...) in px/frame -> 0 ("slow") or 1 ("fast")."""
    return (np.asarray(speed, dtype=np.float64) > SPEED_SPLIT).astype(int)


def first_wall(positions, radius: float, size: int) -> np.ndarray:
    """Tracks (B, T, 2) -> index into WALLS of the first wall the ball turns at, or -1 if it never does.

    A turn at a wall is a sign flip of the step d_t = p_t+1 - p_t in one axis; the wall is the side of the
    box the ball is nearer to at that moment."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 2 or p.shape[1] < 3:
        raise ValueError(f"positions must have shape (B, T >= 3, 2), got {p.shape}")
    s = np.sign(np.diff(p, axis=1))
    flips = s[:, 1:] * s[:, :-1] < 0  # (B, T-2, 2): the step after t turned in axis a
    out = np.full(p.shape[0], -1)
    for b in range(p.shape[0]):
        hits = np.argwhere(flips[b])
        if len(hits) == 0:
            continue
        t, axis = hits[0]
        near_low = p[b, t + 1, axis] < size / 2
        out[b] = (2 if near_low else 3) if axis == 0 else (0 if near_low else 1)
    return out


def caption(direction: int | None, speed: int | None = None, wall: int | None = None) -> str:
    """The caption of given parts (indices into DIRECTIONS, SPEEDS, WALLS; None or -1 leaves a part out)."""
    if direction is None or direction < 0:
        words = [GENERIC]
    else:
        if not 0 <= direction < len(DIRECTIONS):
            raise ValueError(f"direction must be in 0..{len(DIRECTIONS) - 1}, got {direction}")
        words = ["a ball moving " + DIRECTIONS[direction]]
    if speed is not None and speed >= 0:
        words.append(SPEEDS[speed])
    if wall is not None and wall >= 0:
        words.append(f"bounces off the {WALLS[wall]} wall")
    return " , ".join(words)


def describe(positions, velocities, radius: float = 3.0, size: int = 32) -> list[str]:
    """True one-ball states -> full captions. positions, velocities (B, T, 1, 2) or (B, T, 2)."""
    p, v = np.asarray(positions), np.asarray(velocities)
    if p.ndim == 4:
        p, v = p[:, :, 0], v[:, :, 0]
    d, s, w = direction_index(v[:, 0]), speed_index(np.linalg.norm(v[:, 0], axis=-1)), first_wall(p, radius, size)
    return [caption(int(a), int(b), int(c)) for a, b, c in zip(d, s, w)]


def parse(text: str) -> dict[str, int]:
    """Caption -> its parts {"direction", "speed", "wall"} as indices (-1 where the caption says nothing)."""
    words = encode_words(text)
    names = [VOCAB[i] for i in words]
    out = {"direction": -1, "speed": -1, "wall": -1}
    if "moving" in names:
        out["direction"] = 2 * ("downward" in names) + ("rightward" in names)
    for k, name in enumerate(SPEEDS):
        if name in names:
            out["speed"] = k
    for k, name in enumerate(WALLS):
        if name in names:
            out["wall"] = k
    return out


def encode_words(text: str, vocab=None) -> list[int]:
    """A caption -> word ids into `vocab` (default VOCAB; id 0 is the pad), words separated by spaces."""
    vocab = VOCAB if vocab is None else vocab
    words = text.split()
    unknown = sorted(set(words) - set(vocab[1:]))
    if unknown:
        raise ValueError(f"words {unknown} are not in the vocabulary {list(vocab[1:])}")
    return [vocab.index(w) for w in words]


def decode_words(ids) -> str:
    """Word ids -> the caption (pads dropped)."""
    ids = [int(i) for i in ids]
    bad = [i for i in ids if not 0 <= i < len(VOCAB)]
    if bad:
        raise ValueError(f"word ids {bad} are outside 0..{len(VOCAB) - 1}")
    return " ".join(VOCAB[i] for i in ids if i != 0)


def tokenize(texts: list[str], max_words: int = MAX_WORDS) -> torch.Tensor:
    """Captions -> (B, max_words) int64 word ids, right-padded with 0. "" gives all pads (no prompt)."""
    if isinstance(texts, str):
        raise ValueError("tokenize takes a list of captions, e.g. tokenize(['a ball bouncing'])")
    out = torch.zeros(len(texts), max_words, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = encode_words(text)
        if len(ids) > max_words:
            raise ValueError(f"caption {text!r} has {len(ids)} words, more than max_words={max_words}")
        out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


def drop_parts(parts: np.ndarray, rng: np.random.Generator, p_empty: float = 0.1, p_generic: float = 0.1,
               p_part: float = 0.3) -> list[str]:
    """Training captions with parts left out at random, so the model learns partial and empty prompts.

    parts (B, 3) = (direction, speed, wall) indices. With probability p_empty the caption is "" (no prompt,
    for classifier-free guidance), with p_generic the ambiguous GENERIC prompt; otherwise the speed and the
    wall are each left out with probability p_part."""
    parts = np.asarray(parts)
    out = []
    for d, s, w in parts:
        u = rng.random()
        if u < p_empty:
            out.append("")
        elif u < p_empty + p_generic:
            out.append(GENERIC)
        else:
            out.append(caption(int(d), int(s) if rng.random() > p_part else -1, int(w) if rng.random() > p_part else -1))
    return out
