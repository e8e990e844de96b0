"""Chapter 9's second edition: multi-ball clips with captions, the laws of several balls, the track generator."""

import json

import numpy as np
import pytest
import torch

from worldmodels import laws, multiball
from worldmodels import track_generation as tg
from worldmodels import track_generation_training as tgt
from worldmodels.registry import CHECKPOINT_DIR


@pytest.fixture(scope="module")
def clips():
    return multiball.make_clips(96, "test", seed=0)


@pytest.fixture(scope="module")
def tiny():
    g, history = tgt.train_generator(tgt.presets()["tiny"], progress=False)
    return g, history


# ------------------------------------------------------------------------------------------------ data


def test_clips_are_seeded_sorted_and_captioned(clips):
    again = multiball.make_clips(96, "test", seed=0)
    assert np.array_equal(clips.positions, again.positions)
    assert clips.positions.shape[1:] == (multiball.N_FRAMES, multiball.MAX_BALLS, 2)
    counts = clips.present.sum(axis=1)
    assert set(counts.tolist()) <= {2, 3} and (clips.present[:, 0] & clips.present[:, 1]).all()
    x0 = np.where(clips.present, clips.positions[:, 0, :, 0], np.inf)
    assert (np.diff(x0, axis=1)[:, 0] >= 0).all()  # slot 0 is the left ball
    assert not multiball.is_held_out(clips.parts).any()
    texts = clips[:10].captions
    assert len(texts) == 10 and texts[3] == clips[3].captions[0]
    for parts, text in zip(clips.parts[:10], texts):
        assert [multiball.parse(text)[k] for k in multiball.PART_NAMES] == parts.tolist()
    assert multiball.parse("") == dict.fromkeys(multiball.PART_NAMES, -1)


def test_collisions_read_from_velocities():
    v = np.zeros((1, 3, 2, 2))
    v[0, :, 0] = [[1, 0], [-1, 0], [-1, 0]]  # a wall flip: no collision
    v[0, :, 1] = [[0, 1], [0, 1], [1, 0]]  # components exchanged: a collision in step 1 -> 2
    assert multiball.collisions(v, np.array([[True, True]])).tolist() == [[False, True]]


def test_draw_hides_absent_balls():
    p = np.full((1, 2, 3, 2), 16.0)
    frames = multiball.draw(p, np.array([[True, False, False]]))
    one = frames[0, 0].sum()
    assert np.isclose(frames[0, 1].sum(), one)
    frames = multiball.draw(p + np.array([0, 10, -10])[None, None, :, None], np.array([[True, True, True]]))
    assert np.isclose(frames[0, 0].sum(), 3 * one, rtol=0.05)


def test_tokens_round_trip(clips):
    for f in (1, 2, 4):
        tokens = tg.to_tokens(clips.positions, clips.present, f)
        assert tokens.shape == (len(clips), multiball.MAX_BALLS * multiball.N_FRAMES // f, 3 * f)
        tracks, presence = tg.from_tokens(tokens, multiball.N_FRAMES)
        on = clips.present[:, None].repeat(multiball.N_FRAMES, 1)
        assert np.array_equal(presence > 0, on)
        assert np.abs(tracks - clips.positions)[on].max() < 1e-4
    with pytest.raises(ValueError, match="divide"):
        tg.to_tokens(clips.positions, clips.present, 3)


@pytest.mark.parametrize("layout", [{"frames_per_token": 1, "balls_per_token": multiball.MAX_BALLS},
                                    {"frames_per_token": 4, "latent": "moves"},
                                    {"frames_per_token": 2, "balls_per_token": multiball.MAX_BALLS, "latent": "moves"}])
def test_other_token_layouts_round_trip(clips, layout):
    tokens = tg.to_tokens(clips.positions, clips.present, **layout)
    k, f = layout.get("balls_per_token", 1), layout["frames_per_token"]
    assert tokens.shape == (len(clips), multiball.MAX_BALLS // k * multiball.N_FRAMES // f, 3 * f * k)
    tracks, presence = tg.from_tokens(tokens, multiball.N_FRAMES, **layout)
    on = clips.present[:, None].repeat(multiball.N_FRAMES, 1)
    assert np.array_equal(presence > 0, on) and np.abs(tracks - clips.positions)[on].max() < 1e-4
    if layout.get("latent") == "moves":  # a ball's steps, not its positions, after the first frame
        grid = tg.latent_grid(clips.positions, clips.present, "moves")
        steps = np.diff(clips.positions[:, :, 0], axis=1) / tg.MOVE_SCALE
        assert np.allclose(grid[:, :2, 1:, 0, 0].permute(0, 2, 1).numpy(), steps, atol=1e-5)
    config = tg.dit_config(16, 1, 2, f, k)
    g = tg.TrackGenerator(config, f, balls_per_token=k, latent=layout.get("latent", "positions"))
    assert tg.build(tg.generator_config(g)).layout == g.layout
    batch = (tokens[:4], multiball.tokenize([""] * 4), torch.full((4,), 0.5), torch.zeros_like(tokens[:4]))
    assert torch.isfinite(tg.track_loss(g.dit, batch, **layout))


def test_token_layout_bad_input(clips):
    with pytest.raises(ValueError, match="balls_per_token"):
        tg.to_tokens(clips.positions, clips.present, 4, 2)
    with pytest.raises(ValueError, match="latent"):
        tg.to_tokens(clips.positions, clips.present, latent="speeds")
    with pytest.raises(ValueError, match="n_tokens"):
        tg.TrackGenerator(tg.dit_config(16, 1, 2), 1, balls_per_token=multiball.MAX_BALLS)
    with pytest.raises(ValueError, match="latent"):
        tgt.RecipeConfig(latent="speeds")


# ------------------------------------------------------------------------------------------------ laws


def test_real_clips_pass_their_own_laws(clips):
    v = tg.violations(tg.real_source(clips))
    assert set(v) == set(laws.MULTIBALL_LAWS)
    assert np.nanmax(v["free_flight"]) < 0.1  # read-back noise only
    assert np.nanmax(v["overlap"]) == 0 and np.nanmax(v["count"]) < 0.06
    assert laws.inside_box(clips.positions, clips.present).all()
    assert np.mean(np.nan_to_num(v["wall"]) < 1.0) > 0.9


def test_laws_catch_broken_tracks(clips):
    real = tg.violations(tg.real_source(clips))
    broken = clips.positions.copy()
    broken[:, 8:] += 2.0  # every ball jumps 2 px at frame 8
    jumped = tg.violations(tg.Clips(broken, tg.real_source(clips).present, multiball.draw(broken, clips.present)))
    assert np.nanmax(real["free_flight"]) < 0.1 and np.mean(jumped["free_flight"] > 1) > 0.2

    merged = clips.positions.copy()
    merged[:, :, 1] = merged[:, :, 0] + 1.0  # ball 1 sits on top of ball 0
    on = tg.real_source(clips).present
    over = tg.violations(tg.Clips(merged, on, multiball.draw(merged, on)))
    assert (over["overlap"] > 2).all()  # read back from the frames, two discs 1 px apart look like one blob

    vanish = on.copy()
    vanish[:, 8:, 0] = False  # ball 0 vanishes
    gone = tg.violations(tg.Clips(clips.positions, vanish, multiball.draw(clips.positions, vanish)))
    assert (gone["count"] > 0.8).all()
    outside = clips.positions.copy()
    outside[:, 5, 0, 0] = -2.0
    assert not laws.inside_box(outside, clips.present).any()


def test_pass_curve_and_tolerance_ratio():
    r = np.array([0.0, 0.1, 0.2, np.nan, 1.0])
    curve = laws.pass_curve(r, (0.05, 0.15, 2.0))
    assert curve == {0.05: 0.25, 0.15: 0.5, 2.0: 1.0}
    assert laws.tolerance_ratio(r, r) == 1.0
    assert laws.tolerance_ratio(10 * r, r) == pytest.approx(10.0)
    assert np.isnan(laws.passing_tolerance(np.array([np.nan, np.nan])))
    with pytest.raises(ValueError):
        laws.pass_curve(np.array([np.inf]))


def test_read_parts_of_real_clips_match_their_captions(clips):
    shown = tg.read_parts(tg.real_source(clips))
    agree = (shown == clips.parts).mean(axis=0)
    assert agree[0] == 1.0 and agree[1] > 0.95 and agree[2] > 0.95 and agree[3] > 0.85
    report = tg.law_report({"real": tg.violations(tg.real_source(clips))})
    assert report["real"]["free_flight"]["tolerance_ratio"] == 1.0
    assert report["real"]["count"]["strict"]["rate"] >= 0.98


# ------------------------------------------------------------------------------------------- generator


def test_tiny_generator_trains_and_generates(tiny):
    g, history = tiny
    assert len(history.train_loss) == tgt.presets()["tiny"].train.steps
    prompts = [multiball.caption(0, 1, 1, 1), ""]
    out = g.generate(prompts, seed=0)
    assert out.tracks.shape == (2, multiball.N_FRAMES, multiball.MAX_BALLS, 2)
    assert out.frames.shape == (2, multiball.N_FRAMES, 32, 32) and out.frames.dtype == np.float32
    assert np.array_equal(out.tracks, g.generate(prompts, seed=0).tracks)  # seeded
    assert set(tg.prompt_adherence(tg.generated_source(out), prompts)) == set(multiball.PART_NAMES)
    rebuilt = tg.build(tg.generator_config(g))
    rebuilt.load_state_dict(g.state_dict())
    assert np.array_equal(rebuilt.generate(prompts, seed=0).tracks, out.tracks)


@pytest.mark.parametrize("call, match", [
    (lambda g: g.generate(None), "non-empty list"),
    (lambda g: g.generate(3), "non-empty list"),
    (lambda g: g.generate("two balls"), "non-empty list"),
    (lambda g: g.generate([]), "non-empty list"),
    (lambda g: g.generate([3]), "string"),
    (lambda g: g.generate(["two purple balls"]), "vocabulary"),
    (lambda g: g.generate(["two balls"], n_steps=0), "n_steps"),
    (lambda g: g.generate(["two balls"], guidance=float("nan")), "guidance"),
    (lambda g: g.generate(["two balls"], guidance="3"), "guidance"),
])
def test_generate_bad_input(tiny, call, match):
    with pytest.raises(ValueError, match=match):
        call(tiny[0])


def test_denoised_source(tiny, clips):
    g = tiny[0]
    real = clips[:16]
    for t in (0.01, 0.5):
        noisy, denoised = tg.denoised_source(g, real, t, seed=0)
        assert noisy.tracks.shape == denoised.tracks.shape == real.positions.shape
        assert np.array_equal(noisy.present, tg.real_source(real).present)
        on = noisy.present
        error = np.abs(noisy.tracks - real.positions)[on]
        assert error.max() > 0 and error.std() == pytest.approx(t * tg.SCALE, rel=0.35)  # noise of level t, in px
    again = tg.denoised_source(g, real, 0.5, seed=0)[1]
    assert np.array_equal(again.tracks, denoised.tracks)  # seeded
    for bad in (0, 1.5, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="noise level"):
            tg.denoised_source(g, real, bad)


def test_adherence_and_laws_bad_input(tiny, clips):
    source = tg.real_source(clips[:4])
    with pytest.raises(ValueError, match="one prompt"):
        tg.prompt_adherence(source, ["two balls"])
    with pytest.raises(ValueError, match="one prompt"):
        tg.prompt_adherence(source, "two balls")
    with pytest.raises(ValueError, match="255"):
        laws.multiball_violations((source.frames * 255).astype(np.uint8), source.tracks, source.present)
    with pytest.raises(ValueError, match="tracks"):
        laws.multiball_violations(source.frames, source.tracks[:, :3], source.present)
    with pytest.raises(ValueError, match="present"):
        laws.read_tracks(source.frames, source.tracks, np.ones((4, 2), bool))
    with pytest.raises(ValueError, match="split"):
        multiball.make_clips(8, "holdout")
    with pytest.raises(ValueError):
        tgt.RecipeConfig(ema=1.0)


# ------------------------------------------------------------------------------------------ recorded runs


def test_recorded_reference_run():
    path = CHECKPOINT_DIR / "track_generation.pt"
    if not path.exists():
        pytest.skip("no recorded track generator")
    record = json.loads(path.with_suffix(".json").read_text())
    g = tgt.load_run(path)
    assert record["params"] == sum(p.numel() for p in g.parameters()) <= 2_000_000
    assert tgt.recipe_from_dict(record["recipe"]) == tgt.RecipeConfig()
    out = g.generate([multiball.caption(1, 0, 1, 1)] * 4, seed=0)
    assert np.isfinite(out.tracks).all()


@pytest.mark.slow
def test_prefix_run_reproduces():
    """Retrain the recorded prefix run (the reference recipe's first steps on fewer clips, about a minute on one
    thread) and compare its loss and its first generated track with the record."""
    record = json.loads((CHECKPOINT_DIR / "track_generation_prefix.json").read_text())
    recipe = tgt.presets()["prefix"]
    assert tgt.recipe_from_dict(record["recipe"]) == recipe
    torch.manual_seed(0)
    g, history = tgt.train_generator(recipe, progress=False)
    assert np.mean(history.train_loss[-10:]) == pytest.approx(record["final_loss"], rel=0.05)
    track = g.generate([multiball.caption(0, 1, 1, 1), ""], seed=0).tracks[0, :, 0]
    assert np.abs(track - np.array(record["first_track"])).max() < 1.0  # px


def test_scale_record_is_complete_and_consistent():
    """The scale study (bench/generation.py --scale-tracks): every setting of 3 clip counts x 2 widths at seed 0,
    all trained equally long with the reference recipe, each measured law by law on the test prompts."""
    path = CHECKPOINT_DIR / "track_generation_scale.json"
    if not path.exists():
        pytest.skip("no recorded scale study")
    record = json.loads(path.read_text())
    assert record["command"] == "python bench/generation.py --scale-tracks"
    assert record["split"] == "test" and record["guidance"] == 3.0
    rows = record["rows"]
    settings = {(r["clips"], r["width"]) for r in rows if r["seed"] == 0 and r["steps"] == record["steps"]}
    clips, widths = sorted({c for c, _ in settings}), sorted({w for _, w in settings})
    assert len(clips) >= 3 and len(widths) >= 2 and settings == {(c, w) for c in clips for w in widths}
    assert len({(r["clips"], r["width"], r["seed"], r["steps"]) for r in rows}) == len(rows), "no setting recorded twice"
    longer = [r for r in rows if r["steps"] != record["steps"]]
    assert [(r["clips"], r["width"], r["seed"], r["steps"]) for r in longer] == [(16000, 96, 0, 3 * record["steps"])]
    base = tgt.RecipeConfig()
    for r in rows:
        assert r["steps"] >= record["steps"] >= 1000
        assert r["n_clips_measured"] == 256
        config = tg.dit_config(r["width"], base.depth, base.heads, base.frames_per_token, base.balls_per_token)
        g = tg.TrackGenerator(config, base.frames_per_token, base.guidance, base.sample_steps, base.precondition,
                              base.balls_per_token, base.latent)
        assert r["params"] == sum(p.numel() for p in g.parameters())
        assert set(r["tolerance_ratio"]) == set(r["strict_pass"]) == set(laws.MULTIBALL_LAWS)
        assert all(v is None or v > 0 for v in r["tolerance_ratio"].values())
        assert 0 <= r["inside_box"] <= 1 and 0 <= r["speed_outside"] <= 1
        assert set(r["adherence"]) == {"count", "direction", "speed", "collide"}
        assert all(0 <= v <= 1 for v in r["adherence"].values())
        assert r["train_seconds"] > 0 and np.isfinite(r["final_loss"])
