"""The laws of the one-ball world, measured on the motion in frames: does a clip obey physics?

A ball flies at constant speed and in a straight line between bounces, bounces off a wall like a mirror, and
keeps its ink (mass) and its size. Every chapter that checks physics measures these laws with the pieces of
this module, in one set of units: relative violations (0.05 = 5 %) and angles in degrees.

- Steps: positions (B, T, 2) -> displacements d_t = p_t+1 - p_t (`displacements`). A step next to a bounce is
  not a velocity (the ball turned inside it): `free_flight_mask` finds the steps each law may trust, from sign
  flips of d. `free_flight_speed` is the mean speed over them; `bounce_angles` finds clean bounces.
- The world's ball (`ball_reference`): the ink and the radius of gyration of the world's ball drawn with its
  centre on a pixel corner (the box centre). Anti-aliasing gives a ball at another sub-pixel position up to 2 %
  more ink, so a real clip is never exactly at 0 on the mass law.
- Per clip (`clip_violations`), each law's worst violation in the clip, shape (B,) per law (LAWS):
  "speed" max |free-flight speed / the clip's median free-flight speed - 1|; "direction_deg" the largest turn
  between two consecutive free-flight steps; "bounce_deg" max |angle out - angle in| over clean bounces;
  "mass" max over frames |ink / the ball's ink - 1|; "size" max over frames |radius of gyration / the ball's - 1|.
  A law that no step of a clip can test is 0 for that clip: no evidence (a ball moving along an axis, say,
  whose centroid jitters across the other axis, has no step the sign test trusts).
- Tolerances, named: CLIP_TOLERANCES (a law holds when its violation is within it; chapter 10's physics score
  counts violations in these units) and PASS_CURVE (chapter 9's sweep of one relative tolerance for speed, mass
  and bounce, the bounce measured against a right angle). The yardstick is always the real clips: `law_pass_curve`
  on real clips, and `strict_tolerance`, the smallest tolerance that (almost) every real clip passes.

Chapter 6 (physics_checks.law_metrics) compares a rollout with the true trajectory using the same steps.
"""

from __future__ import annotations

import numpy as np

from .centroid import centroids
from .data import CANONICAL
from .render import render
from .validation import check_frames

LAWS = ("speed", "direction_deg", "bounce_deg", "mass", "size")
CLIP_TOLERANCES = {"speed": 0.05, "direction_deg": 5.0, "bounce_deg": 5.0, "mass": 0.10, "size": 0.05}
PASS_CURVE = (0.005, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.03, 0.05, 0.1, 0.3)  # relative tolerances, chapter 9
PASS_CURVE_LAWS = ("speed", "bounce_deg", "mass")  # the laws chapter 9's curve checks
RIGHT_ANGLE_DEG = 90.0  # a bounce error in PASS_CURVE's relative units: degrees / 90


# ---------------------------------------------------------------------------------------------- steps


def displacements(positions) -> np.ndarray:
    """Positions (B, T, 2) -> per-step displacements d_t = p_t+1 - p_t, (B, T-1, 2)."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[-1] != 2 or positions.shape[1] < 2:
        raise ValueError(f"positions must have shape (B, T >= 2, 2) for one ball, got {positions.shape}")
    return np.diff(positions, axis=1)


def free_flight_mask(d) -> np.ndarray:
    """Steps (B, T-1) that are plain free flight: in both axes the sign of d_t equals that of its
    neighbours d_t-1 and d_t+1 (no bounce inside or right next to the step). The first and the last
    step have only one neighbour, so a bounce inside them cannot be ruled out: they never count."""
    s = np.sign(np.asarray(d))
    same = np.zeros(s.shape[:2], dtype=bool)
    same[:, 1:-1] = (s[:, 1:-1] == s[:, :-2]).all(axis=-1) & (s[:, 1:-1] == s[:, 2:]).all(axis=-1)
    return same


def masked_mean(values, mask, empty=np.nan) -> np.ndarray:
    """Mean of values (B, S) over the steps where mask (B, S) is True, shape (B,); `empty` where none is."""
    n = mask.sum(axis=1)
    return np.where(n > 0, (values * mask).sum(axis=1) / np.maximum(n, 1), empty)


def free_flight_speed(positions) -> np.ndarray:
    """Mean speed (px/frame) of each trajectory (B, T, 2) over its free-flight steps (free_flight_mask),
    shape (B,); NaN where no step qualifies. Steps next to a bounce are not velocities, so they are left out."""
    d = displacements(positions)
    return masked_mean(np.linalg.norm(d, axis=-1), free_flight_mask(d))


def bounce_angles(d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detect clean single-wall bounces and measure the angle of the motion to the wall's normal before and
    after. d (B, T-1, 2). A bounce off a wall normal to axis a sits between steps t and t+1 when d_t[a] and
    d_t+1[a] have opposite signs; the trusted velocities are d_t-1 (before) and d_t+2 (after), which must
    be free-flight steps (free_flight_mask), and the other axis must not flip. Returns (sequence index, angle
    before, angle after), angles in degrees in [0, 90]."""
    d = np.asarray(d, dtype=np.float64)
    s = np.sign(d)
    free = free_flight_mask(d)
    seqs, before, after = [], [], []
    for t in range(1, d.shape[1] - 2):
        for a in range(2):
            o = 1 - a
            flip = s[:, t, a] != s[:, t + 1, a]
            clean = (s[:, t - 1, a] == s[:, t, a]) & (s[:, t + 1, a] == s[:, t + 2, a]) & (s[:, t - 1, a] != s[:, t + 2, a])
            other_still = (s[:, t - 1 : t + 3, o] == s[:, t - 1 : t, o]).all(axis=1)
            hit = np.flatnonzero(flip & clean & other_still & free[:, t - 1] & free[:, t + 2])
            for b in hit:
                d0, d1 = d[b, t - 1], d[b, t + 2]
                seqs.append(b)
                before.append(np.degrees(np.arctan2(abs(d0[o]), abs(d0[a]))))
                after.append(np.degrees(np.arctan2(abs(d1[o]), abs(d1[a]))))
    return np.array(seqs, dtype=int), np.array(before), np.array(after)


# ---------------------------------------------------------------------------------- the world's ball


def ink_and_spread(frames) -> tuple[np.ndarray, np.ndarray]:
    """Total intensity (ink) and radius of gyration sqrt(E|p - centroid|^2) of frames (..., H, W)."""
    frames = check_frames(frames, dtype=np.float64)
    h, w = frames.shape[-2:]
    y, x = np.mgrid[0:h, 0:w] + 0.5
    mass = frames.sum(axis=(-2, -1))
    m = np.maximum(mass, 1e-9)
    cx = (frames * x).sum(axis=(-2, -1)) / m
    cy = (frames * y).sum(axis=(-2, -1)) / m
    r2 = (frames * ((x - cx[..., None, None]) ** 2 + (y - cy[..., None, None]) ** 2)).sum(axis=(-2, -1)) / m
    return mass, np.sqrt(r2)


def ball_reference(world=CANONICAL) -> tuple[float, float]:
    """(ink, radius of gyration) of a WorldConfig's ball, drawn with `render` at the box centre."""
    frame = render(np.array([[world.size / 2, world.size / 2]]), world.radius, world.size)
    _, spread = ink_and_spread(frame)
    return float(frame.sum()), float(spread)


BALL_INK = ball_reference()[0]  # ink of the canonical world's ball (px of full intensity)


# --------------------------------------------------------------------------------------- per clip


def tracks_of(frames) -> np.ndarray:
    """Frames (B, T, H, W) -> ball positions (B, T, 2), the harness's centroids."""
    return centroids(check_frames(frames, ndim=4), n_balls=1)[..., 0, :]


def clip_violations(frames, world=CANONICAL) -> dict[str, np.ndarray]:
    """Per clip (B,), the worst violation of each law of LAWS (see the module's docstring), measured on the
    frames' centroids and ink; `world` gives the ball the mass and size laws compare with."""
    frames = check_frames(frames, size=world.size, ndim=4, min_frames=4, dtype=np.float64)
    b = len(frames)
    d = displacements(tracks_of(frames))
    free = free_flight_mask(d)
    speed = np.linalg.norm(d, axis=-1)
    steady = np.zeros(b)
    for i in np.flatnonzero(free.any(axis=1)):
        s = speed[i][free[i]]
        m = np.median(s)  # a ball that stands still (m = 0) keeps its speed: its steps are all 0 too
        steady[i] = np.max(np.abs(s - m)) / max(m, 1e-3)

    moving = speed > 1e-6  # a step of zero length has no direction
    both = free[:, :-1] & free[:, 1:] & moving[:, :-1] & moving[:, 1:]  # consecutive free-flight steps: no turn
    cos = (d[:, :-1] * d[:, 1:]).sum(-1) / np.maximum(speed[:, :-1] * speed[:, 1:], 1e-9)
    turn = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    direction = np.where(both, turn, 0.0).max(axis=1)

    bounce = np.zeros(b)
    seq, before, after = bounce_angles(d)
    np.maximum.at(bounce, seq, np.abs(after - before))

    ref_ink, ref_spread = ball_reference(world)
    ink, spread = ink_and_spread(frames)
    return {"speed": steady, "direction_deg": direction, "bounce_deg": bounce,
            "mass": np.max(np.abs(ink / ref_ink - 1), axis=1), "size": np.max(np.abs(spread / ref_spread - 1), axis=1)}


def law_pass(violations: dict[str, np.ndarray], tolerance: float, laws=PASS_CURVE_LAWS) -> np.ndarray:
    """(B,) bool: every law in `laws` within one relative tolerance (chapter 9); a bounce error counts in
    right angles (degrees / RIGHT_ANGLE_DEG)."""
    relative = {law: violations[law] / RIGHT_ANGLE_DEG if law.endswith("_deg") else violations[law] for law in laws}
    return np.all([v <= tolerance for v in relative.values()], axis=0)


def law_pass_curve(frames, tolerances=PASS_CURVE) -> dict[float, float]:
    """Fraction of clips passing all laws at each tolerance."""
    v = clip_violations(frames)
    return {float(tol): float(law_pass(v, tol).mean()) for tol in tolerances}


def strict_tolerance(real_curve: dict[float, float], level: float = 0.98) -> float:
    """The smallest tolerance at which at least `level` of the real clips pass."""
    ok = [tol for tol, rate in sorted(real_curve.items()) if rate >= level]
    if not ok:
        raise ValueError(f"no tolerance lets {level:.0%} of the real clips pass: {real_curve}")
    return ok[0]


def lawful(violations: dict[str, np.ndarray], tolerances=CLIP_TOLERANCES) -> np.ndarray:
    """(B,) bool: every law of `tolerances` within its own tolerance."""
    return np.all([violations[law] <= tol for law, tol in tolerances.items()], axis=0)
