"""Clips where physics breaks partway through (violation of expectation), and lawful clips to compare with.

One ball flies in the box of the canonical world for `length` frames. From frame `onset` on, one law may be
broken, once:

- "lawful":       nothing is broken (the control clips);
- "teleport":     at the onset the ball jumps to another place (at least `jump` px away) and flies on with
                  the same velocity: position is no longer continuous;
- "vanish":       from the onset the ball is not drawn (the frames are empty) while it keeps moving unseen:
                  an object stops existing;
- "through_wall": the first wall the ball meets after the onset does not stop it: it flies straight on, out
                  of the box;
- "speed_change": at the onset the speed is multiplied by `speed_factor`, the direction kept;
- "wrong_bounce": the first bounce after the onset leaves the wall `bounce_error_deg` degrees off the mirror
                  angle (turned toward the wall's normal), at the same speed.

Every kind breaks the law it names and keeps the others: speeds are kept where the law is not about speed,
directions where it is not about direction, the ball's ink where it is not about existence (a ball leaving
the box through the wall loses its ink as a consequence of passing). `violation_clips` draws the clips with
rejection (the event must happen between the onset and the last frame) and returns the true positions and
velocities too, so tests can check what was broken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import CANONICAL
from .physics import WorldConfig, check_count, initial_state, step
from .render import render

KINDS = ("lawful", "teleport", "vanish", "through_wall", "speed_change", "wrong_bounce")


@dataclass
class ViolationClips:
    """B clips of one kind: frames (B, T, H, W), true positions and velocities (B, T, 2) (velocity at frame t
    is the one that moves the ball from t to t + 1), visible (B, T) bool, event (B,) the frame where the
    law breaks (the onset for lawful clips)."""

    kind: str
    frames: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    visible: np.ndarray
    event: np.ndarray


def _rotate(v, degrees):
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _one_clip(kind, world, length, onset, rng, jump, speed_factor, bounce_error_deg):
    """One clip (positions, velocities, visible, event) or None when the event does not fit in the clip."""
    p, v = initial_state(world, 1, rng)
    p, v = p[0, 0], v[0, 0]
    lo, hi = world.radius, world.size - world.radius
    positions, velocities, visible = [], [], []
    event, broken = onset, False
    for t in range(length):
        if kind == "teleport" and t == onset:
            while True:
                q = rng.uniform(lo, hi, size=2)
                if np.linalg.norm(q - p) >= jump:
                    break
            p = q
        if kind == "speed_change" and t == onset:
            v = v * speed_factor
        positions.append(p.copy())
        velocities.append(v.copy())
        visible.append(not (kind == "vanish" and t >= onset))
        if t == length - 1:
            break
        free = p + v
        hits = (free < lo) | (free > hi)
        if kind == "through_wall" and t >= onset and (broken or hits.any()):
            if not broken:
                if hits.all():
                    return None  # a corner: two walls at once
                event, broken = t + 1, True
            p = free  # straight on, no wall
            continue
        new_p, new_v = step(p[None, None], v[None, None], world)
        new_p, new_v = new_p[0, 0], new_v[0, 0]
        if kind == "wrong_bounce" and t >= onset and not broken and hits.any():
            if hits.all():
                return None
            axis = int(np.flatnonzero(hits)[0])
            normal = np.zeros(2)
            normal[axis] = np.sign(new_v[axis])  # points back into the box
            # turn the mirror direction toward the normal by bounce_error_deg
            cross = normal[0] * new_v[1] - normal[1] * new_v[0]
            new_v = _rotate(new_v, -bounce_error_deg if cross >= 0 else bounce_error_deg)
            event, broken = t + 1, True
        p, v = new_p, new_v
    if kind in ("through_wall", "wrong_bounce") and not broken:
        return None
    if kind == "through_wall" and event > length - 3:
        return None  # leave at least two frames of the passage
    return np.array(positions), np.array(velocities), np.array(visible), event


def violation_clips(kind: str, n: int, length: int = 20, onset: int = 8, world: WorldConfig = CANONICAL, seed: int = 0,
                    jump: float = 8.0, speed_factor: float = 0.5, bounce_error_deg: float = 40.0) -> ViolationClips:
    """n clips of `kind` (one of KINDS) of `length` frames with the law broken at or after frame `onset`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n = check_count("n", n)
    length = check_count("length", length, 4)
    if not isinstance(onset, int) or not 2 <= onset < length - 1:
        raise ValueError(f"onset must be an integer in [2, length - 1), got {onset!r}")
    if not isinstance(world, WorldConfig) or world.n_balls != 1:
        raise ValueError("world must be a WorldConfig with one ball")
    if not 0 < jump < world.size - 2 * world.radius:
        raise ValueError(f"jump must be in (0, {world.size - 2 * world.radius}), got {jump!r}")
    if not 0 < speed_factor or speed_factor == 1:
        raise ValueError(f"speed_factor must be > 0 and not 1, got {speed_factor!r}")
    if not 0 < bounce_error_deg < 90:
        raise ValueError(f"bounce_error_deg must be in (0, 90), got {bounce_error_deg!r}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    clips = []
    while len(clips) < n:
        clip = _one_clip(kind, world, length, onset, rng, jump, speed_factor, bounce_error_deg)
        if clip is not None:
            clips.append(clip)
    positions, velocities, visible, event = (np.stack(x) for x in zip(*clips))
    frames = render(positions[:, :, None], world.radius, world.size) * visible[..., None, None]
    return ViolationClips(kind, frames.astype(np.float32), positions, velocities, visible, event)
