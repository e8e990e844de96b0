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


# ------------------------------------------------------------------------------ several balls (chapter 9)
#
# The laws of a world of two or three balls, measured on what the video shows: every source's clips are drawn by
# the course's renderer and the balls' tracks are read back from the frames (`read_tracks`, weighted k-means
# started from the source's own tracks), so that real clips carry the measurement's own small error and serve as
# the yardstick. Per clip, the worst residual of each law of MULTIBALL_LAWS, in px, px/frame or balls:
#
# - "free_flight": |p_t+1 - 2 p_t + p_t-1| (px/frame^2) over frame triplets in which the ball can meet nothing: every
#   position at least WALL_MARGIN px inside the line where a centre turns, every other ball at least PAIR_MARGIN px
#   away. Straight flight at constant speed makes it 0.
# - "wall": at a turn near a wall (a sign flip of the step in one axis, within WALL_MARGIN of that turning line, no
#   other ball near), the position after the turn mirrored at the turning line continues the straight line of the
#   two positions before it: |mirror(p_t+1) - 2 p_t + p_t-1| (px/frame^2), or with p_t mirrored too when the turn
#   came a step earlier (the smaller of the two). A mirror at the right place makes it 0.
# - "collision": when two balls meet (closer than CONTACT_MARGIN beyond touching) away from the walls and the third
#   ball, the two velocities before (step t-1) and after (step t+1) the meeting: the change of their sum (momentum,
#   equal masses) plus the part of ball i's change across the line of centres (an exchange along the contact
#   normal), px/frame. Two balls that pass through each other conserve momentum too: "overlap" sees them.
# - "overlap": how far two drawn balls sink into each other, max(0, 2 radius - distance) over frames and pairs (px).
# - "speed": how far each ball's first free step's speed lies outside the world's range of starting speeds (px/frame).
# - "count": how much the drawn ink changes over the clip, in balls: max_t |ink_t - ink_0| / one ball's ink. A ball
#   that appears or vanishes changes it by 1; real clips only by anti-aliasing (a few hundredths).
#
# A law that nothing in a clip can test (no meeting, no wall turn, no free triplet) is NaN for that clip: no
# evidence. Pass rates and passing tolerances count the clips that test the law (`pass_curve`, `passing_tolerance`).

MULTIBALL_LAWS = ("free_flight", "wall", "collision", "overlap", "speed", "count")
LAW_UNITS = {"free_flight": "px/frame²", "wall": "px/frame²", "collision": "px/frame", "overlap": "px",
             "speed": "px/frame", "count": "balls"}
WALL_MARGIN = 3.0  # px: a centre this far inside its turning line cannot reach a wall within a step of <= 3 px
PAIR_MARGIN = 12.0  # px between centres: two balls this far apart cannot meet within a step (2 r + 2 x 3 px)
CONTACT_MARGIN = 1.5  # px beyond touching: a meeting
MIN_TURN_STEP = 0.5  # px/frame: a turn needs a step at least this long in that axis (not a still axis's jitter)
TOLERANCE_GRID = tuple(float(f"{0.01 * 10 ** (k / 4):.4g}") for k in range(17))  # 0.01 .. 10, four per decade
RATIO_FLOOR = 0.01  # the smallest tolerance a ratio divides by: a hundredth of a pixel


def read_tracks(frames, guide, present, radius: float = CANONICAL.radius) -> np.ndarray:
    """What the frames show: tracks (B, T, N, 2) read back from frames (B, T, H, W) by weighted k-means over the
    lit pixels of each frame, one centre per ball present in that frame, started from the source's own tracks
    `guide` (B, T, N, 2). present (B, N) or (B, T, N) bool. Absent balls keep their guide position."""
    frames = check_frames(frames, ndim=4)
    guide = np.asarray(guide, dtype=np.float64)
    b, t, n = guide.shape[:3]
    on = _presence(present, guide.shape)
    out = guide.copy()
    flat_f, flat_g, flat_on, flat_out = frames.reshape(b * t, *frames.shape[2:]), guide.reshape(b * t, n, 2), \
        on.reshape(b * t, n), out.reshape(b * t, n, 2)
    counts = flat_on.sum(axis=1)
    for k in range(1, n + 1):
        rows = np.flatnonzero(counts == k)
        if rows.size == 0:
            continue
        slots = np.argsort(~flat_on[rows], axis=1, kind="stable")[:, :k]  # the present slots, in order
        init = np.take_along_axis(flat_g[rows], slots[..., None], axis=1)
        found = centroids(flat_f[rows], n_balls=k, init=init)
        sub = flat_out[rows]
        np.put_along_axis(sub, slots[..., None], found, axis=1)
        flat_out[rows] = sub
    return flat_out.reshape(b, t, n, 2)


def _presence(present, shape) -> np.ndarray:
    on = np.asarray(present, dtype=bool)
    if on.shape == (shape[0], shape[2]):
        on = np.broadcast_to(on[:, None], shape[:3])
    if on.shape != tuple(shape[:3]):
        raise ValueError(f"present must have shape (B, N) or (B, T, N) for tracks {tuple(shape)}, got {on.shape}")
    return on


def multiball_violations(frames, tracks, present, radius: float = CANONICAL.radius, size: int = CANONICAL.size,
                         speed_range=(2.0, 3.0)) -> dict[str, np.ndarray]:
    """Per clip (B,), the worst residual of each law of MULTIBALL_LAWS (see the comment above), measured on the
    tracks read back from `frames` (read_tracks, started from `tracks` (B, T, N, 2)); present (B, N) or (B, T, N):
    the balls a clip holds (a ball counts if it is drawn in the first frame)."""
    frames = check_frames(frames, size=size, ndim=4, min_frames=4, dtype=np.float64)
    tracks = np.asarray(tracks, dtype=np.float64)
    if tracks.ndim != 4 or tracks.shape[-1] != 2 or tracks.shape[:2] != frames.shape[:2]:
        raise ValueError(f"tracks must have shape (B, T, N, 2) matching frames {frames.shape[:2]}, got {tracks.shape}")
    on = _presence(present, tracks.shape)
    p = read_tracks(frames, tracks, on, radius)
    b, t, n = p.shape[:3]
    ball = on[:, 0]  # (B, N): the balls of the clip
    low, high = radius, size - radius
    d = np.diff(p, axis=1)  # (B, T-1, N, 2)
    acc = np.linalg.norm(d[:, 1:] - d[:, :-1], axis=-1)  # (B, T-2, N), centred on frames 1..T-2
    wall_gap = np.minimum(p - low, high - p).min(axis=-1)  # (B, T, N) px inside the turning lines
    gaps = np.linalg.norm(p[:, :, :, None] - p[:, :, None, :], axis=-1)  # (B, T, N, N)
    pair_on = ball[:, None, :, None] & ball[:, None, None, :] & ~np.eye(n, dtype=bool)
    gaps = np.where(pair_on, gaps, np.inf)
    nearest = gaps.min(axis=-1)  # (B, T, N)
    clear = (wall_gap >= WALL_MARGIN) & (nearest >= PAIR_MARGIN)
    free = clear[:, :-2] & clear[:, 1:-1] & clear[:, 2:] & ball[:, None]
    free_flight = _worst(acc, free, axis=(1, 2))

    # wall turns: the step flips sign in an axis between steps t-1 and t near that axis's turning line (a corner
    # turns both axes); the positions after the turn are mirrored at the turning lines of the axes that turned
    alone = nearest >= PAIR_MARGIN
    pos = p[:, 1:-1]  # frames t = 1..T-2
    line = np.where(pos < size / 2, low, high)
    turned = ((np.sign(d[:, 1:]) * np.sign(d[:, :-1]) < 0)  # (B, T-2, N, 2)
              & (np.maximum(np.abs(d[:, 1:]), np.abs(d[:, :-1])) > MIN_TURN_STEP) & (np.abs(pos - line) < WALL_MARGIN))
    ok = turned.any(axis=-1) & alone[:, :-2] & alone[:, 1:-1] & alone[:, 2:] & ball[:, None]
    after = np.where(turned, 2 * line - p[:, 2:], p[:, 2:])  # the turn is inside step t -> t+1: mirror p_t+1
    middle = np.where(turned, 2 * line - pos, pos)  # or inside step t-1 -> t: mirror p_t too
    res = np.minimum(np.linalg.norm(after - 2 * pos + p[:, :-2], axis=-1),
                     np.linalg.norm(after - 2 * middle + p[:, :-2], axis=-1))
    wall = _worst(res, ok, axis=(1, 2))

    # collisions: pair (i, j) closest at frame t or t+1 (meeting inside step t), velocities d_t-1 and d_t+1
    collision = np.full(b, np.nan)
    far_from_walls = wall_gap >= WALL_MARGIN
    for i in range(n):
        for j in range(i + 1, n):
            others = [k for k in range(n) if k not in (i, j)]
            g = gaps[:, :, i, j]
            meet = np.minimum(g[:, 1:-2], g[:, 2:-1]) < 2 * radius + CONTACT_MARGIN  # step t = 1..T-3
            ok = meet & ball[:, i, None] & ball[:, j, None]
            for f in range(4):  # frames t-1 .. t+2 all clear of the walls and the third ball
                fr = slice(f, f + t - 3)
                ok &= far_from_walls[:, fr, i] & far_from_walls[:, fr, j]
                for k in others:
                    ok &= ~ball[:, k, None] | ((gaps[:, fr, i, k] >= PAIR_MARGIN) & (gaps[:, fr, j, k] >= PAIR_MARGIN))
            before_i, before_j = d[:, :-2, i], d[:, :-2, j]  # steps t-1 for t = 1..T-3
            after_i, after_j = d[:, 2:, i], d[:, 2:, j]  # steps t+1
            momentum = np.linalg.norm((after_i + after_j) - (before_i + before_j), axis=-1)
            normal = p[:, 1:-2, j] - p[:, 1:-2, i]
            normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
            change = after_i - before_i
            across = np.abs(change[..., 0] * normal[..., 1] - change[..., 1] * normal[..., 0])
            collision = np.fmax(collision, _worst(momentum + across, ok, axis=1))

    overlap = np.where(np.isfinite(gaps), np.maximum(0.0, 2 * radius - gaps), 0.0).max(axis=(1, 2, 3))

    first = np.linalg.norm(d[:, 0], axis=-1)  # (B, N)
    clear0 = clear[:, 0] & clear[:, 1] & ball
    out_of_range = np.maximum(speed_range[0] - first, first - speed_range[1]).clip(min=0)
    speed = _worst(out_of_range, clear0, axis=1)

    one = render(np.array([[size / 2, size / 2]]), radius, size).sum()
    ink = frames.sum(axis=(-2, -1))
    count = np.abs(ink - ink[:, :1]).max(axis=1) / one
    return {"free_flight": free_flight, "wall": wall, "collision": collision, "overlap": overlap, "speed": speed,
            "count": count}


def _worst(values, mask, axis) -> np.ndarray:
    """Max of values over `axis` where mask holds; NaN where it holds nowhere (no evidence)."""
    return np.where(mask.any(axis=axis), np.where(mask, values, -np.inf).max(axis=axis), np.nan)


def _tested(residuals) -> np.ndarray:
    """The residuals (B,) of the clips that test a law (NaN = no evidence dropped)."""
    r = np.asarray(residuals, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or np.isinf(r).any():
        raise ValueError(f"residuals must be a non-empty 1-D array of numbers (NaN: untested), got shape {r.shape}")
    return r[~np.isnan(r)]


def pass_curve(residuals, tolerances=TOLERANCE_GRID) -> dict[float, float]:
    """Fraction of the clips that test a law whose residual (B,) is within each tolerance (NaN if none tests it)."""
    r = _tested(residuals)
    return {float(tol): float((r <= tol).mean()) if r.size else float("nan") for tol in tolerances}


def passing_tolerance(residuals, level: float = 0.9, floor: float = RATIO_FLOOR) -> float:
    """The tolerance at which a fraction `level` of the clips that test a law pass: the level-quantile of their
    residuals (no smaller than `floor`, the finest tolerance worth telling apart); NaN if no clip tests it."""
    r = _tested(residuals)
    if r.size == 0:
        return float("nan")
    return max(float(np.quantile(r, level, method="higher")), floor)


def tolerance_ratio(residuals, real_residuals, level: float = 0.9, floor: float = RATIO_FLOOR) -> float:
    """passing_tolerance of a source over that of the real clips: 1 = as lawful as the world."""
    return passing_tolerance(residuals, level, floor) / passing_tolerance(real_residuals, level, floor)


def inside_box(tracks, present, radius: float = CANONICAL.radius, size: int = CANONICAL.size, slack: float = 0.5):
    """(B,) bool: every present ball's centre stays within `slack` px of the box's turning lines in every frame."""
    tracks = np.asarray(tracks, dtype=np.float64)
    on = _presence(present, tracks.shape)
    outside = ((tracks < radius - slack) | (tracks > size - radius + slack)).any(axis=-1) & on
    return ~outside.any(axis=(1, 2))
