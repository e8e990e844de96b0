"""Next-frame prediction in pixel space: a small conv net, its loss and the rollout loop (chapter 4).

The model sees the last ``n_input`` frames and outputs the next frame, one logit per pixel:

    frames (B, n_input, H, W) in [0, 1]  ->  logits (B, H, W);  sigmoid(logits) is the predicted frame

To predict further than one frame it is run *autoregressively* (:func:`rollout`): each prediction
is appended to the input window and the oldest frame dropped, so errors feed on themselves.

Architecture: space-to-depth ("patchify") then a plain stack of 3×3 convolutions, then back.
Each ``patch × patch`` block of pixels of every input frame becomes channels of one cell of a coarse
grid (32×32 frames, patch 4 → an 8×8 grid with ``n_input * 16`` channels); the convolutions mix
neighbouring cells (a few cells = the distance a ball moves in a frame); a final convolution
outputs ``patch * patch`` logits per cell, unfolded back to full resolution. Working on the coarse
grid with many channels is several times faster on a CPU than full-resolution convolutions with
few channels, for the same receptive field.

Training (:mod:`worldmodels.next_frame_training`) uses the course's generic loop with one loss,
:func:`rollout_loss`, on windows of ``n_input + rollout_steps`` consecutive frames:

- ``rollout_steps=1`` is **teacher forcing**: the input is always the true previous frames;
- ``rollout_steps=m > 1`` is **multi-step (rollout) training**: the model predicts ``m`` frames,
  feeding its own (soft) predictions back in, and the loss is averaged over all ``m``; gradients
  flow through the fed-back predictions, so the model learns to cope with its own mistakes.

The per-pixel loss is binary cross-entropy on the logits. Like the squared error it is minimised,
pixel by pixel, by the *average* of the plausible next frames, which is why uncertain predictions
blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .validation import check_frames, check_horizon


@dataclass(frozen=True)
class PredictorConfig:
    n_input: int = 3  # frames the model sees: 2 give the velocity, 3 also disambiguate a bounce
    channels: int = 64  # width of the convolutions on the coarse grid
    n_layers: int = 4  # number of 3x3 convolutions (the receptive field grows by 2 cells per layer)
    patch: int = 4  # side of the pixel blocks folded into channels
    size: int = 32  # frame side in pixels (must be a multiple of patch)

    def __post_init__(self):
        for name in ("n_input", "channels", "patch", "size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_layers < 2:
            raise ValueError(f"n_layers must be >= 2 (an input and an output convolution), got {self.n_layers}")
        if self.size % self.patch:
            raise ValueError(f"size {self.size} must be a multiple of patch {self.patch}")


class ConvPredictor(nn.Module):
    """The last ``n_input`` frames ``(B, n_input, H, W)`` -> logits of the next frame ``(B, H, W)``."""

    def __init__(self, config: PredictorConfig = PredictorConfig()):
        super().__init__()
        self.config = config
        p2, c = config.patch**2, config.channels
        layers = [nn.Conv2d(config.n_input * p2, c, 3, padding=1), nn.ReLU()]
        for _ in range(config.n_layers - 2):
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(c, p2, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if frames.ndim != 4 or frames.shape[1:] != (cfg.n_input, cfg.size, cfg.size):
            raise ValueError(
                f"frames must have shape (B, {cfg.n_input}, {cfg.size}, {cfg.size}), got {tuple(frames.shape)}"
            )
        cells = F.pixel_unshuffle(frames, cfg.patch)  # (B, n_input * p^2, H/p, W/p)
        return F.pixel_shuffle(self.net(cells), cfg.patch)[:, 0]  # (B, H, W)


def rollout(model: ConvPredictor, context: torch.Tensor, horizon: int) -> torch.Tensor:
    """Autoregressive prediction: ``context`` ``(B, C >= n_input, H, W)`` -> ``(B, horizon, H, W)``.

    Each predicted frame (a probability image) is appended to the window and fed back in. Runs with
    gradients if they are enabled, so the same loop serves rollout training and evaluation.
    """
    n_input = model.config.n_input
    context = check_frames(context, size=model.config.size, ndim=4, min_frames=n_input, name="context",
                           layout="(B, C, H, W)", dtype=np.float32, tensor=True)
    horizon = check_horizon(horizon)
    window = context[:, -n_input:]
    predictions = []
    for _ in range(horizon):
        frame = torch.sigmoid(model(window))
        predictions.append(frame)
        window = torch.cat([window[:, 1:], frame[:, None]], dim=1)
    return torch.stack(predictions, dim=1)


def as_predictor(model: ConvPredictor, batch_size: int = 512):
    """Wrap a model as an evaluation-harness predictor ``(context, actions, horizon) -> frames``.

    NumPy in, NumPy out, no gradients, eval mode; actions are ignored (this model has no inputs
    for them).
    """

    @torch.no_grad()
    def predict(context, actions, horizon):
        was_training = model.training
        model.eval()
        context = check_frames(context, size=model.config.size, ndim=4, min_frames=model.config.n_input, name="context",
                               layout="(B, C, H, W)", dtype=np.float32, tensor=True)
        horizon = check_horizon(horizon)
        out = [rollout(model, context[i : i + batch_size], horizon) for i in range(0, len(context), batch_size)]
        model.train(was_training)
        return torch.cat(out).numpy()

    return predict


def rollout_loss(model: ConvPredictor, window: torch.Tensor) -> torch.Tensor:
    """BCE of predicting frames ``n_input ..`` of ``window`` ``(B, n_input + m, H, W)``, fed back.

    ``m = 1``: teacher forcing (one step from true frames). ``m > 1``: the model's own predictions
    become its inputs, and the loss is the mean over the ``m`` predicted frames.
    """
    n_input = model.config.n_input
    m = window.shape[1] - n_input
    if m < 1:
        raise ValueError(f"window needs more than n_input = {n_input} frames, got {window.shape[1]}")
    inputs = window[:, :n_input]
    losses = []
    for step in range(m):
        logits = model(inputs)
        target = window[:, n_input + step]
        losses.append(F.binary_cross_entropy_with_logits(logits, target))
        inputs = torch.cat([inputs[:, 1:], torch.sigmoid(logits)[:, None]], dim=1)
    return torch.stack(losses).mean()
