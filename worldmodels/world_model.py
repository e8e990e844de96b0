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
- Training uses the multi-step latent rollout loss: encode a context, roll the dynamics `rollout` steps
  open loop, decode, and compare with the true frames by binary cross-entropy. Long rollouts are what
  make the model stable far ahead; a model trained on short rollouts drifts beyond them.

Training data are drawn from a pool of simulated sequences (a fresh random window each step), rendered
on the fly in torch with the same formula as `worldmodels.render`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .physics import WorldConfig, random_actions, simulate
from .training import n_parameters

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
REFERENCE_CHECKPOINT = CHECKPOINT_DIR / "world_model.pt"
REFERENCE_RECORD = CHECKPOINT_DIR / "world_model.json"

# The training world of the course: the canonical speeds 2-3 px/frame with the band 2.4-2.6 held out, so
# that the band can test interpolation (Kang et al. 2024's "in the gaps of the training data").
INTERPOLATION_BAND = (2.4, 2.6)
TRAIN_WORLD = WorldConfig(speed_ranges=((2.0, 2.4), (2.6, 3.0)))


def generalization_splits(n_sequences: int = 256, n_frames: int = 30, seed: int = 0) -> dict:
    """Test splits in the framing of Kang et al. 2024, name -> BallVideos (no pushes):
    "in-distribution" (the training world), "interpolation" (the held-out speed band 2.4-2.6 px/frame),
    and the extrapolation splits of worldmodels.data.OOD_SPLITS (slower, faster, other radii, more balls)."""
    from .data import CANONICAL, OOD_SPLITS, make_split

    splits = {
        "in-distribution": make_split("test", n_sequences, n_frames, TRAIN_WORLD, seed=seed),
        "interpolation": make_split(
            "test", n_sequences, n_frames, dataclasses.replace(CANONICAL, speed_ranges=(INTERPOLATION_BAND,)), seed=seed + 1
        ),
    }
    for name in OOD_SPLITS:
        splits[name] = make_split(name, n_sequences, n_frames, CANONICAL, seed=seed)
    return splits


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


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1500
    batch_size: int = 128
    rollout: int = 20  # open-loop steps per training window
    decoded_steps: int = 6  # rollout steps decoded per batch (a random subset: decoding is the costly part)
    lr: float = 3e-3
    warmup: int = 100
    grad_clip: float = 1.0
    pool_sequences: int = 4096  # simulated sequences the windows are drawn from
    pool_frames: int = 64
    action_fraction: float = 0.5  # share of the pool with random pushes (push_prob, push_size below)
    push_prob: float = 0.3
    push_size: float = 1.0
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "rollout", "decoded_steps", "pool_sequences", "pool_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.decoded_steps > self.rollout:
            raise ValueError(f"decoded_steps ({self.decoded_steps}) must be <= rollout ({self.rollout})")
        if not 0 <= self.action_fraction <= 1:
            raise ValueError(f"action_fraction must be in [0, 1], got {self.action_fraction}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.warmup < self.steps:
            raise ValueError(f"warmup must be in [0, steps), got {self.warmup}")


def _mlp(sizes: list[int]) -> nn.Sequential:
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
        self.encoder = _mlp([c.context * pixels, c.enc_hidden, c.enc_hidden, c.latent])
        self.dynamics = _mlp([c.latent + c.action_dim, c.dyn_hidden, c.dyn_hidden, c.latent])
        self.decoder = _mlp([c.latent] + [c.dec_hidden] * c.dec_layers + [pixels])

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
    z0 = model.encode(frames[:, :c])
    latents = model.imagine(z0, actions[:, c - 1 : c - 1 + horizon])
    targets = frames[:, c:]
    if steps is not None:
        latents, targets = latents[:, steps], targets[:, steps]
    logits = model.decode_logits(torch.cat([z0[:, None], latents], dim=1))
    return frame_loss(logits, torch.cat([frames[:, c - 1 : c], targets], dim=1))


# ------------------------------------------------------------------------------------------------ the data


def render_torch(positions: torch.Tensor, radius: float, size: int) -> torch.Tensor:
    """Same formula as worldmodels.render.render, in torch: positions (..., N, 2) -> frames (..., size, size)."""
    centres = torch.arange(size, dtype=positions.dtype) + 0.5
    dx = centres - positions[..., 0, None]  # (..., N, W)
    dy = centres - positions[..., 1, None]  # (..., N, H)
    dist = torch.sqrt(dy[..., :, None] ** 2 + dx[..., None, :] ** 2)  # (..., N, H, W)
    return (radius + 0.5 - dist).clamp(0, 1).amax(dim=-3)


class WindowSampler:
    """Random windows of `length` frames from a pool of simulated sequences, rendered on the fly."""

    def __init__(self, world: WorldConfig, config: TrainConfig, length: int):
        if length > config.pool_frames:
            raise ValueError(f"pool_frames ({config.pool_frames}) must be >= context + rollout = {length}")
        rng = np.random.default_rng(config.seed)
        n, t = config.pool_sequences, config.pool_frames
        actions = random_actions(n, t, rng, config.push_prob, config.push_size)
        actions[int(round(config.action_fraction * n)) :] = 0.0  # the rest of the pool moves freely
        traj = simulate(world, n, t, rng=rng, actions=actions)
        self.positions = torch.from_numpy(traj.positions).float()
        self.actions = torch.from_numpy(traj.actions).float()
        self.world, self.length = world, length
        self.generator = torch.Generator().manual_seed(config.seed)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """-> frames (B, length, H, W), actions (B, length, 2)."""
        n, t = self.positions.shape[:2]
        seq = torch.randint(n, (batch_size,), generator=self.generator)
        start = torch.randint(t - self.length + 1, (batch_size,), generator=self.generator)
        index = start[:, None] + torch.arange(self.length)
        positions = self.positions[seq[:, None], index]
        frames = render_torch(positions, self.world.radius, self.world.size)
        return frames, self.actions[seq[:, None], index]


# ------------------------------------------------------------------------------------------------ training


@dataclass
class TrainResult:
    model: WorldModel
    losses: list[float]  # the training loss of every step
    seconds: float  # wall-clock training time (data pool included)


def train(model_config: WorldModelConfig = WorldModelConfig(), train_config: TrainConfig = TrainConfig(),
          world: WorldConfig = TRAIN_WORLD, progress: bool = True) -> TrainResult:
    """Train a WorldModel from scratch with the multi-step rollout loss; deterministic for a given seed
    and thread count. Adam, linear warm-up, cosine decay to zero, gradient clipping."""
    if world.size != model_config.size:
        raise ValueError(f"world.size ({world.size}) must equal model_config.size ({model_config.size})")
    tc = train_config
    start_time = time.perf_counter()
    torch.manual_seed(tc.seed)
    model = WorldModel(model_config)
    sampler = WindowSampler(world, tc, model_config.context + tc.rollout)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr)
    losses = []
    bar = tqdm(range(tc.steps), desc="training the world model", disable=not progress, mininterval=1.0)
    for step in bar:
        warm = min(1.0, (step + 1) / tc.warmup) if tc.warmup else 1.0
        lr = tc.lr * warm * 0.5 * (1 + math.cos(math.pi * step / tc.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        frames, actions = sampler.sample(tc.batch_size)
        steps = torch.randperm(tc.rollout, generator=sampler.generator)[: tc.decoded_steps]
        loss = rollout_loss(model, frames, actions, steps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.1f}")
    model.eval()
    return TrainResult(model, losses, time.perf_counter() - start_time)


# ------------------------------------------------------------------------------- the evaluation adapter


class Predictor:
    """Adapter from a WorldModel to the harness interface of worldmodels.evaluation:
    predictor(context (B, C, H, W), actions (B, C + K, 2) or None, horizon K) -> frames (B, K, H, W)."""

    def __init__(self, model: WorldModel):
        self.model = model.eval()

    def __call__(self, context, actions, horizon: int) -> np.ndarray:
        context = torch.as_tensor(np.asarray(context), dtype=torch.float32)
        b, c = context.shape[:2]
        if actions is None:
            pushes = torch.zeros(b, horizon, self.model.config.action_dim)
        else:
            actions = torch.as_tensor(np.asarray(actions), dtype=torch.float32)
            if actions.shape[:2] != (b, c + horizon):
                raise ValueError(f"actions must have shape (B, C + K, 2) = {(b, c + horizon, 2)}, got {tuple(actions.shape)}")
            pushes = actions[:, c - 1 : c - 1 + horizon]
        return self.model.predict(context, pushes).numpy()


# ------------------------------------------------------------------------------------- save and load


def save(model: WorldModel, path, record: dict | None = None) -> None:
    """Write the weights as float16 (half the size; the stored model is the one the record measures) and,
    with `record`, a JSON file beside it with the same stem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state_dict": state}, path)
    if record is not None:
        path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


def load(path=REFERENCE_CHECKPOINT) -> WorldModel:
    """Load a model written by `save` (the course's reference run by default), in eval mode, float32."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no checkpoint at {path}: train one with worldmodels.world_model.train and save it")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = WorldModel(WorldModelConfig(**blob["config"]))
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model.eval()


def load_record(path=REFERENCE_RECORD) -> dict:
    """The JSON record of a reference run: seed, configs, training time and metrics."""
    return json.loads(Path(path).read_text())


def configs_from_record(record: dict) -> tuple[WorldModelConfig, TrainConfig, WorldConfig]:
    """Rebuild the three configs stored in a record, to retrain the same run."""
    world = record["world"]
    world = WorldConfig(**{**world, "speed_ranges": tuple(tuple(r) for r in world["speed_ranges"])})
    return WorldModelConfig(**record["model_config"]), TrainConfig(**record["train_config"]), world


def record_configs(model_config: WorldModelConfig, train_config: TrainConfig, world: WorldConfig) -> dict:
    return {"model_config": asdict(model_config), "train_config": asdict(train_config), "world": dataclasses.asdict(world)}
