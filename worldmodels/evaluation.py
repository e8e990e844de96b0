"""One measuring stick for every model of the course: prediction error versus horizon.

Every model from chapter 4 on is a *predictor*: it sees ``C`` context frames of a bouncing-ball
video and predicts the next ``K`` frames. The harness runs predictors and the baselines on the
*same* sequences and reports, for each horizon ``k = 1 .. K``, means over the sequences of

- ``error_px``: centroid position error in pixels. Predicted frames are decoded back to ball
  positions (:func:`worldmodels.centroid.centroids`) and compared with the true positions
  (:func:`worldmodels.centroid.match_error`, which pairs balls up optimally). This is the figure
  pixel metrics hide: a blurry ball can score well on MSE and still sit in the wrong place.
- ``wrong_pixel_frac``: fraction of pixels on the wrong side of 0.5 (prediction vs truth).
- ``mse``: mean squared pixel error.

The predictor interface (a plain function, or any callable)::

    predictor(context, actions, horizon) -> frames
        context : (B, C, H, W) float32 in [0, 1], frames 0 .. C-1 of each sequence
        actions : (B, C + K, 2) float64, the actions of those C + K time steps exactly as stored in
                  BallVideos: actions[:, t] is the push on ball 0 applied between frames t and t + 1
                  (all zeros for a split made without actions; None only if the videos carry no
                  actions array). A predictor must not use the true *frames* after the context;
                  using the actions is allowed (they are inputs an agent chooses).
        horizon : K, the number of frames to predict (an int)
        returns : (B, K, H, W) predictions of frames C .. C+K-1 (NumPy or torch, values in [0, 1])

Horizon ``k`` means frame ``C - 1 + k``; **horizon 0 is the last context frame**, which the
copy-last baseline reproduces exactly.

Baselines (added by :func:`evaluate` when ``baselines=True``):

- ``"copy last frame"``: repeat the last context frame (a model that learned nothing about motion);
- ``"box centre"``: every ball drawn at the centre of the box (the best guess knowing nothing);
- ``"oracle"``: hand-coded physics from the true context *positions*
  (:func:`worldmodels.oracle.oracle_positions`):
  the velocity from the last true positions (bounces in between accounted for), then constant
  velocity plus exact wall reflection and the known pushes, ignoring ball–ball collisions; exact
  for one ball without actions;
- ``"empty frame"``: an all-black frame. It has no ball, so its ``error_px`` is NaN; it is there for
  the pixel metrics, which it often wins against blurry predictions.

Position-based baselines are rendered (:func:`worldmodels.render.render`) and scored through the
same decoding as every model, so all rows of a report are measured the same way.

The pieces are public for scoring your own arrays: :func:`score_frames` (predictions you already
have), :func:`centroid_error`, :func:`wrong_pixel_fraction`, :func:`pixel_mse`,
:func:`worldmodels.oracle.oracle_positions`; and for presenting: :func:`report_table` (a pandas
DataFrame for checked notebook cells), :func:`plot_error_vs_horizon`, :func:`side_by_side_html`. Several balls are decoded with
weighted k-means (:func:`worldmodels.centroid.centroids`), so overlapping balls add decoding error.

Typical use::

    videos = make_split("test", 256, 30, CANONICAL, with_actions=False, seed=0)
    reports = evaluate({"conv net": model_predictor}, videos, context=10, horizon=20)
    report_table(reports)  # a DataFrame: the last expression of a notebook cell
    plot_error_vs_horizon(reports)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from worldmodels.centroid import centroids, match_error
from worldmodels.oracle import oracle_positions
from worldmodels.render import render
from worldmodels.validation import check_frames, check_horizon

Predictor = Callable[[np.ndarray, "np.ndarray | None", int], np.ndarray]

COPY_LAST = "copy last frame"
BOX_CENTRE = "box centre"
ORACLE = "oracle"
EMPTY = "empty frame"
BASELINES = (COPY_LAST, BOX_CENTRE, ORACLE, EMPTY)
METRICS = ("error_px", "wrong_pixel_frac", "mse")


@dataclass
class HorizonReport:
    """Per-horizon figures of one predictor; arrays have length K (index 0 is horizon k = 1)."""

    name: str
    error_px: np.ndarray  # (K,) mean centroid error in pixels (NaN for the empty frame)
    wrong_pixel_frac: np.ndarray  # (K,) mean fraction of wrongly thresholded pixels
    mse: np.ndarray  # (K,) mean squared pixel error
    error_px_per_sequence: np.ndarray  # (B, K) the centroid error of each sequence
    n_sequences: int

    @property
    def horizons(self) -> np.ndarray:
        """The horizons ``1 .. K`` the arrays refer to."""
        return np.arange(1, len(self.error_px) + 1)

    def at(self, k: int) -> dict[str, float]:
        """The three metrics at horizon ``k`` (1-based) as plain floats."""
        if not 1 <= k <= len(self.error_px):
            raise ValueError(f"horizon k must be in 1..{len(self.error_px)}, got {k}")
        return {m: float(getattr(self, m)[k - 1]) for m in METRICS}


# --------------------------------------------------------------------------- pixel metrics


def _check_pair(pred, true) -> tuple[np.ndarray, np.ndarray]:
    pred, true = check_frames(pred, name="predicted frames", model_output=True), check_frames(true, name="true frames")
    if pred.shape != true.shape:
        raise ValueError(f"predicted frames {pred.shape} and true frames {true.shape} must have the same shape")
    return pred, true


def wrong_pixel_fraction(pred, true, threshold: float = 0.5) -> np.ndarray:
    """Fraction of pixels where ``pred > threshold`` disagrees with ``true > threshold``.

    ``pred`` and ``true`` have shape ``(..., H, W)``; returns shape ``(...)``.
    """
    pred, true = _check_pair(pred, true)
    return ((pred > threshold) != (true > threshold)).mean(axis=(-2, -1))


def pixel_mse(pred, true) -> np.ndarray:
    """Mean squared pixel error per frame: ``(..., H, W)`` pairs -> ``(...)``."""
    pred, true = _check_pair(pred, true)
    return ((pred.astype(np.float64) - true) ** 2).mean(axis=(-2, -1))


def centroid_error(pred_frames, true_positions, n_balls: int | None = None) -> np.ndarray:
    """Decode frames to ball positions and measure the distance to the truth, in pixels.

    ``pred_frames`` ``(..., H, W)``, ``true_positions`` ``(..., N, 2)``; returns ``(...)``, the mean
    over balls of the distance after pairing predicted and true balls optimally.
    """
    pred_frames = check_frames(pred_frames, name="pred_frames", model_output=True)
    true_positions = np.asarray(true_positions, dtype=np.float64)
    if true_positions.ndim < 2 or true_positions.shape[-1] != 2:
        raise ValueError(f"true_positions must have shape (..., N, 2), got {true_positions.shape}")
    if pred_frames.shape[:-2] != true_positions.shape[:-2]:
        raise ValueError(
            f"frames {pred_frames.shape} and positions {true_positions.shape} must share their leading "
            "dimensions: (..., H, W) against (..., N, 2)"
        )
    n_balls = true_positions.shape[-2] if n_balls is None else n_balls
    decoded = centroids(pred_frames, n_balls=n_balls)
    return np.asarray(match_error(decoded, true_positions))


def score_frames(name: str, pred_frames, true_frames, true_positions) -> HorizonReport:
    """Score predictions you already have: ``(B, K, H, W)`` frames against ``(B, K, H, W)`` truth
    and ``(B, K, N, 2)`` true positions (no predictor call, no baselines)."""
    pred, true = _check_pair(pred_frames, true_frames)
    if pred.ndim != 4:
        raise ValueError(f"frames must have shape (B, K, H, W), got {pred.shape}")
    true_positions = np.asarray(true_positions, dtype=np.float64)
    if true_positions.shape[:2] != pred.shape[:2]:
        raise ValueError(f"true_positions {true_positions.shape} must start with (B, K) = {pred.shape[:2]}")
    per_seq = centroid_error(pred, true_positions)
    return HorizonReport(
        name=name,
        error_px=per_seq.mean(axis=0),
        wrong_pixel_frac=wrong_pixel_fraction(pred, true).mean(axis=0),
        mse=pixel_mse(pred, true).mean(axis=0),
        error_px_per_sequence=per_seq,
        n_sequences=pred.shape[0],
    )


# --------------------------------------------------------------------------- baselines


def copy_last(context, actions, horizon: int) -> np.ndarray:
    """Baseline predictor: repeat the last context frame ``horizon`` times."""
    context, horizon = _check_context(context), check_horizon(horizon)
    return np.repeat(context[:, -1:], horizon, axis=1)


def empty_frame(context, actions, horizon: int) -> np.ndarray:
    """Baseline predictor: all-black frames (no ball at all)."""
    context, horizon = _check_context(context), check_horizon(horizon)
    b, _, h, w = context.shape
    return np.zeros((b, horizon, h, w), dtype=np.float32)


# --------------------------------------------------------------------------- the harness


def evaluate(
    predictors: Mapping[str, Predictor],
    videos,
    context: int = 10,
    horizon: int = 20,
    baselines: bool = True,
    batch_size: int = 256,
) -> dict[str, HorizonReport]:
    """Run every predictor (and the baselines) on the same sequences; return one report per name.

    ``videos`` is a :class:`worldmodels.data.BallVideos` with ``frames`` ``(B, T, H, W)``,
    ``positions`` ``(B, T, N, 2)``, ``actions`` ``(B, T, 2)`` or None, and ``world``; ``T`` must be at
    least ``context + horizon``. The window is frames ``0 .. context + horizon - 1`` of each
    sequence. Predictors are called batch by batch (``batch_size`` sequences at a time). The returned
    dict lists your predictors first, then the baselines.
    """
    context, horizon = check_horizon(context, "context"), check_horizon(horizon)
    batch_size = check_horizon(batch_size, "batch_size")
    frames = check_frames(videos.frames, size=videos.world.size, ndim=4, name="videos.frames", dtype=np.float32)
    positions = np.asarray(videos.positions, dtype=np.float64)
    if frames.ndim != 4 or positions.ndim != 4 or positions.shape[:2] != frames.shape[:2]:
        raise ValueError(f"videos need frames (B, T, H, W) and positions (B, T, N, 2); got {frames.shape}, {positions.shape}")
    if frames.shape[1] < context + horizon:
        raise ValueError(
            f"sequences have {frames.shape[1]} frames but context + horizon = {context + horizon}: "
            "make longer sequences or shorten the horizon"
        )
    names = list(predictors) + ([n for n in BASELINES if n not in predictors] if baselines else [])
    if not names:
        raise ValueError("give at least one predictor or set baselines=True")
    world = videos.world
    actions = getattr(videos, "actions", None)
    end = context + horizon
    true = frames[:, context:end]
    true_pos = positions[:, context:end]

    def run(name, lo, hi):
        ctx = frames[lo:hi, :context]
        if name in predictors:
            act = None if actions is None else np.asarray(actions[lo:hi, :end], dtype=np.float64)
            pred = _to_numpy(predictors[name](ctx, act, horizon))
            expected = (hi - lo, horizon) + ctx.shape[2:]
            if pred.shape != expected:
                raise ValueError(f"predictor {name!r} returned shape {pred.shape}, expected (B, K, H, W) = {expected}")
            return check_frames(pred, name=f"the frames predictor {name!r} returned", dtype=np.float32, model_output=True)
        if name == COPY_LAST:
            return copy_last(ctx, None, horizon)
        if name == EMPTY:
            return empty_frame(ctx, None, horizon)
        if name == BOX_CENTRE:
            centre = np.full((hi - lo, horizon) + positions.shape[2:], world.size / 2.0)
            return render(centre, world.radius, world.size)
        if name == ORACLE:
            act = None if actions is None else np.asarray(actions[lo:hi, :end], dtype=np.float64)
            oracle = oracle_positions(positions[lo:hi, :context], horizon, world, actions=act)
            return render(oracle, world.radius, world.size)
        raise ValueError(f"unknown baseline {name!r}")

    reports = {}
    for name in names:
        pred = np.concatenate([run(name, lo, min(lo + batch_size, len(frames))) for lo in range(0, len(frames), batch_size)])
        report = score_frames(name, pred, true, true_pos) if name != EMPTY else _score_empty(pred, true)
        reports[name] = report
    return reports


def _score_empty(pred, true) -> HorizonReport:
    b, k = pred.shape[:2]
    return HorizonReport(
        name=EMPTY,
        error_px=np.full(k, np.nan),
        wrong_pixel_frac=wrong_pixel_fraction(pred, true).mean(axis=0),
        mse=pixel_mse(pred, true).mean(axis=0),
        error_px_per_sequence=np.full((b, k), np.nan),
        n_sequences=b,
    )


# --------------------------------------------------------------------------- presenting results

_LABELS = {"error_px": "centroid error (px)", "wrong_pixel_frac": "wrong-pixel fraction", "mse": "pixel MSE"}
_DIGITS = {"error_px": 2, "wrong_pixel_frac": 3, "mse": 4}


def report_table(reports: Mapping[str, HorizonReport], ks=(1, 5, 10, 20), metrics=("error_px", "wrong_pixel_frac"), digits=None):
    """A pandas DataFrame, one row per predictor, two-level columns: the metric ("centroid error (px)",
    "wrong-pixel fraction", "pixel MSE"), then the horizon ("k=1", "k=5", ...).

    Rounded (``digits`` per metric, default 2 / 3 / 4 decimals) so its text reproduces in checked
    cells. Missing values (the empty frame's centroid error) are NaN. The default, two metrics at four
    horizons, is eight narrow columns; ask for ``metrics=METRICS`` (adds the pixel MSE) with fewer ``ks``.
    Read a value with ``table.loc[name, ("centroid error (px)", "k=10")]``.
    """
    import pandas as pd

    if not reports:
        raise ValueError("reports is empty")
    digits = {**_DIGITS, **(digits or {})}
    for metric in metrics:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose from {METRICS}")
    columns = {
        (_LABELS[metric], f"k={k}"): [round(rep.at(k)[metric], digits[metric]) for rep in reports.values()]
        for metric in metrics
        for k in ks
    }
    table = pd.DataFrame(columns, index=pd.Index(list(reports), name="predictor"))
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["metric", "horizon"])
    return table


def plot_error_vs_horizon(reports: Mapping[str, HorizonReport], metric: str = "error_px", ax=None, logy=False):
    """Curves of ``metric`` against horizon for several predictors on one axis; returns the axis.

    Baselines are thin dashed or dotted lines, each with its own shade and marker, so the models (solid, in
    colour) stand out and every baseline can be told apart; the empty frame is skipped for the centroid error
    (it has no ball). The legend sits outside the axis, on its right, when the axis is alone in its figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {METRICS}")
    if ax is None:
        _, ax = plt.subplots()
    styles = {COPY_LAST: ("0.45", ":", "x"), BOX_CENTRE: ("0.6", "--", "s"), ORACLE: ("0.15", "--", "^"),
              EMPTY: ("0.7", "-.", "d")}
    for name, rep in reports.items():
        values = getattr(rep, metric)
        if np.all(np.isnan(values)):
            continue
        if name in styles:
            color, ls, marker = styles[name]
            ax.plot(rep.horizons, values, ls=ls, lw=1.2, color=color, marker=marker, ms=3.5, markevery=max(1, len(values) // 5),
                    label=name)
        else:
            ax.plot(rep.horizons, values, marker="o", ms=3, label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("horizon k (frames after the context)")
    ax.set_ylabel(_LABELS[metric])
    if logy:
        ax.set_yscale("log")
    if len(ax.figure.axes) == 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    else:
        ax.legend(fontsize=8)
    return ax


def side_by_side_html(true_frames, predicted: Mapping[str, np.ndarray], context_frames=None, scale: int = 4,
                      fps: float = 6.0, caption: str | None = None):
    """Animation: the true future next to each prediction, playing in JupyterLab and the static book.

    ``true_frames`` ``(K, H, W)``, ``predicted`` maps a name to ``(K, H, W)``. With
    ``context_frames`` ``(C, H, W)`` every panel first shows the context, so the viewer sees the
    motion the model was given before it takes over; the GIF marks those frames as given.
    """
    from worldmodels.animation import video_html

    true_frames = check_frames(true_frames, ndim=3, name="true_frames", layout="(K, H, W)", model_output=True)
    videos, titles = [true_frames], ["truth"]
    for name, frames in predicted.items():
        frames = check_frames(frames, name=f"prediction {name!r}", model_output=True)
        if frames.shape != true_frames.shape:
            raise ValueError(f"prediction {name!r} has shape {frames.shape}, expected {true_frames.shape}")
        videos.append(frames)
        titles.append(name)
    if context_frames is not None:
        context_frames = check_frames(context_frames, name="context_frames", model_output=True)
        if context_frames.ndim != 3 or context_frames.shape[1:] != true_frames.shape[1:]:
            raise ValueError(f"context_frames must have shape (C, H, W) = (C, {true_frames.shape[1:]}), got {context_frames.shape}")
        videos = [np.concatenate([context_frames, v]) for v in videos]
    context = 0 if context_frames is None else len(context_frames)
    return video_html(videos, titles, scale=scale, fps=fps, caption=caption, context=context)


# ------------------------------------------------------------------------- sharp and blurred

# The course's one meaning of "sharp": a drawn ball's brightest pixel is 1.00 wherever the ball sits (its centre
# pixel is fully covered), so a frame whose brightest pixel is at least SHARP_PEAK shows a sharp ball; below it
# the ball's ink has spread out ("blurred"). Chapters 4, 5, 9 and 10 use these words in this sense.
SHARP_PEAK = 0.95


def sharpness(frames) -> dict[str, np.ndarray]:
    """How sharp is the one ball of each clip (B, T, H, W)? Per clip, means over its frames of:
    "peak", the brightest pixel (1.00 for a drawn ball; sharp if >= SHARP_PEAK), and "mass_error",
    |ink within radius + 1 px of the frame's centroid / ink of one drawn ball - 1| (0 for a drawn ball;
    a blur spreads its ink outside the disc)."""
    from worldmodels.data import CANONICAL
    from worldmodels.laws import BALL_INK

    f = check_frames(frames, ndim=4, name="frames", layout="(B, T, H, W)").astype(np.float64)
    c = centroids(f, n_balls=1)[..., 0, :]  # (B, T, 2)
    h, w = f.shape[-2:]
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    dist = np.hypot(xs - c[..., 0, None, None], ys - c[..., 1, None, None])
    inside = (f * (dist <= CANONICAL.radius + 1.0)).sum(axis=(-2, -1))
    return {"mass_error": np.abs(inside / BALL_INK - 1).mean(1), "peak": f.max(axis=(-2, -1)).mean(1)}


# --------------------------------------------------------------------------- helpers


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_context(context) -> np.ndarray:
    return check_frames(context, ndim=4, name="context", layout="(B, C, H, W)")
