"""Physical-law checks on imagined rollouts: does the world model obey the laws, or only look right?

A low pixel error says the frames look right; these checks ask whether the *motion* in them follows the
laws of the bouncing-ball world (one ball, no pushes):

- speed is conserved between bounces (free flight at constant speed), and equals the true speed;
- bounces are mirror reflections: the angle to the wall's normal is the same before and after;
- kinetic energy 1/2 |v|^2 stays constant (unit mass);
- the ball keeps its size (total intensity of the frame, "mass"), it neither fades nor smears.

Quantities named ``*_bias`` are signed relative differences from the truth (-0.2 = 20 % too little);
``*_change`` and ``bounce_angle_deg`` are magnitudes (never negative).

Velocities come from decoded positions: d_t = p_t+1 - p_t. A step next to a bounce is not a velocity (the
ball turned inside it), so each law uses only the steps it can trust, found from sign flips of d (the
steps every chapter's law checks share: worldmodels.laws, free_flight_mask and bounce_angles).
The same checks run on the true trajectories, which pass them exactly (the reference column).

Several balls (chapter 7), on tracked positions (B, T, N, 2) where ball i stays ball i (a slot model's
read-out, or frames decoded with `track`): collision_metrics checks that momentum is exchanged in
ball-ball collisions as an elastic collision of equal masses would, that the total kinetic energy stays
constant, and that balls do not interpenetrate (CollisionMetrics, COLLISION_TOLERANCES).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .centroid import centroids
from .validation import check_frames, check_horizon
from .laws import bounce_angles, displacements, free_flight_mask, free_flight_speed, masked_mean

# Tolerances of the verdict on a rollout: a law "holds" when the measured violation is below them.
ROLLOUT_TOLERANCES = {
    "speed_bias": 0.05,  # |mean imagined speed / true speed - 1|
    "speed_change": 0.05,  # |late speed / early speed - 1| within a rollout
    "bounce_angle_deg": 5.0,  # |angle out - angle in| at a bounce
    "energy_change": 0.10,  # |late energy / early energy - 1|
    "mass_bias": 0.10,  # |imagined mass / true mass - 1|
}


@dataclass
class LawMetrics:
    """Violations of each law, averaged over sequences (NaN where no step qualified)."""

    speed_bias: float  # mean over sequences of (imagined free-flight speed / true speed - 1), signed
    speed_change: float  # mean |speed in the second half / speed in the first half - 1|
    bounce_angle_deg: float  # mean |angle after - angle before| over detected bounces, degrees
    energy_change: float  # mean |energy in the second half / energy in the first half - 1|
    mass_bias: float  # mean over frames of (frame mass / true frame mass - 1), signed
    n_bounces: int

    def verdicts(self) -> dict[str, bool]:
        """True where the law holds within ROLLOUT_TOLERANCES."""
        out = {}
        for name, tol in ROLLOUT_TOLERANCES.items():
            value = getattr(self, name)
            out[name] = bool(np.isfinite(value) and abs(value) <= tol)
        return out


def law_metrics(positions, true_speed, frames=None, true_frames=None) -> LawMetrics:
    """Measure the laws on one-ball trajectories.

    positions (B, K, 2): decoded (or true) positions of the rollout frames; true_speed (B,): the ball's
    true speed in px/frame (constant for one ball without pushes); frames / true_frames (B, K, H, W):
    optional, for the mass check.
    """
    d = displacements(positions)
    true_speed = np.asarray(true_speed, dtype=np.float64)
    if true_speed.shape != (d.shape[0],) or (true_speed <= 0).any():
        raise ValueError(f"true_speed must be (B,) = ({d.shape[0]},) positive speeds in px/frame, got {true_speed.shape}")
    speed = np.linalg.norm(d, axis=-1)
    free = free_flight_mask(d)
    half = d.shape[1] // 2
    mean_speed = free_flight_speed(positions)
    early = masked_mean(speed[:, :half], free[:, :half])
    late = masked_mean(speed[:, half:], free[:, half:])
    early_e = masked_mean(0.5 * speed[:, :half] ** 2, free[:, :half])
    late_e = masked_mean(0.5 * speed[:, half:] ** 2, free[:, half:])
    _, before, after = bounce_angles(d)
    mass = np.nan
    if frames is not None and true_frames is not None:
        m_pred = check_frames(frames, name="frames", dtype=np.float64, model_output=True).sum(axis=(-2, -1))
        m_true = check_frames(true_frames, name="true_frames", dtype=np.float64).sum(axis=(-2, -1))
        mass = float(np.mean(m_pred / m_true - 1))

    def nanmean(x):
        x = np.asarray(x, dtype=np.float64)
        return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")

    return LawMetrics(
        speed_bias=nanmean(mean_speed / true_speed - 1),
        speed_change=nanmean(np.abs(late / early - 1)),
        bounce_angle_deg=nanmean(np.abs(after - before)) if before.size else float("nan"),
        energy_change=nanmean(np.abs(late_e / early_e - 1)),
        mass_bias=mass,
        n_bounces=int(before.size),
    )


def check_rollouts(pred_frames, videos, context: int = 10) -> dict[str, LawMetrics]:
    """Laws on a model's rollouts and on the truth, for a one-ball BallVideos split without pushes.

    pred_frames (B, K, H, W): the imagined frames context .. context+K-1 (e.g. from a harness predictor).
    Returns {"model": ..., "truth": ...}.
    """
    pred = check_frames(pred_frames, size=videos.world.size, ndim=4, name="pred_frames", layout="(B, K, H, W)",
                        model_output=True)
    context = check_horizon(context, "context")
    if videos.positions.shape[2] != 1:
        raise ValueError("the law checks measure one ball; use a one-ball split (more balls need ball tracking)")
    b, k = pred.shape[:2]
    if pred.ndim != 4 or b != len(videos) or videos.frames.shape[1] < context + k:
        raise ValueError(f"pred_frames must be (B={len(videos)}, K, H, W) with context + K <= {videos.frames.shape[1]}, got {pred.shape}")
    if np.any(videos.actions):
        raise ValueError("the law checks assume no pushes: use a split made with with_actions=False")
    true_pos = videos.positions[:, context : context + k, 0]
    true_frames = videos.frames[:, context : context + k]
    true_speed = np.linalg.norm(videos.velocities[:, context - 1, 0], axis=-1)
    decoded = centroids(pred, n_balls=1)[..., 0, :]
    return {
        "model": law_metrics(decoded, true_speed, pred, true_frames),
        "truth": law_metrics(true_pos, true_speed, true_frames, true_frames),
    }


SHORT_NAMES = {"speed_bias": "speed", "speed_change": "steady speed", "bounce_angle_deg": "bounce",
               "energy_change": "energy", "mass_bias": "mass"}
# Column headers of verdict_table: words that can wrap, so the table fits a page and a phone.
COLUMN_LABELS = {"speed_bias": "speed bias", "speed_change": "speed change", "bounce_angle_deg": "bounce angle (deg)",
                 "energy_change": "energy change", "mass_bias": "mass bias"}


def verdict_table(results: dict[str, LawMetrics], errors: dict[str, float] | None = None, verdicts: bool = False):
    """A pandas DataFrame, one row per split, in one of two narrow forms.

    - measurements (default): each law's measured violation (columns labelled as in COLUMN_LABELS, e.g.
      "mass bias" for the LawMetrics field mass_bias, rounded to 3 decimals so it reproduces in checked
      cells) and a last column "laws broken", how many of the laws are outside ROLLOUT_TOLERANCES. With `errors`,
      a first column "error k=10 (px)" holds the centroid error of each split.
    - ``verdicts=True``: one column per law (SHORT_NAMES: "speed", "steady speed", "bounce", "energy",
      "mass") saying "kept" or "broken".

    ``speed_bias`` and ``mass_bias`` are signed (negative = too slow / too little ink); the other
    columns are magnitudes.
    """
    import pandas as pd

    if not results:
        raise ValueError("results is empty")
    rows = {}
    for split, m in results.items():
        kept = m.verdicts()
        # CollisionMetrics carries its own laws and labels; LawMetrics uses the module's
        tolerances = getattr(m, "tolerances", ROLLOUT_TOLERANCES)
        short, labels = getattr(m, "short_names", SHORT_NAMES), getattr(m, "column_labels", COLUMN_LABELS)
        if verdicts:
            rows[split] = {short[name]: "kept" if kept[name] else "broken" for name in tolerances}
            continue
        row = {} if errors is None else {"error k=10 (px)": round(float(errors.get(split, float("nan"))), 2)}
        row.update({labels[name]: round(float(getattr(m, name)), 3) for name in tolerances})
        row["laws broken"] = sum(not ok for ok in kept.values())
        rows[split] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("split")


# ------------------------------------------------------------------------------------ several balls

COLLISION_TOLERANCES = {
    "momentum_change": 0.10,  # |dv_i + dv_j| / (|v_i| + |v_j|) at a collision: the pair's momentum is kept
    "exchange_error": 0.25,  # |dv_i - dv_i elastic| / |dv_i elastic|: the momentum moves as an elastic collision's
    "energy_change": 0.10,  # |late / early total kinetic energy - 1|
    "overlap_px": 0.5,  # deepest interpenetration 2 r - distance in a rollout, px
}


@dataclass
class CollisionMetrics:
    """Laws of several colliding balls, averaged over sequences (NaN where nothing qualified)."""

    momentum_change: float  # mean over clean collisions of |dv_i + dv_j| / (|v_i| + |v_j|) (see clean_collisions)
    exchange_error: float  # mean over clean collisions of |dv - dv elastic| / |dv elastic| (both balls)
    energy_change: float  # mean over sequences of |median energy, 2nd half / median energy, 1st half - 1|
    overlap_px: float  # mean over sequences of the deepest interpenetration max(0, 2 r - distance), px
    n_collisions: int

    tolerances = COLLISION_TOLERANCES
    short_names = {"momentum_change": "momentum", "exchange_error": "exchange", "energy_change": "energy",
                   "overlap_px": "no overlap"}
    column_labels = {"momentum_change": "momentum change", "exchange_error": "exchange error",
                     "energy_change": "energy change", "overlap_px": "overlap (px)"}

    def verdicts(self) -> dict[str, bool]:
        """True where the law holds within COLLISION_TOLERANCES."""
        return {name: bool(np.isfinite(getattr(self, name)) and abs(getattr(self, name)) <= tol)
                for name, tol in COLLISION_TOLERANCES.items()}


def elastic_exchange(v_i, v_j, normal) -> np.ndarray:
    """Velocity change of ball i when it collides elastically with ball j of equal mass (ball j gets minus
    it): -((v_i - v_j) . n) n, with n the unit line of centres. Shapes (..., 2) -> (..., 2)."""
    v_i, v_j, normal = (np.asarray(a, dtype=np.float64) for a in (v_i, v_j, normal))
    n = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
    return -((v_i - v_j) * n).sum(-1, keepdims=True) * n


def contact_normal(dp, dv, radius: float):
    """The line of centres at the moment of contact: the pair (offset dp = p_i - p_j, relative velocity dv,
    (2,) each) moves on until |dp + dv tau| = 2 r; returns (dp + dv tau) / (2 r), or None when the straight
    paths do not touch within two frames (a near miss: nothing should be exchanged)."""
    dp, dv = np.asarray(dp, dtype=np.float64), np.asarray(dv, dtype=np.float64)
    a, b, c = dv @ dv, 2 * dp @ dv, dp @ dp - 4 * radius**2
    disc = b * b - 4 * a * c
    if a > 0 and disc >= 0:
        tau = (-b - np.sqrt(disc)) / (2 * a)
        if 0 <= tau <= 2:
            return (dp + dv * tau) / (2 * radius)
    return None


def clean_collisions(positions, radius: float, size: float, contact_px: float = 2.0) -> np.ndarray:
    """Ball-ball collisions that can be measured: rows (sequence, frame c, i, j) of an int array (M, 4).

    A pair collides around frame c when its distance there is a local minimum below 2 r + contact_px. Its
    velocities before and after are the steps c-2 -> c-1 and c+1 -> c+2, so frames c-2 .. c+2 must exist,
    both balls must stay clear of the walls (every coordinate at least r + 3 px from one) and no third ball
    may come within 2 r + 3 px of either: then nothing but this collision changed the two velocities.
    """
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 4 or p.shape[-1] != 2 or p.shape[1] < 5:
        raise ValueError(f"positions must have shape (B, T >= 5, N, 2), got {p.shape}")
    b, t, n, _ = p.shape
    dist = np.linalg.norm(p[:, :, :, None] - p[:, :, None, :], axis=-1)  # (B, T, N, N)
    clear = ((p >= radius + 3) & (p <= size - radius - 3)).all(axis=-1)  # (B, T, N)
    rows = []
    for i in range(n):
        for j in range(i + 1, n):
            d = dist[:, :, i, j]
            for c in range(2, t - 2):
                hit = (d[:, c] < 2 * radius + contact_px) & (d[:, c] <= d[:, c - 1]) & (d[:, c] < d[:, c + 1])
                hit &= clear[:, c - 2 : c + 3, i].all(axis=1) & clear[:, c - 2 : c + 3, j].all(axis=1)
                for k in range(n):
                    if k not in (i, j):
                        near = (dist[:, c - 2 : c + 3, k, i] < 2 * radius + 3) | (dist[:, c - 2 : c + 3, k, j] < 2 * radius + 3)
                        hit &= ~near.any(axis=1)
                rows.extend((s, c, i, j) for s in np.flatnonzero(hit))
    return np.array(rows, dtype=int).reshape(-1, 4)


def collision_metrics(positions, radius: float, size: float) -> CollisionMetrics:
    """Measure the laws of several balls on tracked positions (B, T, N, 2) (ball i stays ball i)."""
    p = np.asarray(positions, dtype=np.float64)
    events = clean_collisions(p, radius, size)
    momentum, exchange = [], []
    for s, c, i, j in events:
        before_i, before_j = p[s, c - 1, i] - p[s, c - 2, i], p[s, c - 1, j] - p[s, c - 2, j]
        after_i, after_j = p[s, c + 2, i] - p[s, c + 1, i], p[s, c + 2, j] - p[s, c + 1, j]
        normal = contact_normal(p[s, c - 1, i] - p[s, c - 1, j], before_i - before_j, radius)
        if normal is None:  # the paths before miss each other: no collision is due
            continue
        expected = elastic_exchange(before_i, before_j, normal)
        if np.linalg.norm(expected) < 0.5:  # a graze: too little exchanged to measure
            continue
        dv_i, dv_j = after_i - before_i, after_j - before_j
        momentum.append(np.linalg.norm(dv_i + dv_j) / (np.linalg.norm(before_i) + np.linalg.norm(before_j)))
        exchange.append((np.linalg.norm(dv_i - expected) + np.linalg.norm(dv_j + expected)) / (2 * np.linalg.norm(expected)))
    energy = 0.5 * (np.diff(p, axis=1) ** 2).sum(axis=(-1, -2))  # (B, T-1): total kinetic energy per step
    half = energy.shape[1] // 2
    # the median ignores the few steps folded by a bounce or a collision
    energy_change = np.abs(np.median(energy[:, half:], axis=1) / np.median(energy[:, :half], axis=1) - 1)
    dist = np.linalg.norm(p[:, :, :, None] - p[:, :, None, :], axis=-1)
    n = p.shape[2]
    dist[:, :, np.arange(n), np.arange(n)] = np.inf
    overlap = np.maximum(0.0, 2 * radius - dist.min(axis=(1, 2, 3))) if n > 1 else np.zeros(len(p))
    mean = lambda x: float(np.mean(x)) if len(x) else float("nan")
    return CollisionMetrics(momentum_change=mean(momentum), exchange_error=mean(exchange),
                            energy_change=float(np.mean(energy_change)), overlap_px=float(np.mean(overlap)),
                            n_collisions=len(momentum))


def track(frames, n_balls: int) -> np.ndarray:
    """Decode frames (B, T, H, W) of several balls to tracked positions (B, T, N, 2): centroids, each
    frame's k-means started from the previous frame's positions so that ball i stays ball i."""
    frames = check_frames(frames, ndim=4, model_output=True)
    out = [centroids(frames[:, 0], n_balls=n_balls)]
    for t in range(1, frames.shape[1]):
        out.append(centroids(frames[:, t], n_balls=n_balls, init=out[-1]))
    return np.stack(out, axis=1)
