"""The recipe that trains the object model of chapter 7 with the course's training loop, in two stages.

1. The renderer (render_loss): redraw single frames from their tracked slots; this fits the heatmap, the
   disc's radius and its edge. Short: a few parameters.
2. The dynamics (dynamics_loss): the multi-step rollout loss in object space, from the slots the encoder
   tracks in the frames (no position labels anywhere).

Both stages run worldmodels.training.train on windows of chapter 5's data pool
(worldmodels.world_model_training.window_batches with a TrainingRecipe whose action_fraction is 0: the
balls move freely). `render_steps` of the recipe's steps go to stage 1, the rest to stage 2.
"""

from __future__ import annotations

import dataclasses

import torch

from .data import THREE_BALLS
from .objects import ObjectModel, ObjectModelConfig, dynamics_loss, render_loss
from .physics import WorldConfig
from .training import History, TrainConfig, train
from .world_model_training import TrainingRecipe, window_batches

RENDER_STEPS = 60  # stage 1 (renderer); the rest of recipe.optim.steps train the dynamics
OBJECT_OPTIM = TrainConfig(steps=1500, lr=2e-3, warmup_steps=30, min_lr_fraction=0.0, grad_clip=None, eval_every=25, seed=0)
# decoded_steps = rollout_steps: window_batches renders every frame of the window (the tracker reads them all)
OBJECT_RECIPE = TrainingRecipe(optim=OBJECT_OPTIM, batch_size=32, rollout_steps=10, decoded_steps=10,
                               pool_sequences=2048, pool_frames=48, action_fraction=0.0)


def train_object_model(model_config: ObjectModelConfig = ObjectModelConfig(), recipe: TrainingRecipe = OBJECT_RECIPE,
                       world: WorldConfig = THREE_BALLS, progress: bool = True,
                       render_steps: int = RENDER_STEPS) -> tuple[ObjectModel, History]:
    """Train an ObjectModel from scratch on `world`; return it (in eval mode) and the dynamics stage's loss
    history (its `seconds` is the time of both stages). Deterministic for a given recipe.optim.seed and
    thread count."""
    if world.size != model_config.size:
        raise ValueError(f"world.size ({world.size}) must equal model_config.size ({model_config.size})")
    if recipe.action_fraction != 0:
        raise ValueError(f"the object model takes no actions: use action_fraction=0, got {recipe.action_fraction}")
    if recipe.decoded_steps != recipe.rollout_steps:
        raise ValueError(f"the tracker reads every frame: use decoded_steps = rollout_steps ({recipe.rollout_steps}), "
                         f"got {recipe.decoded_steps}")
    if not 1 <= render_steps < recipe.optim.steps:
        raise ValueError(f"render_steps must be in 1..{recipe.optim.steps - 1} (recipe.optim.steps), got {render_steps}")
    torch.manual_seed(recipe.optim.seed)  # the initial weights
    model = ObjectModel(model_config)
    next_batch = window_batches(world, recipe, model_config.context)
    stage1 = dataclasses.replace(recipe.optim, steps=render_steps, warmup_steps=0, lr=1e-2)
    first = train(model, lambda m, batch: render_loss(m, batch[0][:, :2]), next_batch, stage1,
                  desc="training the renderer", progress=progress)
    stage2 = dataclasses.replace(recipe.optim, steps=recipe.optim.steps - render_steps,
                                 warmup_steps=min(recipe.optim.warmup_steps, (recipe.optim.steps - render_steps) // 2))
    history = train(model, lambda m, batch: dynamics_loss(m, batch[0]), next_batch, stage2,
                    desc="training the dynamics", progress=progress)
    history.seconds += first.seconds
    return model.eval(), history


def record_configs(model_config: ObjectModelConfig, recipe: TrainingRecipe, world: WorldConfig) -> dict:
    """The three configs of a run as plain JSON-able dicts (see configs_from_record)."""
    return {"model_config": dataclasses.asdict(model_config), "recipe": dataclasses.asdict(recipe),
            "world": dataclasses.asdict(world)}


def configs_from_record(record: dict) -> tuple[ObjectModelConfig, TrainingRecipe, WorldConfig]:
    """Rebuild the three configs stored in a run's record, to retrain the same run."""
    world = record["world"]
    world = WorldConfig(**{**world, "speed_ranges": tuple(tuple(r) for r in world["speed_ranges"])})
    return ObjectModelConfig(**record["model_config"]), TrainingRecipe.from_dict(record["recipe"]), world
