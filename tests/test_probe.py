import numpy as np
import pytest

from worldmodels.probe import fit_linear_probe, probe_r2, r2_score


def test_probe_recovers_an_exact_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    w = rng.normal(size=(5, 3))
    y = x @ w + np.array([1.0, -2.0, 0.5])
    probe = fit_linear_probe(x, y)
    assert np.allclose(probe.weights, w, atol=1e-4)
    assert np.allclose(probe.bias, [1.0, -2.0, 0.5], atol=1e-4)
    assert np.allclose(r2_score(probe.predict(x), y), 1.0)


def test_probe_finds_nothing_in_unrelated_features():
    rng = np.random.default_rng(1)
    r2 = probe_r2(rng.normal(size=(300, 4)), rng.normal(size=(300, 2)), rng.normal(size=(300, 4)), rng.normal(size=(300, 2)))
    assert r2.shape == (2,) and np.all(r2 < 0.1)


def test_probe_reads_a_nonlinear_quantity_only_partly():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(500, 1))
    r2 = probe_r2(x[:250], x[:250] ** 2, x[250:], x[250:] ** 2)
    assert r2[0] < 0.2  # x^2 is not linear in x on a symmetric range


def test_r2_of_the_mean_is_zero_and_one_d_targets_work():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(np.full(4, 2.5), y)[0] == pytest.approx(0.0)
    assert fit_linear_probe(y, 2 * y).predict(y)[:, 0] == pytest.approx(2 * y, rel=1e-4)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same number of rows"):
        fit_linear_probe(np.zeros((3, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        fit_linear_probe(np.array([[np.nan], [1.0]]), np.zeros(2))
    with pytest.raises(ValueError, match="ridge"):
        fit_linear_probe(np.zeros((3, 2)), np.zeros(3), ridge=-1)
    with pytest.raises(ValueError, match="same shape"):
        r2_score(np.zeros((3, 2)), np.zeros((3, 1)))
