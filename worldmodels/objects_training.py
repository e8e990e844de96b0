"""The recipe that trains the object model of chapter 7 with the course's training loop, in two stages.

1. The renderer (render_loss): redraw single frames from their tracked slots; this fits the heatmap, the
   disc's radius and its edge. Short: a few parameters.
2. The dynamics (dynamics_loss): the multi-step rollout loss in object space, from the slots the encoder
   tracks in the frames (no position labels anywhere).

Both stages run worldmodels.training.train on windows of chapter 5's data pool
(worldmodels.world_model_training.window_batches, action_fraction 0: the balls move freely). The recipe,
an `ObjectRecipe`, is chapter 5's TrainingRecipe (its `optim` trains the dynamics) plus the renderer's
TrainConfig: `stages(recipe)` returns the two.

`presets()` (`chapter7`, the recorded run; `tiny`) and `train_from_config` are the model's entry in
worldmodels.registry (`python -m worldmodels.train object_model`); `bench/objects.py --save` records it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

import torch

from .data import THREE_BALLS
from .objects import ObjectModel, ObjectModelConfig, dynamics_loss, render_loss
from .physics import WorldConfig
from .registry import merge_config, stretch
from .training import History, TrainConfig, train
from .world_model_training import TrainingRecipe, record_configs, window_batches
from .world_model_training import configs_from_record as world_model_configs

# stage 1, the renderer: a few parameters, a high learning rate, no warm-up
RENDERER = TrainConfig(steps=60, lr=1e-2, min_lr_fraction=0.0, grad_clip=None, eval_every=25, seed=0)
# stage 2, the dynamics (also seeds the data pool and the initial weights)
DYNAMICS = TrainConfig(steps=1440, lr=1e-3, warmup_steps=30, min_lr_fraction=0.0, grad_clip=1.0, eval_every=25, seed=0)


@dataclass(frozen=True)
class ObjectRecipe(TrainingRecipe):
    """Chapter 5's recipe (its pool of windows, `optim` the dynamics stage) with a first stage, `renderer`."""

    renderer: TrainConfig = RENDERER


# decoded_steps = rollout_steps: window_batches renders every frame of the window (the tracker reads them all)
OBJECT_RECIPE = ObjectRecipe(optim=DYNAMICS, batch_size=32, rollout_steps=10, decoded_steps=10, pool_sequences=2048,
                             pool_frames=48, action_fraction=0.0, renderer=RENDERER)


def stages(recipe: ObjectRecipe) -> tuple[TrainConfig, TrainConfig]:
    """The TrainConfigs of the two stages: the renderer, then the dynamics."""
    return recipe.renderer, recipe.optim


def train_object_model(model_config: ObjectModelConfig = ObjectModelConfig(), recipe: ObjectRecipe = OBJECT_RECIPE,
                       world: WorldConfig = THREE_BALLS, progress: bool = True, *, shard: tuple[int, int] = (0, 1),
                       **train_options) -> tuple[ObjectModel, History]:
    """Train an ObjectModel from scratch on `world`; return it (in eval mode) and the dynamics stage's loss
    history (its `seconds` is the time of both stages). Deterministic for a given recipe.optim.seed and
    thread count.

    `shard` goes to window_batches, `train_options` (device, mixed_precision, ddp, resume, checkpoint,
    checkpoint_every) to worldmodels.training.train: worldmodels.train uses them. device, mixed_precision
    and ddp apply to both stages; checkpoint / resume to the dynamics stage only (its steps count from 0):
    a run interrupted in the short renderer stage starts again, and a resumed run skips the renderer (the
    checkpoint holds the whole model). Under ddp each stage trains only the parameters its loss reaches
    (DistributedDataParallel needs a gradient for every trainable parameter); without ddp nothing changes."""
    if world.size != model_config.size:
        raise ValueError(f"world.size ({world.size}) must equal model_config.size ({model_config.size})")
    if recipe.action_fraction != 0:
        raise ValueError(f"the object model takes no actions: use action_fraction=0, got {recipe.action_fraction}")
    if recipe.decoded_steps != recipe.rollout_steps:
        raise ValueError(f"the tracker reads every frame: use decoded_steps = rollout_steps ({recipe.rollout_steps}), "
                         f"got {recipe.decoded_steps}")
    if not isinstance(recipe, ObjectRecipe):
        raise ValueError(f"the object model trains with an ObjectRecipe (a renderer stage first), "
                         f"got {type(recipe).__name__}")
    torch.manual_seed(recipe.optim.seed)  # the initial weights
    model = ObjectModel(model_config)
    next_batch = window_batches(world, recipe, model_config.context, shard=shard)
    resume = train_options.pop("resume", None)
    stage_hooks = {k: train_options.pop(k) for k in ("checkpoint", "checkpoint_every") if k in train_options}
    ddp = train_options.get("ddp", False)
    seconds = 0.0
    stage1, stage2 = stages(recipe)
    if resume is None:
        with _only_trainable(model, RENDER_PARAMETERS if ddp else None):
            first = train(model, lambda m, batch: render_loss(m, batch[0][:, :2]), next_batch, stage1,
                          desc="training the renderer", progress=progress, **train_options)
        seconds = first.seconds
    with _only_trainable(model, DYNAMICS_PARAMETERS if ddp else None):
        history = train(model, lambda m, batch: dynamics_loss(m, batch[0]), next_batch, stage2,
                        desc="training the dynamics", progress=progress, resume=resume, elapsed=seconds,
                        **stage_hooks, **train_options)
    return model.eval(), history


RENDER_PARAMETERS = ("heat.", "log_radius", "log_sharpness")  # what render_loss trains (name prefixes)
DYNAMICS_PARAMETERS = ("f_rel.", "log_contact", "wall_margin")  # what dynamics_loss trains


@contextlib.contextmanager
def _only_trainable(model: torch.nn.Module, prefixes: tuple[str, ...] | None):
    """Within the block only the parameters whose names start with one of `prefixes` require a gradient
    (None: all of them, untouched)."""
    if prefixes is None:
        yield
        return
    saved = {name: p.requires_grad for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(prefixes))
    try:
        yield
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(saved[name])


def configs_from_record(record: dict) -> tuple[ObjectModelConfig, ObjectRecipe, WorldConfig]:
    """Rebuild the three configs stored in an object-model run's record (written by record_configs)."""
    return world_model_configs(record, ObjectModelConfig, ObjectRecipe)


def presets() -> dict[str, dict]:
    """The object model's configs for worldmodels.train: name -> {"model_config", "recipe", "world"}; the
    first, `chapter7`, is the recorded reference run."""
    chapter7 = record_configs(ObjectModelConfig(), OBJECT_RECIPE, THREE_BALLS)
    tiny = {  # seconds on a CPU: the tests
        "model_config": dataclasses.asdict(ObjectModelConfig(hidden=16)),
        "recipe": merge_config(chapter7["recipe"], {"batch_size": 8, "rollout_steps": 4, "decoded_steps": 4,
                                                    "pool_sequences": 32, "pool_frames": 12,
                                                    "optim": {"steps": 15, "warmup_steps": 2, "eval_every": 5},
                                                    "renderer": {"steps": 5, "eval_every": 5}}),
        "world": chapter7["world"],
    }
    return {"chapter7": chapter7, "tiny": tiny}


def train_from_config(config: dict, *, steps: int | None = None, shard=(0, 1), progress: bool = True, **hooks):
    """Train the object model from a config dict (a preset or a run record). Two stages, the renderer then
    the dynamics; `steps` counts both (registry.stretch). Checkpoints and the History count the dynamics
    stage."""
    model_config, recipe, world = configs_from_record(config)
    if steps is not None:
        renderer, optim = stretch(stages(recipe), steps)
        recipe = dataclasses.replace(recipe, renderer=renderer, optim=optim)
    return train_object_model(model_config, recipe, world, progress=progress, shard=shard, **hooks)
