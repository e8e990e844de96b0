"""The compression network: a whole clip (T, 32, 32) <-> a small spacetime latent (tokens, token_dim).

Sora first compresses a video into a lower-dimensional latent in space *and* time, then generates in that
latent. Here a clip of 16 frames x 32 x 32 = 16,384 numbers becomes 4 x 8 = 32 numbers (512x smaller).

The network has a keypoint bottleneck (the design the feasibility probes found to train in minutes where
generic convolutional decoders did not):

- encoder: each frame -> where its ink is (the intensity-weighted mean of the pixel centres, a soft
  keypoint with no parameters) -> the whole track (T, 2), unfolded at the walls (each keypoint replaced
  by its mirror image nearest to a straight fit of the clip, `unfold`, no parameters) -> an MLP -> the
  latent (tokens, token_dim);
- decoder: the latent -> an MLP -> a smooth curve in an *unfolded* box (a polynomial of low degree in time
  per axis) -> folded back into the box at the walls (a mirror, `fold`) -> a disc drawn at each position
  with the course's renderer (`render.render_torch`).

The mirror walls are the one piece of physics built in (unfold in the encoder, fold in the decoder): a
straight line in the unfolded box becomes exact mirror bounces in the box. Whether the curve is straight (constant speed) is learned, not built in: the decoder
may draw curves of degree up to `degree`, and a generator can ask it for an accelerating ball.
The loss (`autoencoder_loss`) needs only the frames: the distance between the decoded curve and the
unfolded keypoints. (A first version learned the unfolding through the fold from scratch; the fold's
mirror images trapped it at 1-3 px errors.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import CANONICAL
from .geometry import fold, reflect, soft_centroid
from .render import render_torch
from .validation import check_frames


@dataclass(frozen=True)
class VideoAutoencoderConfig:
    n_frames: int = 16
    size: int = CANONICAL.size
    radius: float = CANONICAL.radius
    tokens: int = 4  # latent tokens (the latent's time axis)
    token_dim: int = 8  # numbers per token
    hidden: int = 256
    degree: int = 2  # the decoded track is a polynomial of this degree in time (per axis), then folded

    def __post_init__(self):
        for name in ("n_frames", "size", "tokens", "token_dim", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.degree < 1:
            raise ValueError(f"degree must be >= 1 (a straight line needs degree 1), got {self.degree}")
        if not 0 < 2 * self.radius < self.size:
            raise ValueError(f"radius must be in (0, size / 2), got {self.radius}")

    @property
    def latent_numbers(self) -> int:
        return self.tokens * self.token_dim

    @property
    def compression_ratio(self) -> float:
        return self.n_frames * self.size * self.size / self.latent_numbers


def fit_line(tracks, radius: float = CANONICAL.radius, size: int = CANONICAL.size) -> tuple[np.ndarray, np.ndarray]:
    """The straight motion that best explains each track once folded at the walls.

    tracks (B, T, 2) px -> (start (B, 2), velocity (B, 2) px/frame): start is the first position and the
    velocity minimises the squared distance between fold(start + velocity * t) and the track, found by a
    grid search (0.05 px/frame over |v| <= 5.5, then 0.0025 px/frame around the best of each sign). A fit of the whole
    clip, so a bounce in the first frames does not confuse it."""
    p = np.asarray(tracks, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 2 or p.shape[1] < 2:
        raise ValueError(f"tracks must have shape (B, T >= 2, 2), got {p.shape}")
    low, high = radius, size - radius
    t = np.arange(p.shape[1], dtype=np.float64)
    start = np.clip(p[:, 0], low, high)
    best = np.zeros_like(start)
    # The axes fold independently, so each axis is a 1-D search. Near a wall a motion and its reverse fold
    # to almost the same track, so the fine search refines the best coarse velocity of each sign.
    rows = np.arange(len(p))

    def errors(axis, grid):  # grid (B, G) -> squared distance (B, G)
        u = start[:, axis, None, None] + grid[:, :, None] * t
        return ((reflect(u, low, high) - p[:, None, :, axis]) ** 2).sum(-1)

    coarse = np.broadcast_to(0.05 * np.arange(-110, 111)[None, :], (len(p), 221))
    fine = 0.0025 * np.arange(-20, 21)[None, :]
    for axis in range(2):
        err = errors(axis, coarse)
        candidates, costs = [], []
        for sign in (-1, 1):
            side = np.where(np.sign(coarse) == sign, err, np.inf)
            grid = coarse[rows, side.argmin(1)][:, None] + fine
            e = errors(axis, grid)
            candidates.append(grid[rows, e.argmin(1)])
            costs.append(e.min(1))
        best[:, axis] = np.where(costs[0] <= costs[1], candidates[0], candidates[1])
    return start, best



def unfold(tracks, radius: float = CANONICAL.radius, size: int = CANONICAL.size) -> np.ndarray:
    """Tracks (B, T, 2) -> the unfolded tracks: each position replaced by its mirror image (in the walls)
    nearest to the fitted straight motion (`fit_line`). A lawful track unfolds to a straight line."""
    p = np.asarray(tracks, dtype=np.float64)
    start, velocity = fit_line(p, radius, size)
    line = start[:, None] + velocity[:, None] * np.arange(p.shape[1])[None, :, None]
    low, high = radius, size - radius
    period = 2 * (high - low)
    k = np.floor((line - low) / period)  # which period of the mirror pattern the line is in
    best = None
    for dk in (-1, 0, 1):
        for sign in (1, -1):
            base = low + (k + dk) * period
            image = base + (p - low) if sign == 1 else base + period - (p - low)
            if best is None:
                best = image
            else:
                best = np.where(np.abs(image - line) < np.abs(best - line), image, best)
    return best


class VideoAutoencoder(nn.Module):
    """Clip (B, T, H, W) -> latent (B, tokens, token_dim) -> track (B, T, 2) -> clip (B, T, H, W)."""

    def __init__(self, config: VideoAutoencoderConfig = VideoAutoencoderConfig()):
        super().__init__()
        self.config = c = config
        self.encoder = nn.Sequential(
            nn.Linear(2 * (2 * c.n_frames - 1), c.hidden), nn.GELU(), nn.Linear(c.hidden, c.hidden), nn.GELU(),
            nn.Linear(c.hidden, c.latent_numbers),
        )
        self.decoder = nn.Sequential(
            nn.Linear(c.latent_numbers, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.hidden), nn.GELU(),
            nn.Linear(c.hidden, 2 * (c.degree + 1)),
        )
        with torch.no_grad():  # the curve starts straight: higher terms begin at zero
            last = self.decoder[-1]
            last.weight.view(2, c.degree + 1, -1)[:, 2:] = 0
            last.bias.view(2, c.degree + 1)[:, 2:] = 0
        s = torch.linspace(0, 1, c.n_frames)  # time from the first frame (0) to the last (1)
        self.register_buffer("basis", torch.stack([s**k for k in range(c.degree + 1)]), persistent=False)  # (D+1, T)

    def _check(self, frames: torch.Tensor) -> None:
        c = self.config
        if frames.ndim != 4 or tuple(frames.shape[1:]) != (c.n_frames, c.size, c.size):
            raise ValueError(f"frames must have shape (B, {c.n_frames}, {c.size}, {c.size}), got {tuple(frames.shape)}")

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (B, T, H, W) in [0, 1] -> latent (B, tokens, token_dim)."""
        frames = check_frames(frames, size=self.config.size, ndim=4, dtype=np.float32, tensor=True)
        self._check(frames)
        return self.encode_track(self.unfold_keypoints(frames))

    def unfold_keypoints(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (B, T, H, W) -> keypoints unfolded at the walls (B, T, 2), px (no parameters)."""
        c = self.config
        track = soft_centroid(frames).detach().double().numpy()
        return torch.tensor(unfold(track, c.radius, c.size), dtype=frames.dtype)

    def encode_track(self, track: torch.Tensor) -> torch.Tensor:
        """The learned encoder: unfolded track (B, T, 2) in px -> latent (B, tokens, token_dim)."""
        c = self.config
        if track.ndim != 3 or tuple(track.shape[1:]) != (c.n_frames, 2):
            raise ValueError(f"track must have shape (B, {c.n_frames}, 2), got {tuple(track.shape)}")
        x = (track - c.size / 2) / (2 * c.size)  # about [-1, 1] (unfolded tracks leave the box)
        steps = torch.diff(x, dim=1) * c.n_frames / 4  # the steps, scaled to about [-1, 1]
        return self.encoder(torch.cat([x.flatten(1), steps.flatten(1)], dim=1)).view(-1, c.tokens, c.token_dim)

    def unfolded_track(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent (B, tokens, token_dim) -> the curve in the unfolded box (B, T, 2), px."""
        c = self.config
        if latent.ndim != 3 or tuple(latent.shape[1:]) != (c.tokens, c.token_dim):
            raise ValueError(f"latent must have shape (B, {c.tokens}, {c.token_dim}), got {tuple(latent.shape)}")
        coef = self.decoder(latent.flatten(1)).view(-1, 2, c.degree + 1) * (c.size / 2)  # px
        return (coef @ self.basis).transpose(1, 2) + c.size / 2  # coef[..., 0] is the first position

    def decode_track(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent -> ball positions (B, T, 2) inside the box (folded at the walls)."""
        c = self.config
        return fold(self.unfolded_track(latent), c.radius, c.size - c.radius)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent -> frames (B, T, H, W) in [0, 1]."""
        c = self.config
        return render_torch(self.decode_track(latent)[:, :, None, :], c.radius, c.size)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(frames))


def autoencoder_loss(model: VideoAutoencoder, batch) -> torch.Tensor:
    """Squared distance (px^2, mean over frames) between the decoded curve and the unfolded keypoints.

    batch = (unfolded,), the unfolded keypoints (B, T, 2) of training clips (`unfold_keypoints`, computed
    once). Because the decoder folds the curve and draws the disc with the renderer itself, matching the
    unfolded keypoints reconstructs the frames: no pixel term is needed, and training never renders."""
    tracks = batch[0]
    return ((model.unfolded_track(model.encode_track(tracks)) - tracks) ** 2).sum(-1).mean()
