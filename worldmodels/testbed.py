"""The shared test bed of chapter 10: real clips from the simulator and generated clips from each generator.

Every generator gets the same starts: the first `context` frames of a real video. It continues them for
`length` frames; the real clip is what the simulator did next. So a real clip and a generated clip differ
only in who made the motion, never in where it started:

    real video:  frames 0 .. context-1 (the start, shared)  |  frames context .. context+length-1 (real clip)
    generator:   sees frames 0 .. context-1                  ->  imagines `length` frames (generated clip)

Two fixed parts, from two different simulator splits: detectors are *trained* on the "val" split and
*tested* on the "test" split (the generators were trained on "train", which the test bed never uses).

A generator is a harness predictor (worldmodels.evaluation): ``(context (B, C, H, W), actions or None,
horizon) -> frames (B, horizon, H, W)``. `GENERATORS` maps a name to a function that loads one from its
recorded checkpoint: every model of worldmodels.registry with a harness adapter and a recorded run. `noisy_simulator` is the honest ladder of the
arms race: the exact simulator, restarted from the state it decodes from the start frames, with random
state noise of a chosen size (sigma 0 = as good as a generator can be). Chapter 9's text-to-video model takes a
caption, not start frames: `prompted_clips` compares it on the same prompt (the real clip's caption), not the same start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import registry
from .centroid import centroids
from .data import CANONICAL, BallVideos, make_split
from .geometry import wall_bounds, wall_step
from .oracle import estimate_velocity
from .render import render
from .validation import check_ball_visible, check_frames, check_horizon

PARTS = {"train": "val", "test": "test"}  # detector part -> simulator split (never "train": the generators saw it)


@dataclass(frozen=True)
class TestBedConfig:
    n_clips: int = 512  # real clips per part (and as many generated clips per generator)
    context: int = 10  # start frames every generator is given
    length: int = 20  # frames per clip
    seed: int = 0

    def __post_init__(self):
        for name in ("n_clips", "context", "length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class _Generators(Mapping):
    """name -> loader of a recorded generator: a live view of worldmodels.registry's recorded frame predictors
    ("next-frame (ch4)", "world model (ch5)", "object model (ch7)", and any model registered later)."""

    def __getitem__(self, name: str):
        spec = registry.recorded_predictors()[name]
        return lambda: registry.load_predictor(spec.name)

    def __iter__(self):
        return iter(registry.recorded_predictors())

    def __len__(self) -> int:
        return len(registry.recorded_predictors())


# Chapter 9's text-to-video model cannot be given start frames, only a caption, and draws 16-frame clips: it
# has its own mode, `prompted_clips` ("same prompt", not "same start").
GENERATORS: Mapping[str, Callable] = _Generators()


def real_videos(part: str, config: TestBedConfig = TestBedConfig()) -> BallVideos:
    """The real videos of one detector part ("train" or "test"): start frames plus the real clip."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {sorted(PARTS)}, got {part!r}")
    return make_split(PARTS[part], config.n_clips, config.context + config.length, CANONICAL, seed=config.seed)


def real_clips(videos: BallVideos, config: TestBedConfig = TestBedConfig()) -> np.ndarray:
    """The real clips (B, length, H, W): what the simulator did after the start frames."""
    return videos.frames[:, config.context : config.context + config.length]


def generated_clips(generator, videos: BallVideos, config: TestBedConfig = TestBedConfig()) -> np.ndarray:
    """The clips (B, length, H, W) a generator imagines from the start frames of `videos`, clipped to [0, 1]."""
    frames = check_frames(videos.frames, size=videos.world.size, ndim=4, min_frames=config.context + config.length,
                          name="videos.frames")
    out = np.asarray(generator(frames[:, : config.context], None, config.length), dtype=np.float32)
    if out.shape != (len(videos), config.length) + frames.shape[2:]:
        raise ValueError(f"the generator returned shape {out.shape}, expected {(len(videos), config.length) + frames.shape[2:]}")
    return np.clip(check_frames(out, name="the generator's clips", model_output=True), 0.0, 1.0)


def prompted_clips(part: str, config: TestBedConfig = TestBedConfig(), seed: int = 0, generator=None):
    """The "same prompt, not same start" mode, for chapter 9's text-to-video model: (real, generated, prompts).

    For each real video of `part`, the real clip is the video_generation.N_FRAMES (16) frames after the start
    frames; its prompt is the caption of its true state (captions.describe: first velocity, speed, first
    wall); the generated clip is what the text-to-video model draws from that prompt (seeded). Both
    (B, 16, H, W). `generator` is a video_generation.Generator (default: the recorded one, registry.load("diffusion")).
    """
    from . import captions
    from . import video_generation as vg

    if config.length < vg.N_FRAMES:
        raise ValueError(f"config.length must be >= {vg.N_FRAMES} (the text-to-video model draws {vg.N_FRAMES}-frame "
                         f"clips), got {config.length}")
    videos = real_videos(part, config)
    clip = slice(config.context, config.context + vg.N_FRAMES)
    prompts = captions.describe(videos.positions[:, clip], videos.velocities[:, clip], videos.world.radius,
                                videos.world.size)
    generator = registry.load("diffusion") if generator is None else generator
    generated = np.clip(np.asarray(generator.generate(prompts, vg.N_FRAMES, seed=seed), dtype=np.float32), 0.0, 1.0)
    return videos.frames[:, clip], generated, prompts


def noisy_simulator(sigma: float, world=CANONICAL, seed: int = 0, speed: float = 1.0, radius: float | None = None):
    """A generator that runs the exact physics from the start frames, with state noise of size `sigma`.

    It decodes the ball's position in the start frames (centroid), estimates the velocity leaving the
    last one (oracle.estimate_velocity: bounces accounted for), then steps free flight with exact wall
    reflection while the velocity takes a random walk: v <- v + sigma * N(0, I) every frame (px/frame).
    sigma = 0 is the simulator itself, up to the decoding of the start. One ball, no pushes.
    `speed` scales the velocity it starts with and `radius` draws another ball (default: the world's): a lawful
    world, but not the one the start frames show (wrong_world_clips).
    """
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    if not np.isfinite(speed) or speed < 0:
        raise ValueError(f"speed must be a finite number >= 0 (a factor on the start's velocity), got {speed}")
    radius = world.radius if radius is None else radius
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a finite number > 0 (px), got {radius}")
    low, high = wall_bounds(world)

    def predict(context, actions, horizon):
        context = check_frames(context, size=world.size, ndim=4, min_frames=3, name="context", layout="(B, C, H, W)")
        horizon = check_horizon(horizon)
        check_ball_visible(context)
        rng = np.random.default_rng(seed)
        p = centroids(context[:, -3:], n_balls=1)  # (B, 3, 1, 2)
        v = speed * estimate_velocity(p, world)
        p = p[:, -1]
        out = np.empty((len(context), horizon) + p.shape[1:])
        for k in range(horizon):
            v = v + sigma * rng.standard_normal(v.shape)
            p, v = wall_step(p, v, low, high)
            out[:, k] = p
        return render(out, radius, world.size)

    return predict


def wrong_world_clips(videos: BallVideos, config: TestBedConfig = TestBedConfig()) -> dict[str, np.ndarray]:
    """Clips that obey the laws of *a* world, but not the world their start frames show, (B, length, H, W) each:
    the exact simulator at 1.3 and 0.7 times the start's speed and with a larger ball (radius 3.6 px), the real clip
    played backwards, the last start frame frozen, and the naive oracle (chapter 5: constant velocity from the last
    two decoded positions plus exact reflection, wrong when a bounce hides between them)."""
    from .oracle import naive_oracle_positions

    real = real_clips(videos, config)
    context = videos.frames[:, : config.context]
    clips = {"1.3 x the speed": generated_clips(noisy_simulator(0.0, speed=1.3), videos, config),
             "0.7 x the speed": generated_clips(noisy_simulator(0.0, speed=0.7), videos, config),
             "a larger ball": generated_clips(noisy_simulator(0.0, radius=3.6), videos, config),
             "played backwards": real[:, ::-1].copy(),
             "frozen": np.repeat(context[:, -1:], config.length, axis=1)}
    naive = naive_oracle_positions(centroids(context, n_balls=1), config.length, videos.world)
    clips["naive oracle"] = render(naive, videos.world.radius, videos.world.size)
    return clips


# ---- post-processing that copies of a clip undergo on their way around -------------------------------


def _blur(clips) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur of every frame, edges repeated."""
    x = np.pad(clips, [(0, 0)] * (clips.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    x = 0.25 * x[..., :-2, :] + 0.5 * x[..., 1:-1, :] + 0.25 * x[..., 2:, :]
    return 0.25 * x[..., :, :-2] + 0.5 * x[..., :, 1:-1] + 0.25 * x[..., :, 2:]


def _down_up(clips) -> np.ndarray:
    """Half resolution (2x2 mean) and back up (bilinear), as a re-encoded small copy would be."""
    import torch
    import torch.nn.functional as F

    h, w = clips.shape[-2:]
    t = torch.as_tensor(np.ascontiguousarray(clips, dtype=np.float32)).reshape(-1, 1, h, w)
    t = F.interpolate(F.avg_pool2d(t, 2), size=(h, w), mode="bilinear", align_corners=False)
    return t.reshape(clips.shape).numpy()


def _drop_frames(clips) -> np.ndarray:
    """Every 4th frame dropped and replaced by the one before it (the frame rate is kept)."""
    out = np.array(clips, copy=True)
    out[:, 3::4] = out[:, 2::4][:, : out[:, 3::4].shape[1]]
    return out


def _shift(clips, dy: int, dx: int) -> np.ndarray:
    """Every frame's content moved by (dy, dx) px, the edge row and column repeated into the gap (same size)."""
    h, w = clips.shape[-2:]
    pad = [(0, 0)] * (clips.ndim - 2) + [(max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0))]
    x = np.pad(clips, pad, mode="edge")
    top, left = max(-dy, 0), max(-dx, 0)
    return x[..., top : top + h, left : left + w]


def post_process(clips, transform: str, seed: int = 0) -> np.ndarray:
    """Apply one of POST_PROCESSING or GEOMETRIC to clips (B, T, H, W); the result stays in [0, 1]. A crop
    returns smaller frames (28 x 28 from 32 x 32, at an offset drawn from `seed`)."""
    clips = check_frames(clips, ndim=4, name="clips", dtype=np.float32)
    if transform == "none":
        out = clips
    elif transform == "noise 0.05":
        out = clips + 0.05 * np.random.default_rng(seed).standard_normal(clips.shape, dtype=np.float32)
    elif transform == "blur":
        out = _blur(clips)
    elif transform == "down/up x2":
        out = _down_up(clips)
    elif transform == "dropped frames":
        out = _drop_frames(clips)
    elif transform == "shift 1 px":
        out = _shift(clips, 1, 1)
    elif transform == "crop 28 px":
        h, w = clips.shape[-2:]
        if min(h, w) < 28:
            raise ValueError(f"a crop to 28 px needs frames of at least 28 x 28, got {h} x {w}")
        oy, ox = np.random.default_rng(seed).integers(0, [h - 28 + 1, w - 28 + 1])
        out = clips[..., oy : oy + 28, ox : ox + 28]
    else:
        raise ValueError(f"unknown transform {transform!r}; choose one of {POST_PROCESSING + GEOMETRIC}")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


POST_PROCESSING = ("none", "noise 0.05", "blur", "down/up x2", "dropped frames")
# Attacks on where the pixels are rather than what they are: a watermark read at the key's own alignment loses
# its mark; watermark.score(..., max_shift=, size=) searches the alignment.
GEOMETRIC = ("shift 1 px", "crop 28 px")
