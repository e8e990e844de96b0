"""Clips of two or three colliding balls with captions read from their true states (chapter 9's second edition).

A clip is N_FRAMES frames of the canonical box (32 x 32 px, radius 3 px, speeds 2-3 px/frame) holding two or three
balls that bounce off the walls and off each other (the event-driven simulator of worldmodels.physics). Every clip
is stored with MAX_BALLS slots: `positions` (B, T, MAX_BALLS, 2) in px and `present` (B, MAX_BALLS) bool; a slot
with no ball holds the box centre and present = False. The present balls are sorted by their starting x, so slot 0
is always "the left ball".

The caption of a clip is read from its true states, in four parts (each may be left out):

- the count, "two balls" or "three balls";
- the direction of the left ball's (slot 0's) first step, one of the four quadrants of worldmodels.captions.DIRECTIONS;
- the speed class of that step, "slow" or "fast" (captions.SPEED_SPLIT);
- whether any two balls collide within the clip: "they collide" or "they never collide".

    "three balls , the left ball moving upward rightward , fast , they collide"

A ball-ball collision is read off the velocities: walls only flip the sign of a velocity component, so a step whose
absolute velocity components change is a step with a collision (`collisions`). The combination HELD_OUT (three balls
whose left ball starts downward leftward) never appears in training, so its prompts test composition out of
distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch

from . import captions
from .physics import WorldConfig, simulate
from .render import render

N_FRAMES = 16
MAX_BALLS = 3
COUNTS = (2, 3)
WORLDS = {n: WorldConfig(n_balls=n) for n in COUNTS}  # the canonical box with 2 or 3 balls
WORLD = WORLDS[3]
HELD_OUT = (3, 2)  # (count, direction) never seen in training: three balls, the left one downward leftward
COUNT_WORDS = ("two", "three")
COLLIDE_WORDS = ("they never collide", "they collide")
PAD = "<pad>"
VOCAB = (PAD, "two", "three", "balls", ",", "the", "left", "ball", "moving", "upward", "downward", "leftward",
         "rightward", "slow", "fast", "they", "never", "collide")
MAX_WORDS = 16
PART_NAMES = ("count", "direction", "speed", "collide")
_OFF_BOX = -100.0  # where an absent ball is drawn: far outside the frame, so it draws nothing
_SPLIT_STREAM = {"train": 0, "val": 1, "test": 2}


@dataclass
class MultiBallClips:
    """B clips of two or three balls.

    positions: (B, T, MAX_BALLS, 2) float64 px (absent slots: the box centre); velocities likewise (absent: 0).
    present:   (B, MAX_BALLS) bool.  parts: (B, 4) int caption parts (count index, direction, speed, collide).
    Indexing (clips[:10], clips[[1, 5]]) returns MultiBallClips."""

    positions: np.ndarray
    velocities: np.ndarray
    present: np.ndarray
    parts: np.ndarray

    def __len__(self) -> int:
        return self.positions.shape[0]

    def __getitem__(self, idx) -> "MultiBallClips":
        if isinstance(idx, Integral):
            idx = [int(idx)]
        return MultiBallClips(self.positions[idx], self.velocities[idx], self.present[idx], self.parts[idx])

    @property
    def frames(self) -> np.ndarray:
        """The clips drawn by the course's renderer: (B, T, 32, 32) float32."""
        return draw(self.positions, self.present)

    @property
    def captions(self) -> list[str]:
        """Each clip's full caption (its true parts in words)."""
        return [caption(*map(int, p)) for p in self.parts]


def draw(positions, present, world: WorldConfig = WORLD) -> np.ndarray:
    """Tracks (B, T, MAX_BALLS, 2) and presence (B, MAX_BALLS) or (B, T, MAX_BALLS) -> frames (B, T, H, W) float32:
    the course's renderer with every absent ball moved off the frame. The renderer holds no physics: it draws
    discs wherever the tracks put them, overlapping or outside the box."""
    p = np.array(positions, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    if p.ndim != 4 or p.shape[-1] != 2:
        raise ValueError(f"positions must have shape (B, T, n_balls, 2), got {p.shape}")
    if present.shape == (p.shape[0], p.shape[2]):
        present = np.broadcast_to(present[:, None], p.shape[:3])
    if present.shape != p.shape[:3]:
        raise ValueError(f"present must have shape (B, n_balls) or (B, T, n_balls) for positions {p.shape}, got {present.shape}")
    p[~present] = _OFF_BOX
    return render(p, world.radius, world.size)


def collisions(velocities, present, tol: float = 1e-6) -> np.ndarray:
    """(B, T-1) bool: a ball-ball collision inside the step t -> t+1 (some present ball's |v| components change;
    a wall only flips a component's sign)."""
    v = np.abs(np.asarray(velocities, dtype=np.float64))
    change = (np.abs(v[:, 1:] - v[:, :-1]) > tol).any(axis=-1)  # (B, T-1, N)
    return (change & np.asarray(present, dtype=bool)[:, None]).any(axis=-1)


def caption_parts(positions, velocities, present) -> np.ndarray:
    """True states -> (B, 4) int parts: count index into COUNT_WORDS, the direction (quadrant) and the speed class of
    the left ball's first step (frame 0 to 1), and whether any two balls collide (1) or not (0)."""
    present = np.asarray(present, dtype=bool)
    p = np.asarray(positions)
    v0 = p[:, 1, 0] - p[:, 0, 0]  # the left ball's first step, as the video shows it (a wall may turn it)
    count = present.sum(axis=1)
    if not np.isin(count, COUNTS).all():
        raise ValueError(f"every clip must hold {COUNTS} balls, got counts {sorted(set(count.tolist()))}")
    return np.stack([count - COUNTS[0], captions.direction_index(v0), captions.speed_index(np.linalg.norm(v0, axis=-1)),
                     collisions(velocities, present).any(axis=1).astype(int)], axis=1)


def caption(count=None, direction=None, speed=None, collide=None) -> str:
    """The caption of given parts (indices; None or -1 leaves a part out; all left out gives "")."""
    words = []
    if count is not None and count >= 0:
        words.append(f"{COUNT_WORDS[count]} balls")
    if direction is not None and direction >= 0:
        words.append("the left ball moving " + captions.DIRECTIONS[direction])
    if speed is not None and speed >= 0:
        words.append(captions.SPEEDS[speed])
    if collide is not None and collide >= 0:
        words.append(COLLIDE_WORDS[collide])
    return " , ".join(words)


def parse(text: str) -> dict[str, int]:
    """Caption -> its parts {"count", "direction", "speed", "collide"} as indices (-1 where it says nothing)."""
    if not isinstance(text, str):
        raise ValueError(f"a caption must be a string, got {type(text).__name__}")
    names = [VOCAB[i] for i in encode_words(text)]
    out = dict.fromkeys(PART_NAMES, -1)
    for k, word in enumerate(COUNT_WORDS):
        if word in names:
            out["count"] = k
    if "moving" in names:
        out["direction"] = 2 * ("downward" in names) + ("rightward" in names)
    for k, word in enumerate(captions.SPEEDS):
        if word in names:
            out["speed"] = k
    if "collide" in names:
        out["collide"] = 0 if "never" in names else 1
    return out


def encode_words(text: str) -> list[int]:
    """A caption -> word ids into this world's VOCAB."""
    return captions.encode_words(text, VOCAB)


def tokenize(texts, max_words: int = MAX_WORDS) -> torch.Tensor:
    """Captions -> (B, max_words) word ids right-padded with 0; "" is the empty prompt (all pads)."""
    if isinstance(texts, str) or texts is None or not hasattr(texts, "__len__") or len(texts) == 0:
        raise ValueError(f"prompts must be a non-empty list of captions, e.g. ['two balls , they collide'], got {texts!r:.80}")
    out = torch.zeros(len(texts), max_words, dtype=torch.long)
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"every prompt must be a string, got {type(text).__name__} at position {row}")
        ids = encode_words(text)
        if len(ids) > max_words:
            raise ValueError(f"caption {text!r} has {len(ids)} words, more than max_words={max_words}")
        out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


def drop_parts(parts, rng: np.random.Generator, p_empty: float = 0.1, p_part: float = 0.3) -> list[str]:
    """Training captions with parts left out at random: "" with probability p_empty (the unconditional prompt of
    classifier-free guidance), else each part left out with probability p_part."""
    out = []
    for row in np.asarray(parts):
        if rng.random() < p_empty:
            out.append("")
            continue
        keep = rng.random(4) > p_part
        out.append(caption(*[int(x) if k else -1 for x, k in zip(row, keep)]))
    return out


def make_clips(n_clips: int, split: str = "train", seed: int = 0, held_out: bool = True) -> MultiBallClips:
    """n_clips clips (before the held-out ones are removed), about half with two balls and half with three.
    Every split draws from its own stream; with held_out=True the HELD_OUT combination is removed."""
    if split not in _SPLIT_STREAM:
        raise ValueError(f"unknown split {split!r}; choose one of {list(_SPLIT_STREAM)}")
    if isinstance(n_clips, bool) or not isinstance(n_clips, Integral) or n_clips < 2:
        raise ValueError(f"n_clips must be an integer >= 2, got {n_clips!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 9, _SPLIT_STREAM[split]]))
    n3 = int(rng.binomial(n_clips, 0.5))
    sizes = {2: n_clips - n3, 3: n3}
    pos = np.full((n_clips, N_FRAMES, MAX_BALLS, 2), WORLD.size / 2)
    vel = np.zeros((n_clips, N_FRAMES, MAX_BALLS, 2))
    present = np.zeros((n_clips, MAX_BALLS), dtype=bool)
    row = 0
    for n in COUNTS:
        if sizes[n] == 0:
            continue
        traj = simulate(WORLDS[n], sizes[n], N_FRAMES, rng=rng)
        order = np.argsort(traj.positions[:, 0, :, 0], axis=1)  # slots sorted by starting x
        take = lambda a: np.take_along_axis(a, order[:, None, :, None], axis=2)  # noqa: E731
        pos[row : row + sizes[n], :, :n] = take(traj.positions)
        vel[row : row + sizes[n], :, :n] = take(traj.velocities)
        present[row : row + sizes[n], :n] = True
        row += sizes[n]
    shuffle = rng.permutation(n_clips)
    pos, vel, present = pos[shuffle], vel[shuffle], present[shuffle]
    parts = caption_parts(pos, vel, present)
    clips = MultiBallClips(pos, vel, present, parts)
    if held_out:
        clips = clips[np.flatnonzero(~is_held_out(parts))]
    return clips


def is_held_out(parts) -> np.ndarray:
    """(B,) bool: the parts are the HELD_OUT combination."""
    parts = np.asarray(parts)
    return (parts[:, 0] == COUNTS.index(HELD_OUT[0])) & (parts[:, 1] == HELD_OUT[1])


def evaluation_prompts(n: int = 256, seed: int = 0) -> dict[str, list[str]]:
    """Full captions of test clips: "in" (training combinations, n of them) and "out" (HELD_OUT, up to n // 4)."""
    clips = make_clips(4 * n, "test", seed=seed, held_out=False)
    held = is_held_out(clips.parts)
    texts = clips.captions
    return {"in": [t for t, h in zip(texts, held) if not h][:n], "out": [t for t, h in zip(texts, held) if h][: n // 4]}
