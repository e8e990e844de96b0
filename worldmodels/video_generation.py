"""Text-to-video in miniature: the data, the training recipe, the generator and the law checks of chapter 9.

- `training_clips`: one-ball clips of the canonical world (16 frames) with their caption parts; the
  combination HELD_OUT ("downward leftward, fast") never appears in training, so its prompt tests
  composition out of distribution.
- `train_autoencoder` and `train_denoiser`: the two stages of the recipe, both through `training.train`;
  `train_generator` runs both (the hooks of worldmodels.train: `shard=(rank, world_size)` and the
  training loop's options), `train_reference` times it.
- `Generator`: the compression network + the diffusion transformer + the latent scale;
  `generate(prompts, n_frames=16, seed=0)` -> frames (B, T, 32, 32) in [0, 1]. `load()` gives the
  recorded reference run, `save` writes one.
- Judging by physics, per clip (`clip_violations`, `law_pass`, `law_pass_curve`): speed steady between
  bounces, mirror bounces, the ball keeps its size, all within one relative tolerance; and prompt
  adherence (`prompt_adherence`) from a straight-motion fit of the whole clip (`video_autoencoder.fit_line`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import captions
from .centroid import centroids
from .data import CANONICAL, make_split
from .diffusion import DiT, DiTConfig, flow_matching_loss, sample
from .oracle import reflect
from .physics_checks import bounce_angles, free_flight_mask
from . import reference_run
from .render import render
from .training import TrainConfig, batch_sampler, shard_rows, train
from .video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig, autoencoder_loss, fit_line

CHECKPOINT = Path(__file__).parent / "checkpoints" / "video_diffusion.pt"
HELD_OUT = (2, 1)  # (direction, speed) never seen in training: "downward leftward", "fast"
N_FRAMES = 16
TOLERANCES = (0.005, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.03, 0.05, 0.1, 0.3)  # relative tolerances of the law-pass curve
BALL_MASS = float(render(np.array([[16.0, 16.0]]), CANONICAL.radius, CANONICAL.size).sum())  # ink of one ball


@dataclass(frozen=True)
class RecipeConfig:
    n_clips: int = 16000  # training clips drawn (those of the held-out combination are then removed)
    ae_steps: int = 1500
    ae_lr: float = 2e-3
    dit_steps: int = 2500
    dit_lr: float = 1e-3
    batch_size: int = 256
    guidance: float = 3.0
    sample_steps: int = 24
    seed: int = 0
    warmup_steps: int = 100  # linear warm-up of the learning rate, in both stages

    def __post_init__(self):
        for name in ("n_clips", "ae_steps", "dit_steps", "batch_size", "sample_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.ae_lr > 0 and self.dit_lr > 0):
            raise ValueError(f"ae_lr and dit_lr must be > 0, got {self.ae_lr}, {self.dit_lr}")
        if not 0 <= self.warmup_steps < min(self.ae_steps, self.dit_steps):
            raise ValueError(f"warmup_steps must be in [0, min(ae_steps, dit_steps)) = [0, {min(self.ae_steps, self.dit_steps)}), "
                             f"got {self.warmup_steps}")


# ----------------------------------------------------------------------------------------------- data


def caption_parts(videos) -> np.ndarray:
    """BallVideos (one ball) -> (B, 3) int: direction, speed class, first wall (-1 none), from true states."""
    p, v = videos.positions[:, :, 0], videos.velocities[:, :, 0]
    w = videos.world
    return np.stack([captions.direction_index(v[:, 0]), captions.speed_index(np.linalg.norm(v[:, 0], axis=-1)),
                     captions.first_wall(p, w.radius, w.size)], axis=1)


def training_clips(n_clips: int, split: str = "train", seed: int = 0, held_out: bool = True):
    """(BallVideos, parts): one-ball clips of N_FRAMES frames and their caption parts; with held_out=True
    the clips of the HELD_OUT combination are dropped (for every split, so that val and test prompts
    of that combination are out of distribution)."""
    videos = make_split(split, n_clips, N_FRAMES, CANONICAL, seed=seed)
    parts = caption_parts(videos)
    if held_out:
        keep = np.flatnonzero(~((parts[:, 0] == HELD_OUT[0]) & (parts[:, 1] == HELD_OUT[1])))
        videos, parts = videos[keep], parts[keep]
    return videos, parts


# ----------------------------------------------------------------------------------------- generator


class Generator(torch.nn.Module):
    """The compression network, the diffusion transformer and the scale of the latents."""

    def __init__(self, ae_config: VideoAutoencoderConfig = VideoAutoencoderConfig(), dit_config: DiTConfig = DiTConfig(),
                 guidance: float = 3.0, sample_steps: int = 24):
        super().__init__()
        self.autoencoder = VideoAutoencoder(ae_config)
        self.dit = DiT(dit_config)
        self.guidance, self.sample_steps = guidance, sample_steps
        self.register_buffer("latent_mean", torch.zeros(ae_config.tokens, ae_config.token_dim))
        self.register_buffer("latent_std", torch.ones(ae_config.tokens, ae_config.token_dim))

    def to_normalized(self, latent: torch.Tensor) -> torch.Tensor:
        return (latent - self.latent_mean) / self.latent_std

    def from_normalized(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_std + self.latent_mean

    @torch.no_grad()
    def generate(self, prompts: list[str], n_frames: int = N_FRAMES, seed: int = 0, guidance: float | None = None,
                 n_steps: int | None = None, return_path: bool = False):
        """Prompts (B captions; "" = no prompt) -> frames (B, T, 32, 32) float32 numpy in [0, 1].
        return_path=True also returns the decoded frames after every sampling step (steps + 1, B, T, H, W)."""
        if isinstance(prompts, str):
            raise ValueError("prompts must be a list of captions, e.g. ['a ball moving upward leftward , fast']")
        if n_frames != self.autoencoder.config.n_frames:
            raise ValueError(f"this generator draws clips of {self.autoencoder.config.n_frames} frames "
                             f"(a whole-clip latent), got n_frames={n_frames}")
        self.eval()
        words = captions.tokenize(list(prompts), self.dit.config.max_words)
        gen = torch.Generator().manual_seed(int(seed))
        z, path = sample(self.dit, words, n_steps or self.sample_steps, self.guidance if guidance is None else guidance,
                         generator=gen, return_path=True)
        frames = self.autoencoder.decode(self.from_normalized(z)).numpy()
        if not return_path:
            return frames
        steps, b = path.shape[:2]
        decoded = self.autoencoder.decode(self.from_normalized(path.flatten(0, 1))).numpy()
        return frames, decoded.reshape(steps, b, *frames.shape[1:])


def save(generator: Generator, path=CHECKPOINT, record: dict | None = None) -> None:
    """Weights (float32, they are small) and configs; with `record`, a JSON file beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"ae_config": dataclasses.asdict(generator.autoencoder.config),
                "dit_config": dataclasses.asdict(generator.dit.config),
                "guidance": generator.guidance, "sample_steps": generator.sample_steps,
                "state_dict": generator.state_dict()}, path)
    if record is not None:
        reference_run.save_record(record, path.with_suffix(".json"))


def load(path=CHECKPOINT) -> Generator:
    """The recorded reference generator (or one written by `save`), in eval mode."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no checkpoint at {path}: train one with bench/generation.py --save")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    g = Generator(VideoAutoencoderConfig(**blob["ae_config"]), DiTConfig(**blob["dit_config"]), blob["guidance"],
                  blob["sample_steps"])
    g.load_state_dict(blob["state_dict"])
    return g.eval()


def load_record(path=CHECKPOINT) -> dict:
    return reference_run.load_record(Path(path).with_suffix(".json"))


def generate(prompts: list[str], n_frames: int = N_FRAMES, seed: int = 0) -> np.ndarray:
    """One call: the reference generator's clips (B, n_frames, 32, 32) in [0, 1] for the prompts."""
    return load().generate(prompts, n_frames, seed)


# ------------------------------------------------------------------------------------------- training


def _check_latent(ae: VideoAutoencoderConfig, dit_config: DiTConfig) -> None:
    if (dit_config.n_tokens, dit_config.token_dim) != (ae.tokens, ae.token_dim):
        raise ValueError(f"dit_config's (n_tokens, token_dim) = ({dit_config.n_tokens}, {dit_config.token_dim}) must match "
                         f"the autoencoder's latent (tokens, token_dim) = ({ae.tokens}, {ae.token_dim})")


def train_autoencoder(videos, config: RecipeConfig = RecipeConfig(), ae_config=VideoAutoencoderConfig(), progress=True,
                      *, shard: tuple[int, int] = (0, 1), **train_options):
    """Stage 1: the compression network on the clips' unfolded keypoints. Returns (model, History).

    With `shard=(rank, world_size)` every rank draws the same global batch of config.batch_size rows and
    keeps its contiguous slice; `train_options` go to worldmodels.training.train (worldmodels.train uses
    both). The model stays on the training device."""
    rows = shard_rows(config.batch_size, shard)
    torch.manual_seed(config.seed)
    model = VideoAutoencoder(ae_config)
    tracks = torch.cat([model.unfold_keypoints(torch.from_numpy(videos.frames[i : i + 2000]))
                        for i in range(0, len(videos), 2000)])
    draw = batch_sampler(tracks, batch_size=config.batch_size)
    history = train(model, autoencoder_loss, lambda generator: tuple(t[rows] for t in draw(generator)),
                    TrainConfig(steps=config.ae_steps, lr=config.ae_lr, warmup_steps=config.warmup_steps, eval_every=100,
                                seed=config.seed),
                    desc="autoencoder", progress=progress, **train_options)
    return model.eval(), history


def caption_batches(latents: torch.Tensor, parts: np.ndarray, batch_size: int, *, shard: tuple[int, int] = (0, 1)):
    """next_batch(generator) for the denoiser: rows of the latents with captions whose parts are left out
    at random (captions.drop_parts: empty prompt 10 %, the generic prompt 10 %, speed and wall each left
    out 30 %), a noise level t ~ U(0, 1) and noise, all from the loop's seeded generator.

    With `shard=(rank, world_size)` the rows, the captions, t and the noise are drawn for the whole global
    batch of `batch_size` (so every rank's generator stays in step) and the batch keeps this rank's
    contiguous slice of batch_size // world_size rows: the slices of all ranks add up to the whole batch."""
    mine = shard_rows(batch_size, shard)
    rows_of = batch_sampler(torch.arange(len(latents)), batch_size=batch_size)

    def next_batch(generator):
        (rows,) = rows_of(generator)
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        texts = captions.drop_parts(parts[rows.numpy()], rng)  # every row: the rng's draws depend on earlier rows
        t = torch.rand(batch_size, generator=generator)
        noise = torch.randn((batch_size,) + tuple(latents.shape[1:]), generator=generator)
        return latents[rows[mine]], captions.tokenize(texts[mine]), t[mine], noise[mine]

    return next_batch


def train_denoiser(autoencoder: VideoAutoencoder, videos, parts, config: RecipeConfig = RecipeConfig(),
                   dit_config: DiTConfig = DiTConfig(), progress=True, *, shard: tuple[int, int] = (0, 1),
                   **train_options):
    """Stage 2: encode the clips once, then train the diffusion transformer on their normalised latents.
    Returns (Generator, History), the Generator on the CPU.

    The compression network is frozen: the clips are encoded once, on the CPU, and only the transformer
    (`g.dit`) trains: under ddp DistributedDataParallel wraps the transformer alone. `shard` goes to
    caption_batches, `train_options` to worldmodels.training.train."""
    _check_latent(autoencoder.config, dit_config)
    shard_rows(config.batch_size, shard)  # a bad shard fails before the clips are encoded
    torch.manual_seed(config.seed + 1)
    g = Generator(autoencoder.config, dit_config, config.guidance, config.sample_steps)
    g.autoencoder.load_state_dict(autoencoder.state_dict())
    with torch.no_grad():  # g.autoencoder: the same weights, on the CPU, where the keypoints are unfolded
        latents = torch.cat([g.autoencoder.encode(torch.from_numpy(videos.frames[i : i + 2000]))
                             for i in range(0, len(videos), 2000)])
    g.latent_mean.copy_(latents.mean(0))
    g.latent_std.copy_(latents.std(0) + 1e-4)
    z = g.to_normalized(latents)
    next_batch = caption_batches(z, parts, config.batch_size, shard=shard)
    history = train(g.dit, flow_matching_loss, next_batch,
                    TrainConfig(steps=config.dit_steps, lr=config.dit_lr, warmup_steps=config.warmup_steps, eval_every=100,
                                seed=config.seed),
                    desc="denoiser", progress=progress, **train_options)
    return g.cpu().eval(), history


def train_generator(config: RecipeConfig = RecipeConfig(), dit_config: DiTConfig = DiTConfig(),
                    ae_config: VideoAutoencoderConfig = VideoAutoencoderConfig(), progress=True, *,
                    shard: tuple[int, int] = (0, 1), **train_options):
    """Both stages on config.n_clips training clips. Returns (Generator on the CPU, the denoiser stage's
    History, whose `seconds` counts both stages' training loops).

    `shard` and `train_options` (device, mixed_precision, ddp, resume, checkpoint, checkpoint_every of
    worldmodels.training.train) are worldmodels.train's hooks. device, mixed_precision and ddp apply to
    both stages; checkpoint / resume to the denoiser stage only (its steps count from 0), as for chapter 7's
    object model. Its checkpoints add {"stage": "denoiser", "autoencoder": the frozen compression network's
    weights}: a resumed run loads that network and skips stage 1, and ends with the same weights as an
    uninterrupted one; a run interrupted in stage 1 starts again."""
    shard_rows(config.batch_size, shard)  # bad input fails before the clips are drawn
    _check_latent(ae_config, dit_config)
    resume = train_options.pop("resume", None)
    checkpoint = train_options.pop("checkpoint", None)
    checkpoint_every = train_options.pop("checkpoint_every", 0)
    if resume is not None and (resume.get("stage") != "denoiser" or "autoencoder" not in resume):
        raise ValueError("resume must be a denoiser-stage checkpoint of train_generator (with its 'autoencoder' weights)")
    videos, parts = training_clips(config.n_clips, "train", seed=config.seed)
    if resume is None:
        ae, first = train_autoencoder(videos, config, ae_config, progress, shard=shard, **train_options)
        ae, seconds = ae.cpu(), first.seconds
    else:
        ae, seconds = VideoAutoencoder(ae_config), 0.0  # unused: train takes the seconds from the checkpoint
        ae.load_state_dict(resume["autoencoder"])
        ae.eval()
    frozen = {k: v.detach().clone() for k, v in ae.state_dict().items()}

    def save_stage(state: dict) -> None:
        checkpoint({**state, "stage": "denoiser", "autoencoder": frozen})

    return train_denoiser(ae, videos, parts, config, dit_config, progress, shard=shard, resume=resume,
                          checkpoint=save_stage if checkpoint is not None else None,
                          checkpoint_every=checkpoint_every, elapsed=seconds, **train_options)


def train_reference(config: RecipeConfig = RecipeConfig(), dit_config: DiTConfig = DiTConfig(), progress=True, *,
                    shard: tuple[int, int] = (0, 1), **train_options):
    """Both stages on config.n_clips training clips (train_generator with the default compression network).
    Returns (Generator, seconds of training, data included)."""
    start = time.perf_counter()
    g, _ = train_generator(config, dit_config, progress=progress, shard=shard, **train_options)
    return g, time.perf_counter() - start


# ---------------------------------------------------------------------------------- judged by physics


def tracks_of(frames) -> np.ndarray:
    """Frames (B, T, H, W) -> ball positions (B, T, 2), the harness's centroids."""
    return centroids(np.asarray(frames), n_balls=1)[..., 0, :]


def clip_violations(frames) -> dict[str, np.ndarray]:
    """Per clip (B,), relative violations of three laws, measured on the frames' centroids:

    - "speed": max over free-flight steps (physics_checks.free_flight_mask) of |speed / median speed - 1|;
    - "bounce": max over clean bounces (physics_checks.bounce_angles) of |angle out - angle in| / 90 deg;
    - "mass": max over frames of |ink / ink of one ball - 1|.
    A clip without free-flight steps gets speed violation inf; one without bounces gets bounce 0."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (B, T, H, W), got {frames.shape}")
    p = tracks_of(frames)
    d = np.diff(p, axis=1)
    free = free_flight_mask(d)
    speed = np.linalg.norm(d, axis=-1)
    speed_dev = np.full(len(p), np.inf)
    for b in range(len(p)):
        s = speed[b][free[b]]
        if s.size:
            speed_dev[b] = np.max(np.abs(s / np.median(s) - 1))
    bounce = np.zeros(len(p))
    seq, before, after = bounce_angles(d)
    np.maximum.at(bounce, seq, np.abs(after - before) / 90.0)
    mass = np.max(np.abs(frames.sum(axis=(-2, -1)) / BALL_MASS - 1), axis=1)
    return {"speed": speed_dev, "bounce": bounce, "mass": mass}


def law_pass(violations: dict[str, np.ndarray], tolerance: float) -> np.ndarray:
    """(B,) bool: every law of clip_violations within the relative tolerance."""
    return np.all([v <= tolerance for v in violations.values()], axis=0)


def law_pass_curve(frames, tolerances=TOLERANCES) -> dict[float, float]:
    """Fraction of clips passing all laws at each tolerance."""
    v = clip_violations(frames)
    return {float(tol): float(law_pass(v, tol).mean()) for tol in tolerances}


def strict_tolerance(real_curve: dict[float, float], level: float = 0.98) -> float:
    """The smallest tolerance at which at least `level` of the real clips pass."""
    ok = [tol for tol, rate in sorted(real_curve.items()) if rate >= level]
    if not ok:
        raise ValueError(f"no tolerance lets {level:.0%} of the real clips pass: {real_curve}")
    return ok[0]


def fitted_parts(frames) -> np.ndarray:
    """Frames -> (B, 3) parts read from a straight-motion fit of the whole clip (fit_line):
    direction quadrant, speed class, first wall of the fitted (folded) motion."""
    p = tracks_of(frames)
    w = CANONICAL
    start, velocity = fit_line(p, w.radius, w.size)
    line = start[:, None] + velocity[:, None] * np.arange(p.shape[1])[None, :, None]
    wall = captions.first_wall(reflect(line, w.radius, w.size - w.radius), w.radius, w.size)
    return np.stack([captions.direction_index(velocity), captions.speed_index(np.linalg.norm(velocity, axis=-1)), wall], 1)


def prompt_adherence(frames, prompts: list[str]) -> dict[str, float]:
    """Fraction of clips whose fitted motion matches each part their prompt states (direction, speed, wall);
    NaN for a part no prompt states."""
    fitted = fitted_parts(frames)
    asked = np.array([[captions.parse(p)[k] for k in ("direction", "speed", "wall")] for p in prompts])
    out = {}
    for j, name in enumerate(("direction", "speed", "wall")):
        m = asked[:, j] >= 0
        out[name] = float((fitted[m, j] == asked[m, j]).mean()) if m.any() else float("nan")
    return out


def sharpness(frames) -> dict[str, np.ndarray]:
    """Per clip, is there one sharp ball? "mass_error": mean over frames of |ink within radius + 1 px of the
    frame's centroid / ink of one ball - 1| (0 for a sharp ball; a blur spreads its ink outside the disc);
    "peak": the mean brightest pixel (1 for a drawn ball)."""
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim != 4:
        raise ValueError(f"frames must have shape (B, T, H, W), got {f.shape}")
    c = centroids(f, n_balls=1)[..., 0, :]  # (B, T, 2)
    h, w = f.shape[-2:]
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    dist = np.hypot(xs - c[..., 0, None, None], ys - c[..., 1, None, None])
    inside = (f * (dist <= CANONICAL.radius + 1.0)).sum(axis=(-2, -1))
    return {"mass_error": np.abs(inside / BALL_MASS - 1).mean(1), "peak": f.max(axis=(-2, -1)).mean(1)}


def evaluation_prompts(n: int = 256, seed: int = 0) -> dict[str, list[str]]:
    """Full captions of test clips: "in" (training combinations) and "out" (the HELD_OUT combination)."""
    videos, parts = training_clips(4 * n, "test", seed=seed, held_out=False)
    held = (parts[:, 0] == HELD_OUT[0]) & (parts[:, 1] == HELD_OUT[1])
    texts = [captions.caption(*map(int, p)) for p in parts]
    return {"in": [t for t, h in zip(texts, held) if not h][:n], "out": [t for t, h in zip(texts, held) if h][: n // 4]}


def reference_metrics(g: Generator, n: int = 256, seed: int = 0) -> dict:
    """The chapter's measurements of a generator (deterministic for a seed and thread count)."""
    real, _ = training_clips(n, "test", seed=seed)
    with torch.no_grad():
        roundtrip = g.autoencoder(torch.from_numpy(real.frames)).numpy()
    prompts = evaluation_prompts(n, seed)
    gen_in = g.generate(prompts["in"], seed=seed)
    gen_out = g.generate(prompts["out"], seed=seed + 1)
    curves = {"real": law_pass_curve(real.frames), "roundtrip": law_pass_curve(roundtrip),
              "generated_in": law_pass_curve(gen_in), "generated_out": law_pass_curve(gen_out)}
    strict = strict_tolerance(curves["real"])
    ambiguous = g.generate([captions.GENERIC] * 64, seed=seed + 2)
    lawful = law_pass(clip_violations(ambiguous), max(TOLERANCES))
    quadrants = np.unique(fitted_parts(ambiguous)[lawful, 0])
    baseline = np.broadcast_to(real.frames.mean(0), ambiguous.shape)  # the squared-error optimum for this prompt
    return {
        "law_pass_curve": {k: {str(t): round(r, 4) for t, r in v.items()} for k, v in curves.items()},
        "strict_tolerance": strict,
        "real_law_pass_rate": curves["real"][strict],
        "roundtrip_law_pass_rate": curves["roundtrip"][strict],
        "law_pass_rate": {"in": curves["generated_in"][strict], "out": curves["generated_out"][strict]},
        "prompt_adherence": {"in": prompt_adherence(gen_in, prompts["in"]), "out": prompt_adherence(gen_out, prompts["out"])},
        "direction_coverage": {"quadrants": int(len(quadrants)), "lawful": int(lawful.sum()), "samples": 64},
        "mass_error": {"generated": float(sharpness(ambiguous)["mass_error"].mean()),
                       "squared_error_baseline": float(sharpness(baseline[:1])["mass_error"].mean())},
        "roundtrip_track_error_px": float(np.linalg.norm(tracks_of(roundtrip) - real.positions[:, :, 0], axis=-1).mean()),
    }
