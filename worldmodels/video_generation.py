"""Text-to-video in miniature, the model of chapter 9: its data, the generator and how it is judged.

- `training_clips`: one-ball clips of the canonical world (16 frames) with their caption parts; the
  combination HELD_OUT ("downward leftward, fast") never appears in training, so its prompt tests
  composition out of distribution.
- `Generator`: the compression network + the diffusion transformer + the latent scale;
  `generate(prompts, n_frames=16, seed=0)` -> frames (B, T, 32, 32) in [0, 1]. The recorded reference run
  loads with `registry.load("diffusion")` (`build` and `generator_config` are its checkpoint's config).
- Judging by physics, per clip: the laws of `worldmodels.laws` (`clip_violations`, `law_pass_curve`); and
  prompt adherence (`prompt_adherence`) from a straight-motion fit of the whole clip (`video_autoencoder.fit_line`).

The recipe that trains it (two stages, its presets and its record) is worldmodels.video_generation_training.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from . import captions, registry
from .data import CANONICAL, make_split
from .diffusion import DiT, DiTConfig, sample
from .evaluation import sharpness  # noqa: F401  (chapter 9 calls it as video_generation.sharpness)
from .oracle import reflect
from .laws import PASS_CURVE, clip_violations, law_pass, law_pass_curve, strict_tolerance, tracks_of
from .validation import check_frames, check_horizon
from .video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig, fit_line

HELD_OUT = (2, 1)  # (direction, speed) never seen in training: "downward leftward", "fast"
N_FRAMES = 16


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
        if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or len(prompts) == 0 \
                or not all(isinstance(p, str) for p in prompts):
            raise ValueError("prompts must be a non-empty list of captions, e.g. ['a ball moving upward leftward , fast'], "
                             f"got {prompts!r:.80}")
        if guidance is not None and (isinstance(guidance, bool) or not isinstance(guidance, (int, float))
                                     or not np.isfinite(guidance)):
            raise ValueError(f"guidance must be a finite number (1 = no guidance), got {guidance!r}")
        if n_steps is not None:
            n_steps = check_horizon(n_steps, "n_steps")
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


def generator_config(generator: Generator) -> dict:
    """The config dict of a generator's checkpoint: {"ae_config", "dit_config", "guidance", "sample_steps"}."""
    return {"ae_config": dataclasses.asdict(generator.autoencoder.config),
            "dit_config": dataclasses.asdict(generator.dit.config),
            "guidance": generator.guidance, "sample_steps": generator.sample_steps}


def build(config: dict) -> Generator:
    """A fresh Generator from a config dict of generator_config (the registry's `build`)."""
    return Generator(VideoAutoencoderConfig(**config["ae_config"]), DiTConfig(**config["dit_config"]),
                     config["guidance"], config["sample_steps"])


def generate(prompts: list[str], n_frames: int = N_FRAMES, seed: int = 0) -> np.ndarray:
    """One call: the reference generator's clips (B, n_frames, 32, 32) in [0, 1] for the prompts."""
    return registry.load("diffusion").generate(prompts, n_frames, seed)


# ---------------------------------------------------------------------------------- judged by physics


def fitted_parts(frames) -> np.ndarray:
    """Frames -> (B, 3) parts read from a straight-motion fit of the whole clip (fit_line):
    direction quadrant, speed class, first wall of the fitted (folded) motion."""
    p = tracks_of(check_frames(frames, size=CANONICAL.size, ndim=4, min_frames=3))
    w = CANONICAL
    start, velocity = fit_line(p, w.radius, w.size)
    line = start[:, None] + velocity[:, None] * np.arange(p.shape[1])[None, :, None]
    wall = captions.first_wall(reflect(line, w.radius, w.size - w.radius), w.radius, w.size)
    return np.stack([captions.direction_index(velocity), captions.speed_index(np.linalg.norm(velocity, axis=-1)), wall], 1)


def prompt_adherence(frames, prompts: list[str]) -> dict[str, float]:
    """Fraction of clips whose fitted motion matches each part their prompt states (direction, speed, wall);
    NaN for a part no prompt states."""
    if isinstance(prompts, str) or len(prompts) != len(frames):
        raise ValueError(f"give one prompt (a list of captions) per clip: {len(frames)} clips, got {prompts!r:.80}")
    fitted = fitted_parts(frames)
    asked = np.array([[captions.parse(p)[k] for k in ("direction", "speed", "wall")] for p in prompts])
    out = {}
    for j, name in enumerate(("direction", "speed", "wall")):
        m = asked[:, j] >= 0
        out[name] = float((fitted[m, j] == asked[m, j]).mean()) if m.any() else float("nan")
    return out


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
    lawful = law_pass(clip_violations(ambiguous), max(PASS_CURVE))
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

