import numpy as np
import pytest

from worldmodels import stats


def test_perfect_detector_has_auc_one_and_reversed_zero():
    real, gen = np.arange(10.0), np.arange(10.0) + 100
    assert stats.auc(real, gen) == 1.0
    assert stats.auc(gen, real) == 0.0
    assert stats.bootstrap_auc(real, gen, n_boot=50) == (1.0, 1.0)


def test_random_detector_has_auc_near_half_on_a_large_sample():
    rng = np.random.default_rng(0)
    value = stats.auc(rng.normal(size=5000), rng.normal(size=5000))
    assert abs(value - 0.5) < 0.02


def test_auc_counts_ties_half_and_matches_pairwise_definition():
    assert stats.auc([1.0, 1.0], [1.0, 2.0]) == 0.75
    rng = np.random.default_rng(1)
    real, gen = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    pairwise = np.mean((gen[:, None] > real[None]) + 0.5 * (gen[:, None] == real[None]))
    assert stats.auc(real, gen) == pytest.approx(pairwise)


def test_roc_curve_runs_from_origin_to_one_and_its_area_is_the_auc():
    rng = np.random.default_rng(2)
    real, gen = rng.normal(size=200), rng.normal(1.0, 1.0, size=150)
    fpr, tpr = stats.roc_curve(real, gen)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(stats.auc(real, gen))


def test_bootstrap_interval_contains_the_auc():
    rng = np.random.default_rng(3)
    real, gen = rng.normal(size=300), rng.normal(0.5, 1.0, size=300)
    lo, hi = stats.bootstrap_auc(real, gen, n_boot=200)
    assert lo < stats.auc(real, gen) < hi and hi - lo < 0.2


def test_threshold_at_fpr_flags_at_most_that_fraction():
    real = np.arange(100.0)
    t = stats.threshold_at_fpr(real, 0.05)
    assert np.mean(real > t) <= 0.05
    assert stats.tpr_at_fpr(real, real + 1000, 0.01) == 1.0


@pytest.mark.parametrize("bad", [([], [1.0]), ([1.0], []), ([np.nan], [1.0])])
def test_auc_rejects_empty_or_nan(bad):
    with pytest.raises(ValueError):
        stats.auc(*bad)


def test_wilson_interval_and_spearman_known_values():
    lo, hi = stats.wilson_interval(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert stats.wilson_interval(10, 10)[1] == 1.0 and stats.wilson_interval(0, 10)[0] == 0.0
    assert stats.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert stats.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert stats.spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_interval(11, 10)
    with pytest.raises(ValueError, match="1-D"):
        stats.spearman([1.0], [2.0])


def test_ranks_share_ties_and_paired_gap_is_the_mean_difference():
    assert stats.ranks([5.0, 1.0, 5.0, 3.0]).tolist() == [2.5, 0.0, 2.5, 1.0]
    mean, lo, hi = stats.paired_gap(np.array([1, 1, 0, 1]), np.array([0, 1, 0, 0]))
    assert mean == 0.5 and lo < 0.5 < hi
    assert hi - mean == pytest.approx(1.96 * np.std([1, 0, 0, 1], ddof=1) / 2)
    assert np.isnan(stats.paired_gap([1.0], [0.0])[1])
    with pytest.raises(ValueError, match="1-D"):
        stats.paired_gap([1.0, 2.0], [1.0])
