import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from worldmodels.physics import WorldConfig
from worldmodels.imagined_experience import FeedbackPolicy, future_dataset, knn_predict, policy_return
from worldmodels.planning import (
    CEMRound,
    Observation,
    NEAR_WALL,
    REGIONS,
    PlannerConfig,
    ReachTask,
    Starts,
    cem_plan,
    cem_update,
    clip_pushes,
    learned_model,
    make_starts,
    objective,
    random_shooting_plan,
    region_of,
    run_mpc,
    simulator_model,
)
from worldmodels.render import render
from worldmodels.stats import spearman, wilson_interval
from worldmodels.world_model import WorldModel, WorldModelConfig

TINY = WorldModelConfig(context=4, latent=8, enc_hidden=16, dyn_hidden=16, dec_hidden=16)


def resting_ball(task, x=16.0, y=16.0):
    """One episode: a ball at rest at (x, y), seen for `context` frames."""
    p = np.array([[[x, y]]])
    frames = np.repeat(render(p, task.world.radius, task.world.size)[:, None], task.context, axis=1)
    return Observation(frames, p, np.zeros((1, 1, 2)))


def test_cem_with_the_simulator_finds_a_known_optimum():
    # A ball at rest, a target 1 px to its right, one push: minimise |1 - a| + w a^2 over a in [0, 1].
    # With w = 1 the optimum is a = 1 / (2 w) = 0.5 px/frame to the right, objective 0.75.
    task = ReachTask(energy_weight=1.0)
    obs, target = resting_ball(task), np.array([[17.0, 16.0]])
    plan = cem_plan(simulator_model(task.world), obs, target, 1, task, np.random.default_rng(0),
                    PlannerConfig(population=64, iterations=6, elites=8))
    assert plan.shape == (1, 1, 2)
    assert np.allclose(plan[0, 0], [0.5, 0.0], atol=0.05), plan
    # without an energy cost the full push wins and the ball lands on the target
    free = ReachTask(energy_weight=0.0)
    plan = cem_plan(simulator_model(free.world), obs, target, 1, free, np.random.default_rng(0),
                    PlannerConfig(population=64, iterations=6, elites=8))
    assert np.allclose(plan[0, 0], [1.0, 0.0], atol=0.05), plan


def test_cem_rounds_can_be_watched_without_changing_the_plan():
    task = ReachTask()
    starts = make_starts(task, 3, seed=3)
    model, config = simulator_model(task.world), PlannerConfig(population=20, iterations=3, elites=4)
    plan = cem_plan(model, starts.observation, starts.targets, 5, task, np.random.default_rng(0), config)
    rounds = []
    watched = cem_plan(model, starts.observation, starts.targets, 5, task, np.random.default_rng(0), config,
                       on_round=rounds.append)
    assert np.array_equal(plan, watched) and [r.round for r in rounds] == [0, 1, 2]
    first = rounds[0]
    assert isinstance(first, CEMRound) and first.samples.shape == (3, 20, 5, 2) and first.endings.shape == (3, 20, 2)
    assert np.array_equal(first.mean, np.zeros((3, 5, 2))) and np.all(first.std == config.init_std)
    assert np.array_equal(first.samples[:, 0], first.mean)  # the current mean always competes
    assert np.array_equal(first.costs, objective(first.endings, starts.targets, first.samples, task.energy_weight))
    assert np.array_equal(rounds[1].mean, cem_update(first.samples, first.costs, config.elites)[0])
    one = starts[:1]
    assert len(one) == 1 and np.array_equal(one.observation.frames, starts.observation.frames[:1])


def test_cem_beats_random_shooting_on_the_same_budget():
    task = ReachTask()
    starts = make_starts(task, 6, seed=3)
    model, config = simulator_model(task.world), PlannerConfig(population=40, iterations=4, elites=5)
    costs = {}
    for name, planner in (("cem", cem_plan), ("rs", random_shooting_plan)):
        plan = planner(model, starts.observation, starts.targets, task.steps, task, np.random.default_rng(0), config)
        assert plan.shape == (6, task.steps, 2)
        assert (np.linalg.norm(plan, axis=-1) <= task.max_push + 1e-9).all()
        costs[name] = objective(model(starts.observation, plan[:, None]), starts.targets, plan[:, None], task.energy_weight).mean()
    assert costs["cem"] < costs["rs"], costs


def test_mpc_with_the_true_simulator_reaches_targets_and_doing_nothing_does_not():
    task = ReachTask()
    starts = make_starts(task, 8, seed=0)
    eps = run_mpc(task, starts, simulator_model(task.world), "cem", PlannerConfig(population=40, elites=5))
    assert eps.success.all(), eps.distance
    assert eps.positions.shape == (8, task.steps + 1, 2) and eps.frames.shape == (8, task.context + task.steps, 32, 32)
    assert np.allclose(eps.energy, np.square(eps.pushes).sum(axis=(1, 2)))
    idle = run_mpc(task, starts, None, "none")
    assert idle.energy.sum() == 0 and idle.success.mean() < 0.5


def test_learned_model_has_the_model_interface():
    torch.manual_seed(0)
    task = ReachTask()
    starts = make_starts(task, 3, seed=0)
    out = learned_model(WorldModel(TINY).eval())(starts.observation, np.zeros((3, 5, 4, 2)))
    assert out.shape == (3, 5, 2) and np.isfinite(out).all()


def test_cem_update_keeps_the_best_samples():
    samples = np.arange(4, dtype=float).reshape(1, 4, 1, 1) * np.ones((1, 4, 1, 2))
    costs = np.array([[3.0, 0.0, 2.0, 1.0]])  # the best two are samples 1 and 3
    mean, std = cem_update(samples, costs, 2)
    assert np.allclose(mean, 2.0) and np.allclose(std, 1.0)


def test_policy_return_in_the_world_and_in_imagination():
    torch.manual_seed(0)
    task = ReachTask(steps=4)
    starts = make_starts(task, 5, seed=1)
    still = policy_return(FeedbackPolicy(0.0), task, starts)
    assert still.shape == (5,) and (still <= 0).all()
    imagined = policy_return(FeedbackPolicy(0.3, 0.5), task, starts, WorldModel(TINY).eval())
    assert imagined.shape == (5,) and np.isfinite(imagined).all()


def test_future_dataset_labels_and_nearest_neighbours():
    from worldmodels.physics import simulate

    traj = simulate(ReachTask().world, 16, 4 + 5, seed=2)
    frames = render(traj.positions[:, :4], 3.0, 32)
    x, y = future_dataset(frames, 5, positions=traj.positions[:, 4:, 0])
    assert x.shape == (16, 4) and y.shape == (16, 2)
    assert np.allclose(y, traj.positions[:, -1, 0])
    # inputs: the position and 5 x the velocity, read from the frames (sub-pixel away from walls)
    assert np.abs(x[:, :2] - traj.positions[:, 3, 0]).max() < 0.6
    torch.manual_seed(0)
    xi, yi = future_dataset(frames, 5, model=WorldModel(TINY).eval())
    assert xi.shape == (16, 4) and yi.shape == (16, 2) and np.allclose(xi, x)
    with pytest.raises(ValueError, match="exactly one"):
        future_dataset(frames, 5)
    # k nearest neighbours: a query on a training point with k = 1 returns its label; k = 2 averages
    train_x, train_y = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]]), np.array([[1.0], [3.0], [7.0]])
    assert np.allclose(knn_predict(train_x, train_y, np.array([[0.9, 0.0]]), k=1), [[3.0]])
    assert np.allclose(knn_predict(train_x, train_y, np.array([[0.2, 0.0]]), k=2), [[2.0]])
    assert np.allclose(knn_predict(train_x, train_y, np.array([[0.2, 0.0]]), k=10), [[11.0 / 3]])  # k capped at M
    with pytest.raises(ValueError, match="train_inputs"):
        knn_predict(train_x, train_y, np.zeros((1, 3)))


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="n_balls"):
        ReachTask(world=WorldConfig(n_balls=2))
    with pytest.raises(ValueError, match="steps"):
        ReachTask(steps=0)
    with pytest.raises(ValueError, match="elites"):
        PlannerConfig(population=10, elites=11)
    task = ReachTask()
    starts = make_starts(task, 2, seed=0)
    with pytest.raises(ValueError, match="planner must be"):
        run_mpc(task, starts, simulator_model(task.world), "gradient descent")
    with pytest.raises(ValueError, match="model=None"):
        run_mpc(task, starts, None, "cem")
    with pytest.raises(ValueError, match="pushes must have shape"):
        simulator_model(task.world)(starts.observation, np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="horizon"):
        cem_plan(simulator_model(task.world), starts.observation, starts.targets, 0, task, np.random.default_rng(0))
    with pytest.raises(ValueError, match="init_mean"):
        cem_plan(simulator_model(task.world), starts.observation, starts.targets, 3, task, np.random.default_rng(0),
                 init_mean=np.zeros((2, 4, 2)))
    assert np.allclose(np.linalg.norm(clip_pushes([[3.0, 4.0]], 1.0), axis=-1), 1.0)
    assert isinstance(starts, Starts)


def test_region_starts_put_every_target_in_its_region():
    task = ReachTask()
    assert list(region_of([[16.0, 16.0], [7.0, 16.0], [16.0, 25.5], [7.0, 25.5]], 32)) == ["centre", "wall", "wall", "corner"]
    for region in REGIONS:
        starts = make_starts(task, 300, seed=4, region=region)
        assert (region_of(starts.targets, task.world.size) == region).all(), region
        lo, hi = task.target_margin, task.world.size - task.target_margin
        assert (starts.targets >= lo).all() and (starts.targets <= hi).all()
    corner = make_starts(task, 400, seed=4, region="corner").targets  # all four corners get their share
    assert len({tuple(q) for q in (corner > 16).astype(int)}) == 4
    # without a region the starts are the chapter's, unchanged
    assert np.array_equal(make_starts(task, 5, seed=2).targets, make_starts(task, 5, seed=2, region=None).targets)
    with pytest.raises(ValueError, match="region must be"):
        make_starts(task, 5, region="edge")
    with pytest.raises(ValueError, match="inside the box"):
        region_of([[40.0, 16.0]], 32)
    assert NEAR_WALL > task.target_margin


def test_the_planning_pool_pushes_densely_and_visits_the_walls():
    import dataclasses

    from worldmodels.data import CANONICAL
    from worldmodels.world_model_training import PLANNING_RECIPE, planning_pool

    recipe = dataclasses.replace(PLANNING_RECIPE, pool_sequences=600)
    positions, actions = planning_pool(CANONICAL, recipe)
    assert positions.shape == (600, recipe.pool_frames, 1, 2) and actions.shape == (600, recipe.pool_frames, 2)
    r, size = CANONICAL.radius, CANONICAL.size
    assert (positions >= r - 1e-6).all() and (positions <= size - r + 1e-6).all()
    assert actions.norm(dim=-1).max() <= recipe.push_size + 1e-6
    assert (actions.norm(dim=-1) > 0).float().mean() > 0.5  # dense pushes, unlike chapter 5's pool (~0.15)
    gap = torch.minimum(positions, size - positions).amin(dim=-1)[..., 0]  # (n, T) distance to the nearest wall
    assert (gap < NEAR_WALL).float().mean() > 0.5
    again, _ = planning_pool(CANONICAL, recipe)
    assert torch.equal(positions, again)  # deterministic
    with pytest.raises(ValueError, match="one ball"):
        planning_pool(WorldConfig(n_balls=2), recipe)


RESULTS = Path(__file__).resolve().parents[1] / "worldmodels" / "checkpoints" / "planning_results.json"
FINE_TUNED = RESULTS.with_name("world_model_planning.pt")


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_planning", RESULTS.parents[2] / "bench" / "planning.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_recorded_bench_results_are_complete_and_consistent():
    """Chapter 8 loads this file (written by bench/planning.py --save) instead of running 200 starts."""
    rec = json.loads(RESULTS.read_text())
    for key in ("success", "gap", "gap_fine_tuned", "cost", "success_by_region", "decision_ms", "rank_correlation",
                "synthetic", "reproduction"):
        assert key in rec, f"missing key {key}"
    for name in ("simulator", "learned", "fine_tuned", "random", "none"):
        row = rec["success"][name]
        k = round(row["rate"] * row["n"])
        assert row["n"] >= 200
        assert np.allclose(row["ci95"], wilson_interval(k, row["n"]), atol=1e-4), name
    assert rec["gap"]["value"] == pytest.approx(rec["success"]["simulator"]["rate"] - rec["success"]["learned"]["rate"], abs=1e-3)
    assert rec["ranking"]["n_policies"] >= 8
    assert rec["rank_correlation"] == pytest.approx(spearman(rec["ranking"]["imagined_return"], rec["ranking"]["real_return"]), abs=1e-3)
    by_region = rec["success_by_region"]
    assert set(by_region) == {"all", *REGIONS}
    assert by_region["all"]["fine_tuned"]["rate"] == rec["success"]["fine_tuned"]["rate"]
    seeds = [by_region[r]["seed"] for r in REGIONS]
    assert len(set(seeds)) == 3 and rec["task"]["start_seed"] not in seeds  # fresh starts for every region
    for region, row in by_region.items():
        for name in ("simulator", "learned", "fine_tuned"):
            k = round(row[name]["rate"] * row[name]["n"])
            assert row[name]["n"] >= 200 and np.allclose(row[name]["ci95"], wilson_interval(k, row[name]["n"]), atol=1e-4)
        for name in ("learned", "fine_tuned"):
            ratio = row[name]["ratio"]
            assert ratio["value"] == pytest.approx(row[name]["rate"] / row["simulator"]["rate"], abs=1e-3)
            assert ratio["ci95"][0] <= ratio["value"] <= ratio["ci95"][1], (region, name)
            assert row[name]["energy_ratio"] == pytest.approx(row[name]["energy"] / row["simulator"]["energy"], rel=1e-2)
    fine = json.loads(FINE_TUNED.with_suffix(".json").read_text())
    assert fine["model"] == "world_model" and fine["prefix"]["steps"] < fine["recipe"]["optim"]["steps"]


def test_ratio_interval_of_paired_successes():
    bench = load_bench()
    sim = np.array([True] * 90 + [False] * 10)
    same = bench.ratio_interval(sim, sim)
    assert same == {"value": 1.0, "ci95": [1.0, 1.0]}  # identical outcomes: no uncertainty in the ratio
    worse = sim.copy()
    worse[:18] = False  # 72 of the simulator's 90 wins: ratio 0.8
    out = bench.ratio_interval(sim, worse)
    assert out["value"] == pytest.approx(0.8) and out["ci95"][0] < 0.8 < out["ci95"][1] < 1


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WM_SLOW") != "1", reason="reruns a short prefix of bench/planning.py (~40 s); set WM_SLOW=1")
def test_bench_reproduces_the_recorded_results():
    from worldmodels.registry import load

    rec = json.loads(RESULTS.read_text())["reproduction"]
    bench = load_bench()
    torch.set_num_threads(1)
    out = bench.reproduction(load("world_model"), load("world_model", FINE_TUNED))
    radius = bench.ReachTask().success_radius
    for name, want in rec["distance_px"].items():  # a planning decision is an argmin: a few episodes may flip
        got, want = np.array(out["distance_px"][name]), np.array(want)
        flips = int(((got <= radius) != (want <= radius)).sum())
        assert flips <= 2 and abs(got.mean() - want.mean()) < 0.3, (name, flips, got.mean(), want.mean())
    assert abs(out["rank_correlation"] - rec["rank_correlation"]) <= 0.05
    for key in ("real only", "imagined only", "real + imagined"):
        assert out["synthetic"][key] == pytest.approx(rec["synthetic"][key], rel=0.05), key


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WM_SLOW") != "1", reason="retrains the fine-tune's recorded prefix (~30 s on 1 thread); set WM_SLOW=1")
def test_the_planning_fine_tune_reproduces_its_recorded_prefix():
    prefix = json.loads(FINE_TUNED.with_suffix(".json").read_text())["prefix"]
    bench = load_bench()
    _, record, losses = bench.finetune(prefix["steps"], progress=False)
    assert len(losses) == prefix["steps"]
    # same code, seed and thread count: equal up to platform rounding, which grows over the steps
    assert record["metrics"]["final_loss_mean_last_50"] == pytest.approx(prefix["loss_mean_last_50"], rel=0.05)
    assert np.allclose(losses[::10], prefix["loss_every_10"], rtol=0.1)
