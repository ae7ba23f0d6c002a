"""Neural Cleanse: the anomaly index against a hand computation (golden), and the planted target found."""
from __future__ import annotations

import math

import torch

from genlens.audit.neural_cleanse import CleanseConfig, anomaly_index, flag_classes, neural_cleanse


def test_anomaly_index_matches_hand_computation():
    norms = torch.tensor([10.0, 12.0, 11.0, 2.0, 13.0, 9.0, 12.0, 10.0, 11.0, 30.0])
    # sorted: 2 9 10 10 11 11 12 12 13 30 -> median (11 + 11) / 2 = 11
    # |x - 11|: 1 1 0 9 2 2 1 1 0 19 -> sorted 0 0 1 1 1 1 2 2 9 19 -> MAD = (1 + 1) / 2 = 1
    idx = anomaly_index(norms)
    assert math.isclose(float(idx[3]), 9 / 1.4826, rel_tol=1e-9)
    assert math.isclose(float(idx[9]), 19 / 1.4826, rel_tol=1e-9)
    assert float(idx[2]) == 0.0
    # only small outliers are flagged: class 3 (below the median), not class 9 (above)
    assert flag_classes(norms) == [3]


def test_even_count_median_is_the_mean_of_the_middle_pair():
    # torch.median would take 2 as the median here; the usual median is 2.5 -> MAD 1 -> index 1.5 / 1.4826
    idx = anomaly_index(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert math.isclose(float(idx[0]), 1.5 / 1.4826, rel_tol=1e-9)


def test_no_spread_flags_nothing_equal():
    assert flag_classes(torch.full((10,), 5.0)) == []


def test_log_scale_is_the_index_of_log_norms():
    norms = torch.tensor([1.0, 10.0, 10.0, 100.0, 1000.0])
    # log10 ratios: 0 1 1 2 3 -> median 1 (x ln 10), |dev| 1 0 0 1 2 -> MAD 1 (x ln 10)
    idx = anomaly_index(norms, "log")
    assert math.isclose(float(idx[0]), 1 / 1.4826, rel_tol=1e-9)
    assert math.isclose(float(idx[4]), 2 / 1.4826, rel_tol=1e-9)


def test_finds_the_planted_target(planted_tiny, small_splits):
    _, test = small_splits
    res = neural_cleanse(planted_tiny.handle, test.float_images(torch.arange(200)), CleanseConfig(steps=120, seed=0))
    assert res.masks.shape == (10, 1, 28, 28) and res.patterns.shape == (10, 1, 28, 28)
    assert int(res.norms.argmin()) == 3
    assert bool(res.reached[3])
    # the planted target has the most anomalous small mask; on the log scale it passes the threshold of 2
    small = res.norms < res.norms.median()
    assert int(torch.where(small, res.anomaly_l1, torch.zeros(10)).argmax()) == 3
    assert flag_classes(res.norms, reached=res.reached, scale="log") == [3]
    assert float(res.masks.min()) >= 0 and float(res.masks.max()) <= 1
