"""The bouncing-ball world: balls in a square box with exact elastic collisions.

State of one sequence at one frame: positions and velocities of N balls, shape (N, 2) each, in pixels and
pixels per frame, (x, y) with x to the right and y down (see CONTRIBUTING.md). All balls share one radius
and have EQUAL masses, so a ball-ball collision simply exchanges the velocity components along the line
of centres, and walls reflect the velocity component normal to them.

The simulator is event driven: within one frame it finds the earliest collision (wall or pair), moves
every ball freely up to it, resolves it, and repeats until the frame's time is used up. Nothing is missed
at any speed and the motion is exact up to float64 rounding. Everything is vectorized over a batch of
independent sequences with NumPy.

Optional actions: before each step a push (a velocity impulse, px/frame) is added to ball 0, the
controllable ball; a push never makes it faster than `max_speed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

# Within a step two balls count as approaching only if dp . dv < -_APPROACH_TOL (px^2/frame). Right after a
# collision dp . dv is positive up to rounding; the tolerance stops a grazing pair from colliding again and
# again at zero time.
_APPROACH_TOL = 1e-12
# Acceptance probability of rejection sampling a new ball is at least 1 - _FIT_FRACTION (see WorldConfig).
_FIT_FRACTION = 0.75
_MAX_PLACEMENT_TRIES = 400


@dataclass(frozen=True)
class WorldConfig:
    """A bouncing-ball world.

    n_balls:      number of balls (>= 1); ball 0 is the one that actions push.
    radius:       ball radius in px; all balls share it and all masses are equal.
    size:         the box is [0, size] x [0, size] px and frames are size x size pixels.
    speed_ranges: initial speed in px/frame, uniform over the union of these (low, high) intervals
                  (several intervals let a split hold out a band of speeds); directions are uniform.
    max_speed:    a push never makes ball 0 faster than this (px/frame); must be >= every initial speed.
    """

    n_balls: int = 1
    radius: float = 3.0
    size: int = 32
    speed_ranges: tuple[tuple[float, float], ...] = ((2.0, 3.0),)
    max_speed: float = 4.0

    def __post_init__(self):
        if isinstance(self.n_balls, bool) or not isinstance(self.n_balls, Integral) or self.n_balls < 1:
            raise ValueError(f"n_balls must be an integer >= 1, got {self.n_balls!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, Integral) or self.size < 1:
            raise ValueError(f"size must be an integer number of pixels >= 1, got {self.size!r}")
        if not isinstance(self.radius, Real) or not math.isfinite(self.radius) or self.radius <= 0:
            raise ValueError(f"radius must be a finite number > 0 (px), got {self.radius!r}")
        if 2 * self.radius >= self.size:
            raise ValueError(
                f"a ball of radius {self.radius} px does not fit in a {self.size} px box: "
                f"use radius < size / 2 = {self.size / 2}"
            )
        # Balls are placed one after another by rejection sampling. The centres live in a square of side
        # L = size - 2 r and each placed ball forbids a disc of radius 2 r around it, so if
        # (n_balls - 1) * pi * (2 r)^2 <= 0.75 L^2 every new ball is accepted with probability >= 1/4.
        free_side = self.size - 2 * self.radius
        if (self.n_balls - 1) * math.pi * (2 * self.radius) ** 2 > _FIT_FRACTION * free_side**2:
            raise ValueError(
                f"{self.n_balls} balls of radius {self.radius} px do not fit comfortably in a {self.size} px "
                f"box: need (n_balls - 1) * pi * (2 * radius)^2 <= {_FIT_FRACTION} * (size - 2 * radius)^2; "
                "use fewer balls, a smaller radius or a larger size"
            )
        ranges = self.speed_ranges
        if not isinstance(ranges, tuple) or len(ranges) == 0:
            raise ValueError(
                f"speed_ranges must be a non-empty tuple of (low, high) pairs, e.g. ((2.0, 3.0),), got {ranges!r}"
            )
        for pair in ranges:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(f"each speed range must be a (low, high) tuple, got {pair!r} in {ranges!r}")
            low, high = pair
            if not all(isinstance(s, Real) and math.isfinite(s) for s in pair):
                raise ValueError(f"speeds must be finite numbers (px/frame), got {pair!r}")
            if low < 0 or high < low:
                raise ValueError(f"each speed range needs 0 <= low <= high (px/frame), got {pair!r}")
        if not isinstance(self.max_speed, Real) or not math.isfinite(self.max_speed) or self.max_speed < 0:
            raise ValueError(f"max_speed must be a finite number >= 0 (px/frame), got {self.max_speed!r}")
        top = max(high for _, high in ranges)
        if top > self.max_speed:
            raise ValueError(
                f"speed_ranges reach {top} px/frame but max_speed is {self.max_speed}: "
                f"raise max_speed to at least {top}"
            )


@dataclass
class Trajectory:
    """A batch of simulated sequences (B sequences, T frames, N balls).

    positions:  (B, T, N, 2) float64, px.
    velocities: (B, T, N, 2) float64, px/frame, the velocity at frame t before the push of frame t.
    actions:    (B, T, 2) float64, the push given to ball 0 at frame t (zeros without actions; the push of
                the last frame is recorded but acts on nothing).
    config:     the WorldConfig that produced them.
    """

    positions: np.ndarray
    velocities: np.ndarray
    actions: np.ndarray
    config: WorldConfig

    def __len__(self) -> int:
        return self.positions.shape[0]


# ----------------------------------------------------------------------------------------------- sampling


def check_count(name, value, minimum=1):
    """`value` as an int, or a ValueError naming `name` unless it is an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _sample_speeds(ranges, shape, rng):
    """Speeds uniform over the union of the intervals in `ranges` (overlaps merged first)."""
    merged = []
    for low, high in sorted((float(lo), float(hi)) for lo, hi in ranges):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    lows = np.array([m[0] for m in merged])
    widths = np.array([m[1] - m[0] for m in merged])
    # choose an interval with probability proportional to its width (or uniformly if all are points)
    weights = widths / widths.sum() if widths.sum() > 0 else np.full(len(merged), 1 / len(merged))
    which = rng.choice(len(merged), size=shape, p=weights)
    return lows[which] + widths[which] * rng.random(shape)


def initial_state(config: WorldConfig, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random non-overlapping starting states: positions (B, N, 2) inside the box, velocities (B, N, 2)
    with uniform directions and speeds from `config.speed_ranges`."""
    batch = check_count("batch", batch)
    n, r, size = config.n_balls, config.radius, config.size
    positions = np.empty((batch, n, 2))
    for k in range(n):  # place ball k in every sequence, resampling only where it overlaps balls 0..k-1
        todo = np.arange(batch)
        for _ in range(_MAX_PLACEMENT_TRIES):
            positions[todo, k] = rng.uniform(r, size - r, size=(todo.size, 2))
            if k == 0:
                break
            gaps = np.linalg.norm(positions[todo, :k] - positions[todo, k : k + 1], axis=-1)
            todo = todo[(gaps <= 2 * r).any(axis=1)]
            if todo.size == 0:
                break
        else:
            raise RuntimeError(f"could not place {n} balls of radius {r} in a {size} px box")
    angles = rng.uniform(0, 2 * np.pi, size=(batch, n))
    speeds = _sample_speeds(config.speed_ranges, (batch, n), rng)
    velocities = speeds[..., None] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return positions, velocities


# ------------------------------------------------------------------------------------------------ dynamics


def _pair_indices(n):
    i, j = np.triu_indices(n, k=1)
    return i, j


def _event_times(p, v, r, size, pi, pj):
    """Time until each possible next event, shape (B, 2N + P): N*2 wall events (one per ball and axis, the
    wall the ball moves towards) then one per pair. np.inf where there is none."""
    target = np.where(v > 0, size - r, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_wall = (target - p) / v
    t_wall = np.where(v != 0, np.maximum(t_wall, 0.0), np.inf)  # a ball already at/behind its wall: now
    t_wall = t_wall.reshape(p.shape[0], -1)
    if pi.size == 0:
        return t_wall
    dp = p[:, pj] - p[:, pi]
    dv = v[:, pj] - v[:, pi]
    h = np.einsum("bpk,bpk->bp", dp, dv)
    a = np.einsum("bpk,bpk->bp", dv, dv)
    c = np.einsum("bpk,bpk->bp", dp, dp) - (2 * r) ** 2
    disc = h * h - a * c
    hit = (h < -_APPROACH_TOL) & (disc >= 0)
    # smallest root of a t^2 + 2 h t + c = 0, written c / (-h + sqrt(disc)) to avoid cancellation
    with np.errstate(divide="ignore", invalid="ignore"):
        t_pair = c / (-h + np.sqrt(np.where(hit, disc, 0.0)))
    t_pair = np.where(hit, np.maximum(t_pair, 0.0), np.inf)
    return np.concatenate([t_wall, t_pair], axis=1)


def _check_state(positions, velocities, config):
    p = np.array(positions, dtype=np.float64)  # copies: step never changes its inputs
    v = np.array(velocities, dtype=np.float64)
    if p.ndim < 2 or p.shape[-2:] != (config.n_balls, 2) or v.shape != p.shape:
        raise ValueError(
            f"positions and velocities must both have shape (..., n_balls={config.n_balls}, 2), "
            f"got {p.shape} and {v.shape}"
        )
    if not (np.isfinite(p).all() and np.isfinite(v).all()):
        raise ValueError("positions and velocities must be finite (found NaN or inf)")
    return p, v


def step(positions, velocities, config: WorldConfig, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Advance states (B, N, 2) by `dt` frames with exact elastic collisions; returns new (positions,
    velocities). Any leading batch shape works; the inputs are not modified."""
    if not isinstance(dt, Real) or not math.isfinite(dt) or dt < 0:
        raise ValueError(f"dt must be a finite number >= 0 (frames), got {dt!r}")
    p, v = _check_state(positions, velocities, config)
    shape = p.shape
    p = p.reshape(-1, config.n_balls, 2)
    v = v.reshape(-1, config.n_balls, 2)
    n, r, size = config.n_balls, config.radius, config.size
    pi, pj = _pair_indices(n)
    n_wall = 2 * n
    remaining = np.full(p.shape[0], float(dt))
    active = np.arange(p.shape[0])  # sequences with time left in this step
    max_events = 1000 + 100 * n * n
    for _ in range(max_events):
        if active.size == 0:
            return p.reshape(shape), v.reshape(shape)
        pa, va, ra = p[active], v[active], remaining[active]
        times = _event_times(pa, va, r, size, pi, pj)
        event = times.argmin(axis=1)
        rows = np.arange(active.size)
        t_event = times[rows, event]
        hit = t_event <= ra
        advance = np.minimum(t_event, ra)
        pa += va * advance[:, None, None]
        ra -= advance

        # resolve the earliest event of each sequence that has one (simultaneous ones follow at zero time)
        wall = hit & (event < n_wall)
        if wall.any():
            b, e = rows[wall], event[wall]
            ball, axis = e // 2, e % 2
            moving_up = va[b, ball, axis] > 0
            pa[b, ball, axis] = np.where(moving_up, size - r, r)  # exactly on the wall, no drift
            va[b, ball, axis] *= -1
        pair = hit & (event >= n_wall)
        if pair.any():
            b, e = rows[pair], event[pair] - n_wall
            i, j = pi[e], pj[e]
            normal = pa[b, j] - pa[b, i]
            normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
            exchange = np.einsum("bk,bk->b", va[b, j] - va[b, i], normal)[:, None] * normal
            va[b, i] += exchange
            va[b, j] -= exchange

        p[active], v[active], remaining[active] = pa, va, ra
        active = active[hit]
    raise RuntimeError(f"more than {max_events} collisions within one step: the state looks degenerate")


def apply_push(velocities, push, config: WorldConfig) -> np.ndarray:
    """Add `push` (B, 2) to the velocity of ball 0 in `velocities` (B, N, 2); returns new velocities.

    The pushed speed is clipped to max(max_speed, speed before the push): a push never makes a ball faster
    than max_speed, and a zero push changes nothing even if collisions had made ball 0 faster.
    """
    v = np.array(velocities, dtype=np.float64)
    push = np.asarray(push, dtype=np.float64)
    if v.ndim < 2 or v.shape[-2:] != (config.n_balls, 2):
        raise ValueError(f"velocities must have shape (..., n_balls={config.n_balls}, 2), got {v.shape}")
    if push.shape != v.shape[:-2] + (2,):
        raise ValueError(
            f"push must have shape {v.shape[:-2] + (2,)} (one (dx, dy) per sequence), got {push.shape}"
        )
    if not np.isfinite(push).all():
        raise ValueError("push must be finite (found NaN or inf)")
    before = np.linalg.norm(v[..., 0, :], axis=-1)
    pushed = v[..., 0, :] + push
    after = np.linalg.norm(pushed, axis=-1)
    limit = np.maximum(config.max_speed, before)
    too_fast = after > limit
    scale = np.where(too_fast, limit / np.where(too_fast, after, 1.0), 1.0)
    v[..., 0, :] = pushed * scale[..., None]
    return v


def random_actions(batch: int, n_frames: int, rng: np.random.Generator, push_prob: float = 0.3,
                   push_size: float = 1.0) -> np.ndarray:
    """Sparse random pushes (B, T, 2): at each frame, with probability `push_prob`, a push in a uniform
    direction with a magnitude uniform in [0, push_size] px/frame; zeros otherwise."""
    batch = check_count("batch", batch)
    n_frames = check_count("n_frames", n_frames)
    if not (isinstance(push_prob, Real) and 0 <= push_prob <= 1):
        raise ValueError(f"push_prob must be a probability in [0, 1], got {push_prob!r}")
    if not (isinstance(push_size, Real) and math.isfinite(push_size) and push_size >= 0):
        raise ValueError(f"push_size must be a finite number >= 0 (px/frame), got {push_size!r}")
    on = rng.random((batch, n_frames)) < push_prob
    angle = rng.uniform(0, 2 * np.pi, size=(batch, n_frames))
    size = push_size * rng.random((batch, n_frames)) * on
    return np.stack([size * np.cos(angle), size * np.sin(angle)], axis=-1)


def simulate(config: WorldConfig, batch: int, n_frames: int, seed=None, rng=None, actions=None,
             init=None) -> Trajectory:
    """Simulate `batch` sequences of `n_frames` frames.

    Frame 0 is the initial state (random from `seed`/`rng`, or `init` = (positions, velocities), each
    (B, N, 2)). Then for t = 0 .. T-2: ball 0 gets the push actions[:, t] and the world advances one frame.
    actions: None (no pushes) or an array (batch, n_frames, 2) of finite pushes in px/frame.
    """
    if not isinstance(config, WorldConfig):
        raise ValueError(f"config must be a WorldConfig, got {type(config).__name__}")
    batch = check_count("batch", batch)
    n_frames = check_count("n_frames", n_frames)
    if seed is not None and rng is not None:
        raise ValueError("give either seed or rng, not both")
    if rng is None:
        rng = np.random.default_rng(seed)
    n = config.n_balls
    if init is None:
        p, v = initial_state(config, batch, rng)
    else:
        p, v = _check_init(init, config, batch)
    if actions is None:
        acts = np.zeros((batch, n_frames, 2))
    else:
        acts = np.array(actions, dtype=np.float64)
        if acts.shape != (batch, n_frames, 2):
            raise ValueError(
                f"actions must have shape (batch, n_frames, 2) = {(batch, n_frames, 2)}, got {acts.shape}"
            )
        if not np.isfinite(acts).all():
            raise ValueError("actions must be finite (found NaN or inf)")
    positions = np.empty((batch, n_frames, n, 2))
    velocities = np.empty((batch, n_frames, n, 2))
    for t in range(n_frames):
        positions[:, t], velocities[:, t] = p, v
        if t == n_frames - 1:
            break
        if actions is not None:
            v = apply_push(v, acts[:, t], config)
        p, v = step(p, v, config)
    return Trajectory(positions=positions, velocities=velocities, actions=acts, config=config)


def _check_init(init, config, batch, tol=1e-9):
    if not (isinstance(init, (tuple, list)) and len(init) == 2):
        raise ValueError("init must be a pair (positions, velocities), each of shape (batch, n_balls, 2)")
    p, v = _check_state(init[0], init[1], config)
    if p.shape != (batch, config.n_balls, 2):
        raise ValueError(
            f"init arrays must have shape (batch, n_balls, 2) = {(batch, config.n_balls, 2)}, got {p.shape}"
        )
    r, size = config.radius, config.size
    if (p < r - tol).any() or (p > size - r + tol).any():
        raise ValueError(
            f"init positions must keep every ball inside the box: each coordinate in [{r}, {size - r}]"
        )
    pi, pj = _pair_indices(config.n_balls)
    if pi.size and (np.linalg.norm(p[:, pj] - p[:, pi], axis=-1) < 2 * r - tol).any():
        raise ValueError(f"init positions overlap: centres must be at least 2 * radius = {2 * r} px apart")
    return p, v


# ------------------------------------------------------------------------------------------- invariants


def kinetic_energy(velocities) -> np.ndarray:
    """Total kinetic energy 0.5 * sum over balls of |v|^2 (unit masses): (..., T, N, 2) -> (..., T)."""
    v = np.asarray(velocities, dtype=np.float64)
    return 0.5 * np.einsum("...nk,...nk->...", v, v)


def momentum(velocities) -> np.ndarray:
    """Total momentum, the sum of the balls' velocities (unit masses): (..., T, N, 2) -> (..., T, 2)."""
    return np.asarray(velocities, dtype=np.float64).sum(axis=-2)
