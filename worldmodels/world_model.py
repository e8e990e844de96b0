"""A small world model that learns the bouncing-ball world from pixels: encoder, latent dynamics, decoder.

    frames t-3..t --encoder--> z_t --dynamics(z, action)--> z_t+1 --> ... --> z_t+K
                                |                             |                 |
                             decoder                       decoder           decoder
                                v                             v                 v
                             frame t                     frame t+1   ...   frame t+K

- The encoder (an MLP) reads the last `context` frames, so the latent can hold the velocity as well as
  the position. A linear read-out of pixels already gives a ball's centre, so an MLP is a good fit here.
- The dynamics is a residual MLP, z_t+1 = z_t + f(z_t, a_t), where a_t is the push given at frame t
  (zero without actions). It never sees a frame after the context: it imagines in latent space.
- The decoder (an MLP) turns a latent back into the logits of one frame.
- The loss is the multi-step latent rollout loss: encode a context, imagine K steps open loop, decode,
  and compare with the true frames by binary cross-entropy. Long rollouts are what make the model stable
  far ahead; a model trained on short rollouts drifts beyond them.

This file is the model and its loss, nothing else. Training it (the data pool and the recipe) is
worldmodels.world_model_training; the recorded reference run loads with worldmodels.registry.load("world_model").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .validation import check_frames, check_horizon


@dataclass(frozen=True)
class WorldModelConfig:
    size: int = 32  # frames are size x size
    context: int = 4  # frames the encoder reads
    latent: int = 32  # size of the latent state z
    enc_hidden: int = 256
    dyn_hidden: int = 256
    dec_hidden: int = 256
    dec_layers: int = 1  # hidden layers of the decoder
    action_dim: int = 2

    def __post_init__(self):
        for name in ("size", "context", "latent", "enc_hidden", "dyn_hidden", "dec_hidden", "dec_layers", "action_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with a GELU between each two (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class WorldModel(nn.Module):
    """Encoder + action-conditioned latent dynamics + decoder. Shapes: frames (B, T, H, W) in [0, 1],
    actions (B, T, 2) in px/frame, latents (B, [T,] latent)."""

    def __init__(self, config: WorldModelConfig = WorldModelConfig()):
        super().__init__()
        self.config = c = config
        pixels = c.size * c.size
        self.encoder = mlp([c.context * pixels, c.enc_hidden, c.enc_hidden, c.latent])
        self.dynamics = mlp([c.latent + c.action_dim, c.dyn_hidden, c.dyn_hidden, c.latent])
        self.decoder = mlp([c.latent] + [c.dec_hidden] * c.dec_layers + [pixels])

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """The last `context` frames (B, C >= context, H, W) -> latent (B, latent)."""
        c = self.config
        if frames.ndim != 4 or frames.shape[1] < c.context or frames.shape[2:] != (c.size, c.size):
            raise ValueError(
                f"frames must have shape (B, C >= {c.context}, {c.size}, {c.size}), got {tuple(frames.shape)}"
            )
        return self.encoder(frames[:, -c.context :].reshape(frames.shape[0], -1))

    def step(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """One imagined frame: z_t (B, latent), push a_t (B, 2) -> z_t+1. Residual: the latent changes a little."""
        return z + self.dynamics(torch.cat([z, action], dim=-1))

    def imagine(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Roll the dynamics open loop: z_t (B, latent), actions a_t .. a_t+K-1 (B, K, 2) -> z_t+1 .. z_t+K (B, K, latent)."""
        if actions.ndim != 3 or actions.shape[0] != z.shape[0] or actions.shape[2] != self.config.action_dim:
            raise ValueError(
                f"actions must have shape (B={z.shape[0]}, K, {self.config.action_dim}), got {tuple(actions.shape)}"
            )
        latents = []
        for k in range(actions.shape[1]):
            z = self.step(z, actions[:, k])
            latents.append(z)
        return torch.stack(latents, dim=1)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (..., latent) -> frame logits (..., H, W)."""
        return self.decoder(z).unflatten(-1, (self.config.size, self.config.size))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (..., latent) -> frames (..., H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    @torch.no_grad()
    def predict(self, context: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Context frames (B, C, H, W) and the pushes a_C-1 .. a_C+K-2 (B, K, 2) -> imagined frames C .. C+K-1 (B, K, H, W)."""
        c = self.config
        context = check_frames(context, size=c.size, ndim=4, min_frames=c.context, name="context", layout="(B, C, H, W)",
                               dtype=np.float32, tensor=True)
        return self.decode(self.imagine(self.encode(context), actions))


# ------------------------------------------------------------------------------------------------ the loss


def frame_loss(logits: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over the pixels of a frame, averaged over all frames. Frames are soft
    (anti-aliased) targets in [0, 1]; the sum makes one frame's loss independent of the image size."""
    return F.binary_cross_entropy_with_logits(logits, frames, reduction="none").sum(dim=(-2, -1)).mean()


def rollout_loss(model: WorldModel, frames: torch.Tensor, actions: torch.Tensor, steps: torch.Tensor | None = None) -> torch.Tensor:
    """The multi-step latent rollout loss on windows of context + K frames.

    frames (B, context + K, H, W), actions (B, context + K, 2) aligned with the frames (actions[:, t] is the
    push given at frame t). Encode frames 0 .. context-1, imagine K steps with the pushes of frames
    context-1 .. context+K-2, decode, and score frame context-1 (the reconstruction) plus the imagined
    frames at the rollout steps `steps` (indices into 0..K-1; all of them when None).
    """
    c = model.config.context
    if frames.ndim != 4 or frames.shape[1] <= c:
        raise ValueError(f"frames must have shape (B, context + K, H, W) with K >= 1, got {tuple(frames.shape)}")
    if actions.shape != frames.shape[:2] + (model.config.action_dim,):
        raise ValueError(f"actions must have shape {tuple(frames.shape[:2]) + (model.config.action_dim,)}, got {tuple(actions.shape)}")
    horizon = frames.shape[1] - c
    if steps is not None and len(steps):  # imagine only up to the last scored step: the rest would get zero gradient
        horizon = int(steps.max()) + 1
    z0 = model.encode(frames[:, :c])
    latents = model.imagine(z0, actions[:, c - 1 : c - 1 + horizon])
    targets = frames[:, c : c + horizon]
    if steps is not None:
        latents, targets = latents[:, steps], targets[:, steps]
    logits = model.decode_logits(torch.cat([z0[:, None], latents], dim=1))
    return frame_loss(logits, torch.cat([frames[:, c - 1 : c], targets], dim=1))


# ------------------------------------------------------------------------------- the evaluation adapter


def as_predictor(model: WorldModel):
    """Wrap a model as an evaluation-harness predictor (worldmodels.evaluation):
    predictor(context (B, C, H, W), actions (B, C + K, 2) or None, horizon K) -> frames (B, K, H, W).
    NumPy in, NumPy out, eval mode, no gradients; the pushes of frames C-1 .. C+K-2 drive the dynamics."""

    def predict(context, actions, horizon: int) -> np.ndarray:
        model.eval()
        context = check_frames(context, size=model.config.size, ndim=4, min_frames=model.config.context, name="context",
                               layout="(B, C, H, W)", dtype=np.float32, tensor=True)
        horizon = check_horizon(horizon)
        b, c = context.shape[:2]
        if actions is None:
            pushes = torch.zeros(b, horizon, model.config.action_dim)
        else:
            actions = torch.as_tensor(np.asarray(actions), dtype=torch.float32)
            if actions.shape[:2] != (b, c + horizon):
                raise ValueError(f"actions must have shape (B, C + K, 2) = {(b, c + horizon, 2)}, got {tuple(actions.shape)}")
            pushes = actions[:, c - 1 : c - 1 + horizon]
        return model.predict(context, pushes).numpy()

    return predict
