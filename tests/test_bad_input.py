"""Bad input gets a clear ValueError at the boundary of every public function that takes frames or a horizon.

CASES says how to call each such function with given frames (and a horizon). The sweep calls every case with
every bad input of BAD_FRAMES (and a horizon of 0 where it takes one) and checks that the ValueError names the
fix. `test_no_public_function_is_skipped` lists the package's public callables by parameter name, so a new
function that takes frames, a context, clips or a horizon must join CASES or EXEMPT (with its reason).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch

import worldmodels
from worldmodels import (animation, centroid, detection, dreamer, evaluation, jepa, latent_actions, geometry, imagined_experience, laws, next_frame,
                         next_frame_training, objects, oracle, physics_checks, planning, plotting, testbed,
                         video_autoencoder, video_generation, watermark, world_model)
from worldmodels.data import CANONICAL, make_split
from worldmodels.validation import check_frames, check_horizon, check_points

VIDEOS = make_split("test", 2, 30, CANONICAL, seed=0)  # one ball, 32 x 32, 2 sequences of 30 frames
SMALL_WORLD_MODEL = world_model.WorldModel(world_model.WorldModelConfig(enc_hidden=16, dyn_hidden=16, dec_hidden=16))
OBJECT_MODEL = objects.ObjectModel(objects.ObjectModelConfig(hidden=8))
CONV = next_frame.ConvPredictor(next_frame.PredictorConfig(channels=8, n_layers=2))
AUTOENCODER = video_autoencoder.VideoAutoencoder(video_autoencoder.VideoAutoencoderConfig(hidden=8))
DREAMER = dreamer.ActorCritic(dreamer.ActorCriticConfig(hidden=8, world_model=dataclasses.asdict(
    world_model.WorldModelConfig(enc_hidden=16, dyn_hidden=16, dec_hidden=16))))
JEPA_MODEL = jepa.JEPA(jepa.JEPAConfig(enc_hidden=16, pred_hidden=16, embed=8))
LATENT_ACTIONS = latent_actions.LatentActionModel(latent_actions.LatentActionConfig(channels=8, layers=2, action_hidden=8))
LATENT_ACTIONS.push_codes.zero_()  # every push played as code 0 (a measured mapping is not needed to check input)
DETECTOR = detection.ClipClassifier(detection.DetectorConfig(length=20, channels=4))


@dataclass(frozen=True)
class Case:
    call: Callable  # (frames (B, 30, 32, 32) float32, horizon) -> anything
    sized: bool = True  # knows the world's frame size: frames of another size must be refused
    horizon: bool = False  # takes a horizon: 0 must be refused
    run_good: bool = True  # also run it on good input (False where that would train a model)
    model_output: bool = False  # reads a model's frames: values a little outside [0, 1] are scored as they are


def _videos(frames):
    return dataclasses.replace(VIDEOS, frames=frames)


TASK = planning.ReachTask(steps=2)
STARTS = planning.make_starts(TASK, 2, seed=0)
TINY_PLANNER = planning.PlannerConfig(population=4, iterations=1, elites=1)


def _starts(frames=None, targets=None):
    """The reach task's start states with other observed frames (their last 4) or other targets."""
    obs = STARTS.observation
    frames = obs.frames if frames is None else frames[:, -TASK.context :]
    return planning.Starts(planning.Observation(frames, obs.positions, obs.velocities),
                           STARTS.targets if targets is None else np.asarray(targets, dtype=np.float64))


CASES: dict[str, Case] = {
    "centroid.centroids": Case(lambda f, h: centroid.centroids(f), sized=False, model_output=True),
    "evaluation.copy_last": Case(lambda f, h: evaluation.copy_last(f[:, :10], None, h), sized=False, horizon=True),
    "evaluation.empty_frame": Case(lambda f, h: evaluation.empty_frame(f[:, :10], None, h), sized=False, horizon=True),
    "evaluation.evaluate": Case(lambda f, h: evaluation.evaluate({}, _videos(f), context=10, horizon=h), horizon=True),
    "evaluation.score_frames": Case(lambda f, h: evaluation.score_frames(
        "model", f[:, 10:15], VIDEOS.frames[:, 10:15], VIDEOS.positions[:, 10:15]), sized=False, model_output=True),
    "evaluation.centroid_error": Case(lambda f, h: evaluation.centroid_error(f[:, 10:15], VIDEOS.positions[:, 10:15]),
                                      sized=False, model_output=True),
    "evaluation.wrong_pixel_fraction": Case(lambda f, h: evaluation.wrong_pixel_fraction(f, f), sized=False, model_output=True),
    "evaluation.pixel_mse": Case(lambda f, h: evaluation.pixel_mse(f, f), sized=False, model_output=True),
    "evaluation.side_by_side_html": Case(lambda f, h: evaluation.side_by_side_html(f[0], {"model": f[0]}), sized=False, model_output=True),
    "evaluation.sharpness": Case(lambda f, h: evaluation.sharpness(f), sized=False),
    "laws.ink_and_spread": Case(lambda f, h: laws.ink_and_spread(f), sized=False),
    "laws.tracks_of": Case(lambda f, h: laws.tracks_of(f), sized=False),
    "laws.clip_violations": Case(lambda f, h: laws.clip_violations(f)),
    "laws.law_pass_curve": Case(lambda f, h: laws.law_pass_curve(f)),
    "detection.physics_score": Case(lambda f, h: detection.physics_score(f)),
    "jepa.surprise": Case(lambda f, h: jepa.surprise(JEPA_MODEL, f)),
    "jepa.pixel_surprise": Case(lambda f, h: jepa.pixel_surprise(SMALL_WORLD_MODEL, f)),
    "latent_actions.LatentActionModel.propose": Case(lambda f, h: LATENT_ACTIONS.propose(torch.as_tensor(f))),
    "latent_actions.LatentActionModel.infer_codes": Case(lambda f, h: LATENT_ACTIONS.infer_codes(torch.as_tensor(f))),
    "latent_actions.LatentActionModel.play": Case(lambda f, h: LATENT_ACTIONS.play(f[:, :4], torch.zeros(len(f), 3))),
    "latent_actions.as_predictor": Case(lambda f, h: latent_actions.as_predictor(LATENT_ACTIONS)(f[:, :4], None, h),
                                        horizon=True),
    "dreamer.policy_pushes": Case(lambda f, h: dreamer.policy_pushes(DREAMER, f[:, :4], [[5.0, 5.0]] * len(f), 3)),
    "detection.context_terms": Case(lambda f, h: detection.context_terms(f[:, :10], f[:, 10:30])),
    "detection.context_score": Case(lambda f, h: detection.context_score(f[:, :10], f[:, 10:30])),
    "detection.detector_scores": Case(lambda f, h: detection.detector_scores(DETECTOR, f[:, :20])),
    "detection.fit_detector": Case(lambda f, h: detection.fit_detector(DETECTOR, f[:, :20], f[:, 10:]), run_good=False),
    "watermark.embed": Case(lambda f, h: watermark.embed(f, key=1), sized=False),
    "watermark.score": Case(lambda f, h: watermark.score(f, key=1), sized=False),
    "watermark.detect": Case(lambda f, h: watermark.detect(f, key=1), sized=False),
    "watermark.psnr": Case(lambda f, h: watermark.psnr(f, f), sized=False),
    "watermark.watermarked": Case(lambda f, h: watermark.watermarked(evaluation.copy_last, key=1)(f[:, :10], None, h),
                                  sized=False, horizon=True),
    "physics_checks.law_metrics": Case(lambda f, h: physics_checks.law_metrics(
        VIDEOS.positions[:, 10:30, 0], np.ones(2), f[:, 10:30], VIDEOS.frames[:, 10:30]), sized=False, model_output=True),
    "physics_checks.check_rollouts": Case(lambda f, h: physics_checks.check_rollouts(f[:, 10:30], VIDEOS), model_output=True),
    "physics_checks.track": Case(lambda f, h: physics_checks.track(f, 1), sized=False, model_output=True),
    "objects.count_balls": Case(lambda f, h: objects.count_balls(f[:, :10], OBJECT_MODEL)),
    "objects.as_predictor": Case(lambda f, h: objects.as_predictor(OBJECT_MODEL)(f[:, :10], None, h), horizon=True),
    "objects.ObjectModel.predict": Case(lambda f, h: OBJECT_MODEL.predict(f[:, :10], h), horizon=True),
    "world_model.as_predictor": Case(lambda f, h: world_model.as_predictor(SMALL_WORLD_MODEL)(f[:, :10], None, h),
                                     horizon=True),
    "world_model.WorldModel.predict": Case(lambda f, h: SMALL_WORLD_MODEL.predict(f[:, :10], torch.zeros(len(f), 3, 2))),
    "next_frame.as_predictor": Case(lambda f, h: next_frame.as_predictor(CONV)(f[:, :10], None, h), horizon=True),
    "next_frame.rollout": Case(lambda f, h: next_frame.rollout(CONV, f[:, :10], h), horizon=True),
    "next_frame_training.fit": Case(lambda f, h: next_frame_training.fit(CONV, f), run_good=False),
    "testbed.noisy_simulator": Case(lambda f, h: testbed.noisy_simulator(0.0)(f[:, :10], None, h), horizon=True),
    "testbed.generated_clips": Case(lambda f, h: testbed.generated_clips(
        evaluation.copy_last, _videos(f), testbed.TestBedConfig(n_clips=2))),
    "testbed.wrong_world_clips": Case(lambda f, h: testbed.wrong_world_clips(_videos(f), testbed.TestBedConfig(n_clips=2))),
    "testbed.post_process": Case(lambda f, h: testbed.post_process(f, "blur"), sized=False),
    "video_generation.fitted_parts": Case(lambda f, h: video_generation.fitted_parts(f)),
    "video_generation.prompt_adherence": Case(lambda f, h: video_generation.prompt_adherence(f, ["a ball bouncing"] * len(f))),
    "video_autoencoder.VideoAutoencoder.encode": Case(lambda f, h: AUTOENCODER.encode(f[:, :16])),
    "video_autoencoder.VideoAutoencoder.forward": Case(lambda f, h: AUTOENCODER(f[:, :16])),
    "geometry.soft_centroid": Case(lambda f, h: geometry.soft_centroid(torch.as_tensor(f)), sized=False, model_output=True),
    "plotting.show_frames": Case(lambda f, h: plotting.show_frames(f[0, :3]), sized=False, model_output=True),
    "animation.video_html": Case(lambda f, h: animation.video_html([f[0]]), sized=False, model_output=True),
    "animation.video_gif": Case(lambda f, h: animation.video_gif([f[0]]), sized=False, model_output=True),
    "animation.compose_frames": Case(lambda f, h: animation.compose_frames([f[0]]), sized=False, model_output=True),
    "planning.run_mpc": Case(lambda f, h: planning.run_mpc(TASK, _starts(f), planning.simulator_model(TASK.world),
                                                           config=TINY_PLANNER)),
    "planning.cem_plan": Case(lambda f, h: planning.cem_plan(planning.simulator_model(TASK.world), STARTS.observation,
                                                             STARTS.targets, h, TASK, np.random.default_rng(0), TINY_PLANNER),
                              horizon=True),
    "planning.random_shooting_plan": Case(lambda f, h: planning.random_shooting_plan(
        planning.simulator_model(TASK.world), STARTS.observation, STARTS.targets, h, TASK, np.random.default_rng(0),
        TINY_PLANNER), horizon=True),
    "imagined_experience.policy_return": Case(lambda f, h: imagined_experience.policy_return(
        imagined_experience.CANDIDATE_POLICIES[1], TASK, _starts(f))),
    "imagined_experience.future_dataset": Case(lambda f, h: imagined_experience.future_dataset(
        f[:, :10], h, positions=VIDEOS.positions[:len(f), 10:13, 0]), sized=False, horizon=True),
    "imagined_experience.synthetic_data_experiment": Case(lambda f, h: imagined_experience.synthetic_data_experiment(
        SMALL_WORLD_MODEL, real_amounts=(4,), n_imagined=4, n_test=4, horizon=h), horizon=True, run_good=False),
    "oracle.oracle_positions": Case(lambda f, h: oracle.oracle_positions(VIDEOS.positions[:, :10], h, CANONICAL),
                                    horizon=True),
    "oracle.naive_oracle_positions": Case(lambda f, h: oracle.naive_oracle_positions(VIDEOS.positions[:, :10], h, CANONICAL),
                                          horizon=True),
}
# oracle_positions takes true positions, not frames: only its horizon is swept
HORIZON_ONLY = {"oracle.oracle_positions", "oracle.naive_oracle_positions", "planning.cem_plan",
                "planning.random_shooting_plan", "imagined_experience.synthetic_data_experiment"}


def _with(frames, value):
    out = frames.copy()
    out[0, :, 16, 16] = value  # one pixel of every frame of the first sequence
    return out


GOOD = VIDEOS.frames
# name -> (bad frames, a pattern the message must contain: the fix, or what is wrong)
BAD_FRAMES = {
    "uint8 0-255": ((GOOD * 255).astype(np.uint8), "divide by 255"),
    "float 0-255": (GOOD * 255, "divide by 255"),
    "NaN pixel": (_with(GOOD, np.nan), "finite, found NaN"),
    "inf pixel": (_with(GOOD, np.inf), "finite, found inf"),
    "negative": (GOOD - 0.5, r"clip them with np.clip\(frames, 0, 1\)"),
    "empty batch": (GOOD[:0], "empty"),
    "wrong size": (GOOD[..., :16, :16], "must be 32 x 32"),
}
HORIZON = 3


@pytest.mark.parametrize("bad", list(BAD_FRAMES))
@pytest.mark.parametrize("name", [n for n in CASES if n not in HORIZON_ONLY])
def test_bad_frames_are_refused_with_the_fix(name, bad):
    case = CASES[name]
    frames, message = BAD_FRAMES[bad]
    if bad == "wrong size" and not case.sized:
        pytest.skip("this function takes frames of any size")
    if bad == "negative" and case.model_output:
        pytest.skip("a model's frames are scored as they are, a little outside [0, 1] included")
    if bad == "empty batch" and name.startswith(("plotting", "animation", "evaluation.side_by_side")):
        frames = GOOD[:, :0]  # these take one video (T, H, W): no frame at all
    with pytest.raises(ValueError, match=message):
        case.call(frames, HORIZON)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.horizon])
@pytest.mark.parametrize("horizon", [0, -2, 2.5, True])
def test_bad_horizons_are_refused(name, horizon):
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        CASES[name].call(GOOD, horizon)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.run_good])
def test_good_input_passes(name):
    CASES[name].call(GOOD, HORIZON)


# ---- the enumeration: no public function that takes frames or a horizon is skipped silently --------------

FRAME_PARAMS = {"frames", "context", "clips", "clip", "videos", "video", "pred_frames", "true_frames", "marked",
                "original", "real", "generated", "horizon", "targets"}
OWNER = "validated by its owner"
OWNED_MODULES = ("training", "registry", "train", "scaling")
TRAINING = ("runs every training step on batches the recipe made from validated data; frames are checked where "
            "they enter (predict, as_predictor, fit)")
EXEMPT = {
    "detection.ClipClassifier.forward": TRAINING,
    "objects.ObjectModel.heatmap": TRAINING,
    "objects.ObjectModel.track": TRAINING,
    "objects.ObjectModel.imagine": "takes states (p, v), not frames; horizon from ObjectModel.predict",
    "objects.render_loss": TRAINING,
    "objects.dynamics_loss": TRAINING,
    "next_frame.ConvPredictor.forward": TRAINING,
    "next_frame.rollout_loss": TRAINING,
    "world_model.WorldModel.encode": TRAINING,
    "world_model.frame_loss": TRAINING,
    "world_model.rollout_loss": TRAINING,
    "video_autoencoder.VideoAutoencoder.unfold_keypoints": "called by VideoAutoencoder.encode (checked) and by the "
                                                           "recipe on the simulator's clips",
    "video_generation.caption_parts": "takes BallVideos with true states, not frames",
    "video_generation_training.train_autoencoder": "takes the simulator's BallVideos (training_clips)",
    "video_generation_training.train_denoiser": "takes the simulator's BallVideos (training_clips)",
    "testbed.real_clips": "slices the simulator's BallVideos (real_videos)",
    "probe.fit_linear_probe": "`targets` are regression targets (any finite numbers), checked by probe._as_2d",
    "probe.r2_score": "`targets` are regression targets (any finite numbers), checked by probe._as_2d",
    "bigram.NeuralBigram.forward": "`targets` are token ids",
    "transformer.GPT.forward": "`targets` are token ids",
    "planning.objective": "`targets` are the planner's goals, points or embeddings (chapter 11); run_mpc checks the task's",
    "world_model_training.window_batches": "draws windows from the simulator's pool inside the training loop",
    "dreamer.ActorCritic.features": "takes latent states and goals inside imagination (policy_pushes checks frames)",
    "dreamer.ActorCritic.act": "takes latent states and goals inside imagination (policy_pushes checks frames)",
    "dreamer.ActorCritic.value_of": "takes latent states and goals inside imagination (policy_pushes checks frames)",
    "planning.region_of": "swept by test_bad_targets_are_refused",
    "jepa.goal_embeddings": "swept by test_bad_targets_are_refused",
    "jepa.fit_position_readout": "takes the simulator's BallVideos (make_split), with true positions",
    "jepa.JEPA.encode": TRAINING,
    "laws.read_tracks": "frames checked by check_frames; swept with multi-ball clips in tests/test_track_generation.py",
    "laws.multiball_violations": "frames checked by check_frames; swept with multi-ball clips in "
                                 "tests/test_track_generation.py (0-255 frames, tracks of the wrong length)",
    "track_generation.real_source": "takes the simulator's MultiBallClips, with true tracks",
    "track_generation.roundtrip_source": "takes the simulator's MultiBallClips, with true tracks",
    "track_generation.denoised_source": "takes the simulator's MultiBallClips, with true tracks; its noise level is swept "
                                        "in tests/test_track_generation.py",
    "track_generation.object_model_source": "takes the simulator's MultiBallClips; the object model checks its frames",
    "latent_actions.LatentActionModel.ink_centres": "called by propose (checked) and inside training",
    "latent_actions.latent_action_loss": TRAINING,
    "latent_actions_training.transition_labels": "takes the simulator's BallVideos (make_split), with true pushes",
    "latent_actions_training.wall_bounces": "takes the simulator's BallVideos (make_split), with true pushes",
    "latent_actions_training.read_codes": "takes the simulator's BallVideos; infer_codes checks their frames",
    "latent_actions_training.attach_mapping": "takes the simulator's BallVideos; infer_codes checks their frames",
    "latent_actions_training.controllability": "takes the simulator's BallVideos; play checks their frames",
    "latent_actions_training.clear_starts": "takes the simulator's BallVideos, with true positions and velocities",
    "jepa.JEPA.encode_target": TRAINING,
    "jepa.prediction_loss": TRAINING,
    "dreamer.imagine": TRAINING,
    "dreamer.actor_critic_loss": TRAINING,
    "dreamer_training.latent_starts": TRAINING,
    "dreamer_training.episode_states": "takes the simulator's episodes (run_policy's), not frames",
    "model_free.GaussianPolicy.mean": "takes the simulator's states (p, v) and goals inside training, not frames",
}


def _public_callables():
    """'module.function' and 'module.Class.method' -> signature parameters, for every public callable defined
    in a module of the package (the grading package aside)."""
    out = {}
    for info in pkgutil.iter_modules(worldmodels.__path__):
        if info.ispkg:
            continue
        module = importlib.import_module(f"worldmodels.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                out[f"{info.name}.{name}"] = inspect.signature(obj).parameters
            elif inspect.isclass(obj):
                for attr, fn in vars(obj).items():
                    if not attr.startswith("_") and inspect.isfunction(fn):
                        out[f"{info.name}.{name}.{attr}"] = inspect.signature(fn).parameters
    return out


def test_no_public_function_is_skipped():
    """Every public callable with a frames / context / clips / horizon / targets parameter is swept (CASES)
    or exempt with a reason (EXEMPT, or a module whose owner validates it: OWNED_MODULES). A factory of
    harness predictors (`as_predictor`) is swept too: its predictor takes the context."""
    missing = []
    for name, params in _public_callables().items():
        module = name.split(".")[0]
        takes = FRAME_PARAMS & set(params) or name.endswith(".as_predictor")
        if not takes or name in CASES or name in EXEMPT or module.startswith(OWNED_MODULES) or name.startswith("validation."):
            continue
        missing.append(f"{name}({', '.join(params)})")
    assert not missing, ("public functions that take frames or a horizon but are not in the sweep: add each to "
                         "CASES in tests/test_bad_input.py (or to EXEMPT with the reason):\n" + "\n".join(missing))


def test_exemptions_name_existing_functions():
    """A stale exemption (the function was renamed or removed) would hide nothing but mislead: keep the list true."""
    names = set(_public_callables())
    assert not [n for n in list(EXEMPT) + list(CASES) if n not in names and "." in n]


# ---- the helper itself ------------------------------------------------------------------------------------


def test_check_frames_keeps_good_frames_and_their_type():
    frames = check_frames(GOOD, size=32, ndim=4)
    assert frames.dtype == np.float32 and np.shares_memory(frames, GOOD)
    assert check_frames(GOOD.astype(np.float64)).dtype == np.float64
    tensor = check_frames(GOOD, dtype=np.float32, tensor=True)
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32


def test_a_models_frames_a_little_outside_the_range_are_scored():
    """A linear model's frames may stray outside [0, 1]: the harness scores them (0-255 data is still refused)."""
    stray = lambda context, actions, horizon: evaluation.copy_last(context, actions, horizon) * 1.2 - 0.1  # noqa: E731
    reports = evaluation.evaluate({"stray": stray}, VIDEOS, context=10, horizon=5, baselines=False)
    assert np.isfinite(reports["stray"].error_px).all()
    with pytest.raises(ValueError, match="divide by 255"):
        evaluation.evaluate({"0-255": lambda c, a, h: 255 * evaluation.copy_last(c, a, h)}, VIDEOS, 10, 5, baselines=False)


def test_prompts_and_sampling_steps_are_checked():
    from worldmodels import captions, diffusion

    dit = diffusion.DiT(diffusion.DiTConfig(width=8, heads=2, depth=1))
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        diffusion.sample(dit, captions.tokenize(["a ball bouncing"]), n_steps=0)
    with pytest.raises(ValueError, match="at least one prompt"):
        diffusion.sample(dit, captions.tokenize([]), n_steps=2)
    with pytest.raises(ValueError, match="non-empty list of captions"):
        video_generation.Generator(dit_config=dit.config).generate([])
    with pytest.raises(ValueError, match="one prompt"):
        video_generation.prompt_adherence(GOOD[:, :16], ["a ball bouncing"])


BAD_TARGETS = {"NaN": ([[np.nan, 5.0], [5.0, 5.0]], "finite"), "outside the box": ([[40.0, 5.0], [5.0, 5.0]],
               r"inside the box \[0, 32\]"), "empty": (np.zeros((0, 2)), "empty")}


@pytest.mark.parametrize("bad", list(BAD_TARGETS))
@pytest.mark.parametrize("call", [
    lambda s: planning.run_mpc(TASK, s, planning.simulator_model(TASK.world), config=TINY_PLANNER),
    lambda s: imagined_experience.policy_return(imagined_experience.CANDIDATE_POLICIES[1], TASK, s),
    lambda s: planning.region_of(s.targets, TASK.world.size),
    lambda s: jepa.goal_embeddings(JEPA_MODEL, s.targets, TASK.world),
], ids=["run_mpc", "policy_return", "region_of", "goal_embeddings"])
def test_bad_targets_are_refused(call, bad):
    targets, message = BAD_TARGETS[bad]
    with pytest.raises(ValueError, match=message):
        call(_starts(targets=targets))


def test_check_horizon_and_points():
    assert check_horizon(np.int64(4)) == 4
    with pytest.raises(ValueError, match="integer >= 1"):
        check_horizon(0)
    assert check_points([[0.0, 32.0]], 32).shape == (1, 2)
    for bad, message in (([[np.nan, 3.0]], "finite"), ([[40.0, 3.0]], r"inside the box \[0, 32\]"),
                         (np.zeros((0, 2)), "empty")):
        with pytest.raises(ValueError, match=message):
            check_points(bad, 32)


def test_an_all_black_context_gets_no_ball_drawn_into_it():
    black = np.zeros_like(GOOD[:, :10])
    for predictor in (objects.as_predictor(OBJECT_MODEL), testbed.noisy_simulator(0.0)):
        with pytest.raises(ValueError, match="shows no ball"):
            predictor(black, None, 3)
    for call in (lambda: OBJECT_MODEL.predict(black, 3), lambda: objects.count_balls(black, OBJECT_MODEL)):
        with pytest.raises(ValueError, match="shows no ball"):
            call()


def test_planning_regions_and_fine_tune_arguments_are_checked():
    from worldmodels import world_model_training
    from worldmodels.physics import WorldConfig

    with pytest.raises(ValueError, match="region must be"):
        planning.make_starts(TASK, 2, seed=0, region="edge")
    with pytest.raises(ValueError, match="one ball"):
        world_model_training.planning_pool(WorldConfig(n_balls=2), world_model_training.PLANNING_RECIPE)
    with pytest.raises(ValueError, match="must equal the model's size"):
        world_model_training.finetune_for_planning(SMALL_WORLD_MODEL, world_model_training.PLANNING_RECIPE,
                                                   WorldConfig(size=48))
