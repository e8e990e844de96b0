"""Hand-coded physics from true positions: the oracles every learned predictor is compared with.

A ball moving freely between two walls follows a straight line *unfolded* by mirror reflections
(:func:`worldmodels.geometry.reflect`), so its whole future is known from its position and velocity. Two oracles:

- :func:`oracle_positions`: the velocity from the last *three* true positions, bounces between them
  accounted for (:func:`estimate_velocity`), then constant velocity, exact wall reflection and the
  known pushes. Exact for one ball without actions; it ignores ball–ball collisions.
- :func:`naive_oracle_positions`: the simple physics a programmer writes first, the velocity from
  the last *two* positions, then the same reflection. It errs when a bounce hides between the last
  two frames.
"""

from __future__ import annotations

import numpy as np

from .geometry import reflect, wall_bounds, wall_step
from .physics import apply_push
from .validation import check_horizon


def estimate_velocity(positions, world) -> np.ndarray:
    """Velocity at the last of the given true positions, bounces between the frames accounted for.

    ``positions`` ``(B, T, N, 2)`` with ``T >= 2``; returns ``(B, N, 2)`` in px/frame.

    The plain difference of the last two positions is wrong when the ball hit a wall between them.
    Per axis there are three candidates: no bounce (``p1 - p0``), a bounce off the high wall or off
    the low wall in between (the difference of the mirrored path). Each candidate is run *backwards*
    two steps with exact reflection; the one that lands on the third-last position wins (with only
    two positions, no bounce is assumed). Exact for one ball without actions.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 4 or positions.shape[-1] != 2 or positions.shape[1] < 2:
        raise ValueError(f"positions must have shape (B, T >= 2, N, 2), got {positions.shape}")
    low, high = wall_bounds(world)
    p0, p1 = positions[:, -2], positions[:, -1]
    candidates = np.stack([p1 - p0, p1 + p0 - 2 * high, p1 + p0 - 2 * low])  # (3, B, N, 2)
    if positions.shape[1] < 3:
        return candidates[0]
    p_before = positions[:, -3]
    miss = np.abs(reflect(p1 - 2 * candidates, low, high) - p_before)
    miss[1:] += 1e-9  # on an exact tie prefer "no bounce"
    # reflect() has period 2 * (high - low), so a velocity one period off passes the backward test too:
    # no ball crosses the whole box in one frame
    miss[np.abs(candidates) > high - low] = np.inf
    best = np.argmin(miss, axis=0)  # (B, N, 2)
    return np.take_along_axis(candidates, best[None], axis=0)[0]


def oracle_positions(positions_context, horizon: int, world, velocities=None, actions=None) -> np.ndarray:
    """Hand-coded physics: constant velocity plus exact wall reflection, from true positions.

    ``positions_context`` ``(B, C, N, 2)`` true positions of the context frames; returns
    ``(B, horizon, N, 2)``, the positions of frames ``C .. C + horizon - 1``. The velocity leaving
    the last context frame is the true one when ``velocities`` ``(B, N, 2)`` is given (as stored in
    ``BallVideos.velocities[:, C - 1]``), else :func:`estimate_velocity` from the positions.
    With ``actions`` ``(B, C + horizon, 2)`` (aligned with the frames, as in :func:`evaluate`) the
    pushes of frames ``C - 1 .. C + horizon - 2`` are applied to ball 0 the way the simulator does
    (:func:`worldmodels.physics.apply_push`). Ball–ball collisions are ignored: that is where this
    oracle stops being exact (with actions, a push inside the last three context frames can also
    fool the velocity estimate).
    """
    horizon = check_horizon(horizon)
    positions_context = np.asarray(positions_context, dtype=np.float64)
    if positions_context.ndim != 4 or positions_context.shape[-1] != 2:
        raise ValueError(f"positions_context must have shape (B, C, N, 2), got {positions_context.shape}")
    if actions is not None:
        actions = np.asarray(actions, dtype=np.float64)
        b, c = positions_context.shape[:2]
        if actions.shape != (b, c + horizon, 2):
            raise ValueError(f"actions must have shape (B, C + horizon, 2) = {(b, c + horizon, 2)}, got {actions.shape}")
    if velocities is None:
        velocity = estimate_velocity(positions_context, world)
    else:
        velocity = np.asarray(velocities, dtype=np.float64)
        if velocity.shape != positions_context[:, -1].shape:
            raise ValueError(f"velocities must have shape {positions_context[:, -1].shape}, got {velocity.shape}")
    low, high = wall_bounds(world)
    start = positions_context[:, -1]
    if actions is None or not np.any(actions):  # no pushes: the whole future is one unfolded straight line
        steps = np.arange(1, horizon + 1, dtype=np.float64)[None, :, None, None]
        return reflect(start[:, None] + velocity[:, None] * steps, low, high)
    out = np.empty((b, horizon) + start.shape[1:])
    p, v = start, velocity
    for k in range(horizon):
        v = apply_push(v, actions[:, c - 1 + k], world)
        p, v = wall_step(p, v, low, high)
        out[:, k] = p
    return out


def naive_oracle_positions(positions_context, horizon: int, world) -> np.ndarray:
    """The naive oracle: constant velocity from the last two true positions plus exact reflection.

    ``positions_context`` ``(B, C >= 2, N, 2)`` -> ``(B, horizon, N, 2)``, the positions of frames
    ``C .. C + horizon - 1``. Wrong whenever a ball bounced between the last two context frames.
    """
    positions_context = np.asarray(positions_context, dtype=np.float64)
    if positions_context.ndim != 4 or positions_context.shape[1] < 2:
        raise ValueError(f"positions_context must have shape (B, C >= 2, N, 2), got {positions_context.shape}")
    velocity = positions_context[:, -1] - positions_context[:, -2]
    return oracle_positions(positions_context, horizon, world, velocities=velocity)
