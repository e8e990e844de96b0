import numpy as np
import pytest
import torch

from worldmodels.repro import seed_everything


def test_same_seed_same_numbers():
    rng = seed_everything(3)
    first = (rng.random(3), np.random.rand(3), torch.rand(3))
    rng = seed_everything(3)
    second = (rng.random(3), np.random.rand(3), torch.rand(3))
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])
    assert torch.equal(first[2], second[2])


def test_different_seeds_differ():
    assert not np.array_equal(seed_everything(1).random(3), seed_everything(2).random(3))


def test_threads_are_fixed():
    seed_everything(0, threads=1)
    assert torch.get_num_threads() == 1
    seed_everything(0)
    assert torch.get_num_threads() >= 1


def test_bad_thread_count():
    with pytest.raises(ValueError, match="threads"):
        seed_everything(0, threads=0)


def test_omp_num_threads_caps_the_thread_count(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    seed_everything(0)
    assert torch.get_num_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    seed_everything(0)
    assert torch.get_num_threads() == min(2, __import__("os").cpu_count())
