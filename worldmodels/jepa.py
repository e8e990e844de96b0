"""Predicting without pixels: a joint-embedding predictive architecture (JEPA) of the bouncing-ball world.

    frames t-1, t     --context encoder--> s_t --predictor(s_t, push a_t)--> s^_t+1 --> ... --> s^_t+K
                                                                           |                 |
    frames t, t+1     --target encoder (EMA, no gradient)--> s_t+1 --compare-+                 |
    ...                                                                                      |
    frames t+K-1, t+K --target encoder (EMA, no gradient)--> s_t+K --compare-----------------+

- The context encoder (an MLP) reads the last `frames` frames (2: frame t and the one before) and gives one
  embedding s_t, which can hold where the ball is AND how fast it moves; one frame alone holds no velocity
  (frames = 1, history = 2 is the variant where the predictor reads two one-frame embeddings instead).
  A clip's first frame is read with copies of itself before it, as a ball at rest.
- The target encoder is a copy of the context encoder whose weights follow it slowly, an exponential moving
  average (EMA): target <- ema * target + (1 - ema) * context, after every optimiser step. It gets no
  gradient; it gives the embeddings the predictions are compared with.
- The predictor is a residual MLP on the last `history` embeddings (1 here), s_t+1 = s_t + f(s_t, a_t), rolled
  open loop for K steps.
- There is no decoder: the loss lives in embedding space, the mean squared error between imagined and
  target embeddings (`prediction_loss`). Alone, that loss has a trivial minimum, every frame mapped to the
  same point (collapse). Two remedies, used together: the EMA target, and a variance/covariance regulariser
  on the context embeddings (`variance_covariance`: every dimension keeps a standard deviation of at least
  1 over a batch, and different dimensions stay uncorrelated), as in VICReg.
- `effective_rank` and `spread` measure collapse; `surprise` is the prediction error in embedding space one or
  more steps ahead (SURPRISE_STEPS = 2 in chapter 11), frame by frame: high where the world does something the
  model did not expect.
- Planning (worldmodels.planning with `planning_model`): the candidate pushes are imagined in embedding space;
  their ending is compared with the goal either as an embedding (`goal_embeddings`, `embedding_scale`) or
  through a learned read-out of the ball's position (`fit_position_readout`, quadratic in the embedding).

This file is the model and its loss. Training it is worldmodels.jepa_training; the recorded reference run
loads with worldmodels.registry.load("jepa").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch
import torch.nn as nn

from .probe import LinearProbe, fit_linear_probe
from .render import render
from .validation import check_frames, check_points
from .world_model import mlp


@dataclass(frozen=True)
class JEPAConfig:
    size: int = 32  # frames are size x size
    embed: int = 24  # size of an embedding s_t
    enc_hidden: int = 96
    pred_hidden: int = 256
    history: int = 1  # embeddings the predictor reads
    frames: int = 2  # consecutive frames the encoder reads for one embedding (2: position and velocity)
    action_dim: int = 2
    ema: float = 0.99  # target <- ema * target + (1 - ema) * context; 0 = no target network (the same encoder, with gradients)
    var_weight: float = 1.0  # weight of the variance term (0 = off)
    cov_weight: float = 0.04  # weight of the covariance term (0 = off)

    def __post_init__(self):
        for name in ("size", "embed", "enc_hidden", "pred_hidden", "history", "frames", "action_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.ema, Real) or not 0 <= self.ema < 1:
            raise ValueError(f"ema must be a number in [0, 1), got {self.ema!r}")
        for name in ("var_weight", "cov_weight"):
            value = getattr(self, name)
            if not isinstance(value, Real) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


class JEPA(nn.Module):
    """Context encoder + EMA target encoder + action-conditioned predictor. Shapes: frames (B, T, H, W) in
    [0, 1], pushes (B, K, 2) in px/frame, embeddings (B, [T,] embed)."""

    def __init__(self, config: JEPAConfig = JEPAConfig()):
        super().__init__()
        self.config = c = config
        self.encoder = mlp([c.frames * c.size * c.size, c.enc_hidden, c.enc_hidden, c.embed])
        self.target_encoder = copy.deepcopy(self.encoder)
        self.target_encoder.requires_grad_(False)
        self.predictor = mlp([c.history * c.embed + c.action_dim, c.pred_hidden, c.pred_hidden, c.embed])

    @property
    def context(self) -> int:
        """Observed frames needed before the first prediction: frames - 1 + history."""
        return self.config.frames - 1 + self.config.history

    def _inputs(self, frames):
        """Frames (..., [T,] H, W) -> encoder inputs (..., [T,] frames * H * W): with frames = 1 each frame
        alone; otherwise frame t and the frames - 1 before it (a clip's first frame repeated before its start:
        a ball at rest), which needs the time axis T."""
        c = self.config
        if not torch.is_tensor(frames) or frames.ndim < (3 if c.frames == 1 else 4) or frames.shape[-2:] != (c.size, c.size):
            raise ValueError(f"frames must be a tensor ({'...' if c.frames == 1 else '..., T'}, {c.size}, {c.size}), got "
                             f"{tuple(frames.shape) if torch.is_tensor(frames) else type(frames).__name__}")
        if c.frames == 1:
            return frames.flatten(-2)
        t = frames.shape[-3]
        padded = torch.cat([frames[..., :1, :, :].expand(*frames.shape[:-3], c.frames - 1, c.size, c.size), frames], dim=-3)
        return torch.stack([padded[..., i : i + t, :, :] for i in range(c.frames)], dim=-3).flatten(-3)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (..., [T,] H, W) -> context embeddings (..., [T,] embed), one per frame (see _inputs)."""
        return self.encoder(self._inputs(frames))

    def encode_target(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (..., [T,] H, W) -> target embeddings (..., [T,] embed). Without a target network (ema = 0):
        the context encoder itself, gradients included."""
        x = self._inputs(frames)
        if self.config.ema == 0:
            return self.encoder(x)
        with torch.no_grad():
            return self.target_encoder(x)

    @torch.no_grad()
    def update_target(self) -> None:
        """One EMA step: target <- ema * target + (1 - ema) * context (nothing to do when ema = 0)."""
        ema = self.config.ema
        for t, s in zip(self.target_encoder.parameters(), self.encoder.parameters()):
            t.mul_(ema).add_(s.detach(), alpha=1 - ema)

    def step(self, past: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """One imagined frame: the last `history` embeddings (B, history, embed) and the push a_t (B, 2) -> s_t+1."""
        return past[:, -1] + self.predictor(torch.cat([past.flatten(1), action], dim=-1))

    def imagine(self, past: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Roll the predictor open loop: embeddings (B, >= history, embed) of the observed frames, pushes
        a_t .. a_t+K-1 (B, K, 2) -> imagined embeddings s_t+1 .. s_t+K (B, K, embed)."""
        c = self.config
        if past.ndim != 3 or past.shape[1] < c.history or past.shape[2] != c.embed:
            raise ValueError(f"past must have shape (B, >= {c.history}, {c.embed}), got {tuple(past.shape)}")
        if actions.ndim != 3 or actions.shape[0] != past.shape[0] or actions.shape[2] != c.action_dim:
            raise ValueError(f"actions must have shape (B={past.shape[0]}, K, {c.action_dim}), got {tuple(actions.shape)}")
        window, out = past[:, -c.history :], []
        for k in range(actions.shape[1]):
            nxt = self.step(window, actions[:, k])
            out.append(nxt)
            window = torch.cat([window[:, 1:], nxt[:, None]], dim=1)
        return torch.stack(out, dim=1)


# ------------------------------------------------------------------------------------------------ the loss


def variance_covariance(embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The anti-collapse regulariser on a batch of embeddings (M, D), M >= 2: (variance term, covariance term).
    Variance: mean over dimensions of max(0, 1 - std); zero when every dimension spreads by at least 1.
    Covariance: the squared off-diagonal entries of the covariance matrix, summed, divided by D; zero when
    dimensions are uncorrelated."""
    if embeddings.ndim != 2 or embeddings.shape[0] < 2:
        raise ValueError(f"embeddings must have shape (M >= 2, D), got {tuple(embeddings.shape)}")
    z = embeddings - embeddings.mean(dim=0)
    std = torch.sqrt(z.var(dim=0) + 1e-4)
    variance = torch.relu(1 - std).mean()
    cov = z.T @ z / (z.shape[0] - 1)
    off = cov - torch.diag(torch.diag(cov))
    return variance, off.square().sum() / z.shape[1]


def prediction_loss(model: JEPA, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the embeddings imagined from the first `history` frames of the windows
    frames (B, history + K, H, W) with the pushes actions (B, history + K, 2) (actions[:, t]: the push at
    frame t) and the target encoder's embeddings of frames history .. history + K - 1."""
    h = model.context  # = history when the encoder reads one frame
    if frames.ndim != 4 or frames.shape[1] <= h:
        raise ValueError(f"frames must have shape (B, context + K, H, W) with K >= 1, got {tuple(frames.shape)}")
    if actions.shape != frames.shape[:2] + (model.config.action_dim,):
        raise ValueError(f"actions must have shape {tuple(frames.shape[:2]) + (model.config.action_dim,)}, got {tuple(actions.shape)}")
    lead = model.config.frames - 1  # embeddings whose frames reach back before the window: not used
    imagined = model.imagine(model.encode(frames[:, :h])[:, lead:], actions[:, h - 1 : -1])
    return (imagined - model.encode_target(frames)[:, h:]).square().mean()


def jepa_loss(model: JEPA, batch) -> torch.Tensor:
    """The training loss: prediction_loss + var_weight * variance + cov_weight * covariance, the regulariser
    on the context embeddings of every frame of the batch. In training mode it first takes the EMA step
    (update_target): the loss of step n + 1 sees the target that follows the weights of step n."""
    frames, actions = batch
    if model.training:
        model.update_target()
    loss = prediction_loss(model, frames, actions)
    c = model.config
    if c.var_weight or c.cov_weight:
        variance, covariance = variance_covariance(model.encode(frames)[:, c.frames - 1 :].flatten(0, 1))
        loss = loss + c.var_weight * variance + c.cov_weight * covariance
    return loss


# ------------------------------------------------------------------------------------ measuring collapse


def spread(embeddings) -> np.ndarray:
    """Per-dimension standard deviation of embeddings (M, D) -> (D,). All near zero: collapse."""
    z = np.asarray(embeddings, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"embeddings must have shape (M >= 2, D), got {z.shape}")
    return z.std(axis=0)


def effective_rank(embeddings) -> float:
    """exp(entropy) of the normalised singular values of the centred embeddings (M, D): how many
    directions the embeddings really use, between 1 (a line, or a point) and D."""
    z = np.asarray(embeddings, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"embeddings must have shape (M >= 2, D), got {z.shape}")
    s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    if s.sum() <= 1e-12:
        return 1.0
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


# ------------------------------------------------------------------------------------------------ surprise


# Chosen on validation violation clips (seeds 1 and 3; the chapter's clips are seed 2): the error of the
# embedding imagined two frames ahead separates a ball passing through a wall from lawful bounces better than
# the one-step error (AUC about 0.97-0.99 against 0.93), and speed changes and wrong bounces too, while
# teleports and vanishing balls stay near 1; three or four steps ahead did no better.
SURPRISE_STEPS = 2


@torch.no_grad()
def surprise(model: JEPA, frames, actions=None, steps: int = 1) -> np.ndarray:
    """Surprise of clips frames (B, T, H, W), `steps` frames ahead: for every frame t >= context + steps - 1
    (JEPA.context), the squared distance between the embedding the model imagined for frame t from the
    embeddings up to frame t - steps (rolled open loop with the pushes of frames t - steps .. t - 1) and the
    target encoder's embedding of frame t. steps = 1 is the one-step prediction error. Returns
    (B, T - context - steps + 1); a clip's surprise is its max."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    h, lead = model.config.history, model.config.frames - 1
    frames = check_frames(frames, size=model.config.size, ndim=4, min_frames=h + lead + steps, dtype=np.float32,
                          tensor=True)
    b, t = frames.shape[:2]
    actions = torch.zeros(b, t, 2) if actions is None else torch.as_tensor(np.asarray(actions), dtype=torch.float32)
    if actions.shape != (b, t, 2):
        raise ValueError(f"actions must have shape {(b, t, 2)}, got {tuple(actions.shape)}")
    model.eval()
    s = model.encode_target(frames)
    starts = range(lead, t - h - steps + 1)  # the window s[i : i + h] predicts frames i + h .. i + h + steps - 1
    windows = torch.stack([s[:, i : i + h] for i in starts], dim=1).flatten(0, 1)
    pushes = torch.stack([actions[:, i + h - 1 : i + h - 1 + steps] for i in starts], dim=1).flatten(0, 1)
    predicted = model.imagine(windows, pushes)[:, -1].unflatten(0, (b, len(starts)))
    return (predicted - s[:, h + lead + steps - 1 :]).square().sum(-1).numpy()


@torch.no_grad()
def pixel_surprise(world_model, frames) -> np.ndarray:
    """The pixel counterpart, for comparison: the surprise of chapter 5's WorldModel on clips frames
    (B, T, H, W), for every frame t >= its context, the squared pixel error (summed over the frame) of its
    one-step prediction from the frames before. Returns (B, T - context); a clip's surprise is its max."""
    c = world_model.config.context
    frames = check_frames(frames, size=world_model.config.size, ndim=4, min_frames=c + 1, dtype=np.float32, tensor=True)
    world_model.eval()
    b, t = frames.shape[:2]
    windows = torch.stack([frames[:, i - c : i] for i in range(c, t)], dim=1).flatten(0, 1)
    predicted = world_model.predict(windows, torch.zeros(len(windows), 1, 2))[:, 0].unflatten(0, (b, t - c))
    return (predicted - frames[:, c:]).square().sum((-2, -1)).numpy()


# ------------------------------------------------------------------------------------------ planning


@torch.no_grad()
def goal_embeddings(model: JEPA, targets, world) -> np.ndarray:
    """Target points (B, 2) px -> the embeddings (B, embed) of a frame with the ball resting there: the goal
    a planner in embedding space aims at."""
    targets = check_points(targets, world.size)
    if targets.ndim != 2:
        raise ValueError(f"targets must have shape (B, 2), got {targets.shape}")
    frames = torch.from_numpy(render(targets[:, None], world.radius, world.size))
    return model.encode_target(frames[:, None])[:, 0].numpy()  # a clip of one frame: the ball at rest


def quadratic_features(embeddings) -> np.ndarray:
    """Embeddings (M, D) -> (M, D + D(D+1)/2): the embedding and the products of every pair of its numbers
    (squares included): the features of a quadratic read-out."""
    z = np.asarray(embeddings, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"embeddings must have shape (M, D), got {z.shape}")
    i, j = np.triu_indices(z.shape[1])
    return np.concatenate([z, z[:, i] * z[:, j]], axis=1)


@dataclass
class PositionReadout:
    """A learned read-out of the ball's position from embeddings: a ridge regression on quadratic_features.
    readout(embeddings (..., D)) -> positions (..., 2) px."""

    probe: LinearProbe

    def __call__(self, embeddings) -> np.ndarray:
        z = np.asarray(embeddings, dtype=np.float64)
        return self.probe.predict(quadratic_features(z.reshape(-1, z.shape[-1]))).reshape(z.shape[:-1] + (2,))


@torch.no_grad()
def fit_position_readout(model: JEPA, videos) -> PositionReadout:
    """Fit a PositionReadout on videos (a BallVideos of one ball: frames (B, T, H, W), positions (B, T, 1, 2)),
    from the target encoder's embeddings of every frame but the first (read as a ball at rest) to the ball's
    true position. Fit it on validation videos; it never sees the planner's start states."""
    frames, positions = getattr(videos, "frames", None), getattr(videos, "positions", None)
    if frames is None or positions is None or np.ndim(frames) != 4 or np.shape(positions)[:2] != np.shape(frames)[:2] \
            or np.shape(frames)[1] < 2:
        raise ValueError("videos must be a BallVideos with frames (B, T >= 2, H, W) and positions (B, T, 1, 2)")
    z = model.encode_target(torch.as_tensor(np.asarray(frames), dtype=torch.float32))[:, 1:]
    p = np.asarray(positions)[:, 1:, 0]
    return PositionReadout(fit_linear_probe(quadratic_features(z.flatten(0, 1).numpy()), p.reshape(-1, 2)))


def planning_model(model: JEPA, scale: float = 1.0, readout: PositionReadout | None = None):
    """The JEPA as a model for worldmodels.planning (cem_plan, run_mpc): model(observation, pushes (B, N, H, 2))
    -> what the final imagined embeddings say, (B, N, .). Encode the last observed frames once, imagine every
    candidate sequence in one batch. Two ways to compare the ending with the goal:
    - without `readout`: the final embeddings (B, N, embed) times `scale`; plan with run_mpc(goals=
      goal_embeddings * scale). `scale` turns embedding distances into roughly pixels (embedding_scale), so
      that the task's weight of push energy means the same as for the other planners;
    - with a PositionReadout: the positions it reads off the final embeddings (B, N, 2) px; plan toward the
      task's target points (run_mpc's default goals)."""
    if not isinstance(scale, Real) or not scale > 0:
        raise ValueError(f"scale must be a number > 0, got {scale!r}")
    if readout is not None and not isinstance(readout, PositionReadout):
        raise ValueError(f"readout must be a PositionReadout (fit_position_readout) or None, got {type(readout).__name__}")

    @torch.no_grad()
    def predict(obs, pushes) -> np.ndarray:
        pushes = np.asarray(pushes, dtype=np.float64)
        b = obs.frames.shape[0]
        if pushes.ndim != 4 or pushes.shape[0] != b or pushes.shape[-1] != 2 or pushes.shape[2] < 1:
            raise ValueError(f"pushes must have shape (B={b}, N, H >= 1, 2), got {pushes.shape}")
        n, h = pushes.shape[1], pushes.shape[2]
        observed = torch.as_tensor(obs.frames[:, -model.context :], dtype=torch.float32)
        past = model.encode_target(observed)[:, model.config.frames - 1 :]
        past = past.repeat_interleave(n, dim=0)
        flat = torch.as_tensor(pushes.reshape(b * n, h, 2), dtype=torch.float32)
        final = model.imagine(past, flat)[:, -1].numpy()
        if readout is not None:
            return readout(final).reshape(b, n, 2)
        return (scale * final).reshape(b, n, -1)

    return predict


@torch.no_grad()
def embedding_scale(model: JEPA, positions, world) -> float:
    """Pixels per embedding unit: median distance between random pairs of the given ball positions (M, 2)
    divided by the median distance between their embeddings (one number, no training)."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2 or len(positions) < 4:
        raise ValueError(f"positions must have shape (M >= 4, 2), got {positions.shape}")
    z = goal_embeddings(model, positions, world)
    half = len(positions) // 2
    px = np.linalg.norm(positions[:half] - positions[half : 2 * half], axis=-1)
    emb = np.linalg.norm(z[:half] - z[half : 2 * half], axis=-1)
    return float(np.median(px) / max(np.median(emb), 1e-12))
