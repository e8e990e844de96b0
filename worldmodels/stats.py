"""Statistics the course measures with: intervals of rates, rank statistics, ROC and AUC.

- `wilson_interval`: the Wilson score interval of a success rate (chapter 8's planners).
- `paired_gap`: the mean difference of two measurements on the same items, with a normal interval.
- `ranks`: average ranks (ties share their mean rank), the base of the two rank statistics below.
- `spearman`: the rank correlation of two lists (chapter 8: does imagination rank policies as reality does?).
- `auc`, `roc_curve`, `bootstrap_auc`, `threshold_at_fpr`, `tpr_at_fpr`: how well a score separates
  generated from real clips (chapter 10). Convention: higher score = "more likely generated"; AUC is the
  probability that a random generated clip scores above a random real one (ties count one half).
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from .physics import check_count


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a success rate (95 % for z = 1.96): stays inside [0, 1] and is honest
    near 0 and 1, where the normal approximation p +- z sqrt(p(1-p)/n) is not."""
    check_count("n", n)
    if isinstance(successes, bool) or not isinstance(successes, Integral) or not 0 <= successes <= n:
        raise ValueError(f"successes must be an integer in [0, n={n}], got {successes!r}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_gap(a, b, z: float = 1.96) -> tuple[float, float, float]:
    """Mean of the paired differences a - b (two measurements of the same items, shape (n,) each) and its
    normal interval (95 % for z = 1.96): (mean, low, high); the interval is NaN for a single pair."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 1:
        raise ValueError(f"need two 1-D arrays of one length >= 1, got {a.shape} and {b.shape}")
    d = a - b
    half = z * d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else float("nan")
    mean = float(d.mean())
    return mean, float(mean - half), float(mean + half)


def ranks(x) -> np.ndarray:
    """0-based ranks of a 1-D array; tied values share their mean rank ([5, 1, 5] -> [1.5, 0, 1.5])."""
    values, inverse, counts = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - 1 - 0.5 * (counts - 1))[inverse]


def spearman(a, b) -> float:
    """Spearman rank correlation of two 1-D arrays (ties get their average rank)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError(f"need two 1-D arrays of one length >= 2, got {a.shape} and {b.shape}")
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def _scores(real, generated) -> tuple[np.ndarray, np.ndarray]:
    real = np.asarray(real, dtype=np.float64).ravel()
    generated = np.asarray(generated, dtype=np.float64).ravel()
    if real.size == 0 or generated.size == 0:
        raise ValueError(f"need at least one real and one generated score, got {real.size} and {generated.size}")
    if not (np.isfinite(real).all() and np.isfinite(generated).all()):
        raise ValueError("scores must be finite (found NaN or inf)")
    return real, generated


def auc(real_scores, generated_scores) -> float:
    """Area under the ROC curve: P(score of a generated clip > score of a real clip), ties count 1/2.

    Computed from ranks (the Mann-Whitney U statistic), O(n log n).
    """
    real, gen = _scores(real_scores, generated_scores)
    r = ranks(np.concatenate([real, gen]))
    u = r[real.size :].sum() - gen.size * (gen.size - 1) / 2  # 0-based ranks: sum of gen's ranks among themselves
    return float(u / (real.size * gen.size))


def roc_curve(real_scores, generated_scores) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates), from (0, 0) to (1, 1), one point per distinct threshold."""
    real, gen = _scores(real_scores, generated_scores)
    thresholds = np.unique(np.concatenate([real, gen]))[::-1]
    fpr = np.r_[0.0, [(real >= t).mean() for t in thresholds]]
    tpr = np.r_[0.0, [(gen >= t).mean() for t in thresholds]]
    return fpr, tpr


def bootstrap_auc(real_scores, generated_scores, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC: resample real and generated clips with replacement."""
    real, gen = _scores(real_scores, generated_scores)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    values = [auc(rng.choice(real, real.size), rng.choice(gen, gen.size)) for _ in range(n_boot)]
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def threshold_at_fpr(real_scores, fpr: float = 0.01) -> float:
    """The smallest threshold t that flags (score > t) at most a fraction `fpr` of the real clips."""
    real = np.sort(np.asarray(real_scores, dtype=np.float64).ravel())
    if real.size == 0 or not np.isfinite(real).all():
        raise ValueError("need at least one finite real score")
    if not 0 <= fpr < 1:
        raise ValueError(f"fpr must be in [0, 1), got {fpr}")
    allowed = int(np.floor(fpr * real.size))  # real clips that may lie above the threshold
    return float(real[real.size - 1 - allowed])


def tpr_at_fpr(real_scores, generated_scores, fpr: float = 0.01) -> float:
    """Fraction of generated clips flagged at the threshold that flags at most `fpr` of the real ones."""
    real, gen = _scores(real_scores, generated_scores)
    return float((gen > threshold_at_fpr(real, fpr)).mean())
