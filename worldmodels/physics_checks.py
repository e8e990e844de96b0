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
ball turned inside it), so each law uses only the steps it can trust, found from sign flips of d.
The same checks run on the true trajectories, which pass them exactly (the reference column).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .centroid import centroids

# Tolerances of the verdict: a law "holds" when the measured violation is below them.
TOLERANCES = {
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
        """True where the law holds within TOLERANCES."""
        out = {}
        for name, tol in TOLERANCES.items():
            value = getattr(self, name)
            out[name] = bool(np.isfinite(value) and abs(value) <= tol)
        return out


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


def free_flight_speed(positions) -> np.ndarray:
    """Mean speed (px/frame) of each trajectory (B, T, 2) over its free-flight steps (free_flight_mask),
    shape (B,); NaN where no step qualifies. Steps next to a bounce are not velocities, so they are left out."""
    d = displacements(positions)
    free = free_flight_mask(d)
    speed = np.linalg.norm(d, axis=-1)
    n = free.sum(axis=1)
    return np.where(n > 0, (speed * free).sum(axis=1) / np.maximum(n, 1), np.nan)


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

    def masked_mean(values, mask):
        n = mask.sum(axis=1)
        return np.where(n > 0, (values * mask).sum(axis=1) / np.maximum(n, 1), np.nan)

    mean_speed = free_flight_speed(positions)
    early = masked_mean(speed[:, :half], free[:, :half])
    late = masked_mean(speed[:, half:], free[:, half:])
    early_e = masked_mean(0.5 * speed[:, :half] ** 2, free[:, :half])
    late_e = masked_mean(0.5 * speed[:, half:] ** 2, free[:, half:])
    _, before, after = bounce_angles(d)
    mass = np.nan
    if frames is not None and true_frames is not None:
        m_pred = np.asarray(frames, dtype=np.float64).sum(axis=(-2, -1))
        m_true = np.asarray(true_frames, dtype=np.float64).sum(axis=(-2, -1))
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
    pred = np.asarray(pred_frames)
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
      cells) and a last column "laws broken", how many of the laws are outside TOLERANCES. With `errors`,
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
        if verdicts:
            rows[split] = {SHORT_NAMES[name]: "kept" if kept[name] else "broken" for name in TOLERANCES}
            continue
        row = {} if errors is None else {"error k=10 (px)": round(float(errors.get(split, float("nan"))), 2)}
        row.update({COLUMN_LABELS[name]: round(float(getattr(m, name)), 3) for name in TOLERANCES})
        row["laws broken"] = sum(not ok for ok in kept.values())
        rows[split] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("split")
