"""The recipe that teaches the actor of chapter 12 to act, in the world model's imagination, in rounds.

    round 0:  the world model of chapter 5 (its recorded run) --> train the actor in imagination
    round r:  act in the real simulator with the current actor (a little exploration noise)
              --> refit the world model on the original data plus ALL the policy's episodes so far
              --> retrain the actor in imagination (starting from the previous one)

Imagination starts from real states only: `n_starts` start states of the task (chapter 8's make_starts)
and, from round 1 on, every state the policy met in its real episodes (with the pushes it had left).
The actor never takes a real step while it learns; the real steps are the world model's training data
and the episodes collected between rounds (`real_steps` counts them).

Every stage goes through worldmodels.training.train: the actor's stages minimise dreamer.actor_critic_loss
(actor and value in one loss), the refits minimise world_model.rollout_loss on windows of the original pool
(world_model_training.window_batches) plus the policy's own episodes. `stages(recipe)` lists them in order.
`DreamRecipe.zone` turns on the harder variant (a forbidden disc, its cost read from every imagined frame).
`presets()` (`chapter12`, the recorded run; `tiny`, seconds, for tests) and `train_from_config` are the
model's entry in worldmodels.registry; `bench/dreamer.py --save` records the reference run.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import registry
from .dreamer import ActorCritic, ActorCriticConfig, actor_critic_loss, run_policy, soft_position
from .planning import ReachTask, make_starts
from .registry import config_from_dict
from .training import History, TrainConfig, batch_sampler, train
from .world_model import WorldModel, rollout_loss
from .world_model_training import TrainingRecipe, configs_from_record, window_batches
from .world_model_training import presets as world_model_presets

ACTOR_OPTIM = TrainConfig(steps=400, lr=3e-3, warmup_steps=20, min_lr_fraction=0.1, grad_clip=10.0, eval_every=50, seed=0)
REFIT_OPTIM = TrainConfig(steps=100, lr=3e-4, warmup_steps=10, min_lr_fraction=0.1, grad_clip=1.0, eval_every=50, seed=0)


@dataclass(frozen=True)
class DreamRecipe:
    """Everything that defines a run of chapter 12 besides the actor's architecture."""

    actor: TrainConfig = ACTOR_OPTIM  # the first actor stage (round 0)
    retrain: TrainConfig = dataclasses.replace(ACTOR_OPTIM, steps=150, lr=1e-3)  # the actor stage of every later round
    refit: TrainConfig = REFIT_OPTIM  # the world model's refit of every later round
    rounds: int = 3  # rounds of collect -> refit -> retrain after round 0
    batch_size: int = 128  # imagined rollouts per actor step
    horizon: int = 10  # imagination horizon (steps); shorter than the pushes left: the value bootstraps
    lam: float = 0.95  # the λ of the λ-return
    n_starts: int = 2048  # real start states imagination starts from
    start_seed: int = 10  # their seed (the evaluation uses other seeds)
    episodes: int = 256  # real episodes the policy collects per round
    explore_noise: float = 0.3  # Gaussian noise on the collected pushes (px/frame, then bounded)
    refit_batch: int = 64  # windows of each kind (original pool, own episodes) per refit step
    task_steps: int = 10  # the task (chapter 8's ReachTask with these fields)
    max_push: float = 1.0
    energy_weight: float = 0.2
    world_model: str = "world_model"  # the registry's recorded run the world model starts from
    zone: tuple | None = None  # the harder variant: a forbidden disc (x, y, radius, weight), see dreamer.imagine

    def __post_init__(self):
        for name in ("rounds", "batch_size", "horizon", "n_starts", "episodes", "refit_batch", "task_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "rounds" else 1):
                raise ValueError(f"{name} must be an integer >= {0 if name == 'rounds' else 1}, got {value!r}")
        if not 0 <= self.lam <= 1:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")
        if self.zone is not None and (len(self.zone) != 4 or not self.zone[2] > 0 or self.zone[3] < 0):
            raise ValueError(f"zone must be (x, y, radius > 0, weight >= 0), got {self.zone!r}")
        if self.explore_noise < 0:
            raise ValueError(f"explore_noise must be >= 0, got {self.explore_noise}")

    def task(self) -> ReachTask:
        return ReachTask(steps=self.task_steps, max_push=self.max_push, energy_weight=self.energy_weight)


def stages(recipe: DreamRecipe) -> tuple[TrainConfig, ...]:
    """The TrainConfigs in the order they run: the first actor stage, then (refit, retrain) per round."""
    return (recipe.actor,) + (recipe.refit, recipe.retrain) * recipe.rounds


def latent_starts(agent: ActorCritic, frames: np.ndarray, targets: np.ndarray, left: np.ndarray) -> tuple:
    """Imagination's start states as tensors: the world model's latents of real frames (B, C, H, W), targets
    (B, 2), pushes left (B,)."""
    with torch.no_grad():
        z = agent.world_model.encode(torch.as_tensor(frames, dtype=torch.float32))
    return z, torch.as_tensor(targets, dtype=torch.float32), torch.as_tensor(left, dtype=torch.float32)


def episode_states(task: ReachTask, episodes, targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every state real episodes passed through before their goal frame: the last `context` frames
    (B * steps, C, H, W), targets and pushes left."""
    frames, c = episodes.frames, task.context
    windows = np.stack([frames[:, t : t + c] for t in range(task.steps)], axis=1)
    left = np.broadcast_to(task.steps - np.arange(task.steps), (len(frames), task.steps))
    return (windows.reshape((-1,) + windows.shape[2:]), np.repeat(targets, task.steps, axis=0), left.reshape(-1))


def train_actor(agent: ActorCritic, states: tuple, recipe: DreamRecipe, optim: TrainConfig, progress: bool = True,
                **hooks) -> History:
    """One actor stage: actor_critic_loss on imagined rollouts from random rows of `states` (latents,
    targets, pushes left). The world model's weights are frozen meanwhile."""
    agent.world_model.requires_grad_(False)
    try:
        history = train(agent, lambda m, batch: actor_critic_loss(m, *batch, horizon=recipe.horizon,
                                                                  energy_weight=recipe.energy_weight, lam=recipe.lam,
                                                                  zone=recipe.zone),
                        batch_sampler(*states, batch_size=recipe.batch_size), optim,
                        desc="learning in imagination", progress=progress, **hooks)
    finally:
        agent.world_model.requires_grad_(True)
    return history


def own_windows(task: ReachTask, episodes_frames: np.ndarray, episodes_pushes: np.ndarray) -> tuple:
    """The policy's real episodes as training windows of the world model: frames (B, C + steps, H, W) and
    the pushes aligned with the frames (B, C + steps, 2): the push of step k is given at frame C - 1 + k."""
    actions = np.zeros(episodes_frames.shape[:2] + (2,), dtype=np.float32)
    actions[:, task.context - 1 : task.context - 1 + task.steps] = episodes_pushes
    return torch.as_tensor(episodes_frames, dtype=torch.float32), torch.as_tensor(actions)


def refit_world_model(model: WorldModel, own: tuple, recipe: DreamRecipe, optim: TrainConfig, pool_recipe: TrainingRecipe,
                      world, progress: bool = True, **hooks) -> History:
    """Refit the world model on half windows of its original pool, half windows of the policy's episodes
    (both context + steps frames long), with chapter 5's rollout loss."""
    length = own[0].shape[1] - model.config.context
    pool = dataclasses.replace(pool_recipe, batch_size=recipe.refit_batch, rollout_steps=length,
                               decoded_steps=min(pool_recipe.decoded_steps, length))
    original = window_batches(world, pool, model.config.context)
    mine = batch_sampler(*own, batch_size=recipe.refit_batch)

    def next_batch(generator):
        return original(generator), mine(generator)

    def loss(m, batch):
        (frames, actions, steps), (own_frames, own_actions) = batch
        return rollout_loss(m, frames, actions, steps) + rollout_loss(m, own_frames, own_actions)

    return train(model, loss, next_batch, optim, desc="refitting the world model", progress=progress, **hooks)


def model_error_px(model: WorldModel, task: ReachTask, episodes) -> float:
    """The world model's error on the policy's own episodes: mean distance (px) between where the ball is
    at the goal frame and where the model, fed the same pushes open loop from the start frames, imagines it."""
    with torch.no_grad():
        z = model.encode(torch.as_tensor(episodes.frames[:, : task.context], dtype=torch.float32))
        z = model.imagine(z, torch.as_tensor(episodes.pushes, dtype=torch.float32))[:, -1]
        imagined = soft_position(model, z).double().numpy()
    return float(np.linalg.norm(imagined - episodes.positions[:, -1], axis=-1).mean())


def train_dreamer(agent_config: ActorCriticConfig, recipe: DreamRecipe, progress: bool = True, *,
                  on_round: Callable[[int, ActorCritic], None] | None = None, world_model: WorldModel | None = None,
                  **hooks) -> tuple[ActorCritic, History, list[dict]]:
    """The whole run: round 0, then `recipe.rounds` rounds of collect -> refit -> retrain. Returns the agent
    (eval mode), the concatenated loss history of all stages and one log row per later round: the world
    model's error (px, model_error_px) on that round's real episodes before and after the refit, and the
    real steps used so far. on_round(r, agent) is called (agent in eval mode) after the actor stage of every
    round r = 0..rounds, to evaluate or keep it. world_model: start from this one instead of the registry's."""
    task = recipe.task()
    if agent_config.steps != task.steps or agent_config.max_push != task.max_push:
        raise ValueError("the actor's steps and max_push must be the task's")
    torch.manual_seed(recipe.actor.seed)
    agent = ActorCritic(agent_config)
    base = world_model if world_model is not None else registry.load(recipe.world_model)
    agent.world_model.load_state_dict(base.state_dict())
    # the world model's original data (its recorded run's pool; chapter 5's tiny pool for one given by hand)
    wm_record = registry.load_record(recipe.world_model) if world_model is None else world_model_presets()["tiny"]
    _, pool_recipe, world = configs_from_record(wm_record)
    pool_steps = pool_recipe.pool_sequences * pool_recipe.pool_frames  # real steps behind the world model
    starts = make_starts(task, recipe.n_starts, seed=recipe.start_seed)
    real = (starts.observation.frames, starts.targets, np.full(recipe.n_starts, task.steps))
    history, log, t0 = History(), [], time.perf_counter()
    extend(history, train_actor(agent, latent_starts(agent, *real), recipe, recipe.actor, progress, **hooks))
    if on_round is not None:
        on_round(0, agent.eval())
    own_frames, own_pushes, states, real_steps = [], [], [], pool_steps
    for r in range(1, recipe.rounds + 1):
        agent.eval()
        collect = make_starts(task, recipe.episodes, seed=recipe.start_seed * 1000 + r)
        episodes = run_policy(agent, task, collect, noise=recipe.explore_noise, seed=r)
        real_steps += recipe.episodes * task.steps
        row = {"round": r, "error_px_before_refit": model_error_px(agent.world_model, task, episodes)}
        own_frames.append(episodes.frames), own_pushes.append(episodes.pushes)
        states.append(episode_states(task, episodes, collect.targets))
        own = own_windows(task, np.concatenate(own_frames), np.concatenate(own_pushes))
        extend(history, refit_world_model(agent.world_model, own, recipe, recipe.refit, pool_recipe, world, progress, **hooks))
        agent.eval()
        row["error_px_after_refit"] = model_error_px(agent.world_model, task, episodes)
        frames, targets, left = (np.concatenate([real[i]] + [s[i] for s in states]) for i in range(3))
        extend(history, train_actor(agent, latent_starts(agent, frames, targets, left), recipe, recipe.retrain,
                                    progress, **hooks))
        row["real_steps"] = real_steps
        log.append(row)
        if on_round is not None:
            on_round(r, agent.eval())
    history.seconds = time.perf_counter() - t0
    return agent.eval(), history, log


def extend(history: History, part: History) -> History:
    """Append a stage's history to the run's, its steps counted on from the last one."""
    offset = history.steps[-1] + 1 if history.steps else 0
    history.steps += [s + offset for s in part.steps]
    history.train_loss += part.train_loss
    history.seconds += part.seconds
    return history


def record_configs(agent_config: ActorCriticConfig, recipe: DreamRecipe) -> dict:
    return {"model_config": dataclasses.asdict(agent_config), "recipe": dataclasses.asdict(recipe)}


def configs_from_dict(config: dict) -> tuple[ActorCriticConfig, DreamRecipe]:
    return ActorCriticConfig(**config["model_config"]), config_from_dict(DreamRecipe, config["recipe"], "recipe")


def presets() -> dict[str, dict]:
    """chapter12: the recorded run; tiny: a few steps of each stage, for tests (seconds on a CPU)."""
    chapter12 = record_configs(ActorCriticConfig(), DreamRecipe())
    tiny_recipe = DreamRecipe(actor=dataclasses.replace(ACTOR_OPTIM, steps=4, warmup_steps=1, eval_every=2),
                              retrain=dataclasses.replace(ACTOR_OPTIM, steps=2, warmup_steps=0, eval_every=2),
                              refit=dataclasses.replace(REFIT_OPTIM, steps=2, warmup_steps=0, eval_every=2),
                              rounds=1, batch_size=16, n_starts=32, episodes=8, refit_batch=4)
    tiny = record_configs(ActorCriticConfig(hidden=16), tiny_recipe)
    return {"chapter12": chapter12, "tiny": tiny}


def train_from_config(config: dict, *, steps: int | None = None, shard=(0, 1), progress: bool = True, **hooks):
    """Train from a config dict (a preset or a run record); `steps` stretches all stages (registry.stretch).
    The registry's `train`. One process only: the rounds alternate acting and learning."""
    if shard != (0, 1):
        raise ValueError("the dreamer trains in one process (its rounds act in the simulator between stages)")
    agent_config, recipe = configs_from_dict(config)
    if steps is not None:
        stretched = registry.stretch(stages(recipe), steps)
        recipe = dataclasses.replace(recipe, actor=stretched[0], **({"refit": stretched[1], "retrain": stretched[2]}
                                                                     if recipe.rounds else {}))
    agent, history, _ = train_dreamer(agent_config, recipe, progress, **hooks)
    return agent, history
