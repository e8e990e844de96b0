"""The recipe that trains chapter 9's text-to-video model (worldmodels.video_generation), in two stages.

- `train_autoencoder` (stage 1): the compression network on the clips' unfolded keypoints;
- `train_denoiser` (stage 2): the diffusion transformer on the frozen network's normalised latents;
  both through `training.train`. `train_generator` runs both (the hooks of worldmodels.train:
  `shard=(rank, world_size)` and the training loop's options), `train_reference` times it.
- `RecipeConfig`: the recipe (the clips, and its two stages' TrainConfigs: `stages(recipe)`), `presets()`
  (`chapter9`, the recorded run; `tiny`) and `train_from_config`: the model's entry in worldmodels.registry
  (`python -m worldmodels.train diffusion`). `bench/generation.py --save` records the reference run.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from . import captions
from .diffusion import DiTConfig, flow_matching_loss
from .registry import config_from_dict, merge_config, stretch
from .training import TrainConfig, batch_sampler, shard_rows, train
from .video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig, autoencoder_loss
from .video_generation import Generator, training_clips


AUTOENCODER = TrainConfig(steps=1500, lr=2e-3, warmup_steps=100, eval_every=100, seed=0)
DENOISER = TrainConfig(steps=2500, lr=1e-3, warmup_steps=100, eval_every=100, seed=0)


@dataclass(frozen=True)
class RecipeConfig:
    n_clips: int = 16000  # training clips drawn (those of the held-out combination are then removed)
    autoencoder: TrainConfig = AUTOENCODER  # stage 1; its seed also draws the clips and the initial weights
    denoiser: TrainConfig = DENOISER  # stage 2; the transformer's initial weights use its seed + 1
    batch_size: int = 256  # both stages
    guidance: float = 3.0
    sample_steps: int = 24

    def __post_init__(self):
        for name in ("n_clips", "batch_size", "sample_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


# ------------------------------------------------------------------------------------------- training


def stages(recipe: RecipeConfig) -> tuple[TrainConfig, TrainConfig]:
    """The TrainConfigs of the two stages: the compression network, then the denoiser."""
    return recipe.autoencoder, recipe.denoiser


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
    torch.manual_seed(config.autoencoder.seed)
    model = VideoAutoencoder(ae_config)
    tracks = torch.cat([model.unfold_keypoints(torch.from_numpy(videos.frames[i : i + 2000]))
                        for i in range(0, len(videos), 2000)])
    draw = batch_sampler(tracks, batch_size=config.batch_size)
    history = train(model, autoencoder_loss, lambda generator: tuple(t[rows] for t in draw(generator)),
                    config.autoencoder, desc="autoencoder", progress=progress, **train_options)
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
    torch.manual_seed(config.denoiser.seed + 1)
    g = Generator(autoencoder.config, dit_config, config.guidance, config.sample_steps)
    g.autoencoder.load_state_dict(autoencoder.state_dict())
    with torch.no_grad():  # g.autoencoder: the same weights, on the CPU, where the keypoints are unfolded
        latents = torch.cat([g.autoencoder.encode(torch.from_numpy(videos.frames[i : i + 2000]))
                             for i in range(0, len(videos), 2000)])
    g.latent_mean.copy_(latents.mean(0))
    g.latent_std.copy_(latents.std(0) + 1e-4)
    z = g.to_normalized(latents)
    next_batch = caption_batches(z, parts, config.batch_size, shard=shard)
    history = train(g.dit, flow_matching_loss, next_batch, config.denoiser, desc="denoiser", progress=progress,
                    **train_options)
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
    videos, parts = training_clips(config.n_clips, "train", seed=config.autoencoder.seed)
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




# ------------------------------------------------------------------------------ the registry's entry


def presets() -> dict[str, dict]:
    """The text-to-video model's configs for worldmodels.train: name -> {"recipe", "dit_config",
    "ae_config"}; the first, `chapter9`, is the recorded reference run (n_clips is in the recipe)."""
    chapter9 = {"recipe": dataclasses.asdict(RecipeConfig()), "dit_config": dataclasses.asdict(DiTConfig()),
                "ae_config": dataclasses.asdict(VideoAutoencoderConfig())}
    tiny = {  # seconds on a CPU: the tests
        "recipe": merge_config(chapter9["recipe"], {"n_clips": 64, "autoencoder": {"steps": 10, "warmup_steps": 2},
                                                    "denoiser": {"steps": 10, "warmup_steps": 2}, "batch_size": 16,
                                                    "sample_steps": 4}),
        "dit_config": merge_config(chapter9["dit_config"], {"width": 16, "depth": 1, "heads": 2}),
        "ae_config": merge_config(chapter9["ae_config"], {"hidden": 32}),
    }
    return {"chapter9": chapter9, "tiny": tiny}


def train_from_config(config: dict, *, steps: int | None = None, shard=(0, 1), progress: bool = True, **hooks):
    """Train the text-to-video model from a config dict {"recipe", "dit_config", "ae_config"}; returns
    (Generator, History). Two stages, the compression network, then the denoiser; `steps` counts both
    (registry.stretch). The History, checkpoints and resume count the denoiser stage."""
    recipe = config_from_dict(RecipeConfig, config["recipe"], "recipe")
    dit_config = config_from_dict(DiTConfig, config["dit_config"], "dit_config")
    ae_config = config_from_dict(VideoAutoencoderConfig, config["ae_config"], "ae_config")
    if steps is not None:
        autoencoder, denoiser = stretch(stages(recipe), steps)
        recipe = dataclasses.replace(recipe, autoencoder=autoencoder, denoiser=denoiser)
    return train_generator(recipe, dit_config, ae_config, progress, shard=shard, **hooks)
