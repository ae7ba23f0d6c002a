"""What one sweep point trains: the swept value lands in the zoo recipe's field (a crop strength, or the weight
decay itself), and the paired first-to-last change is the mean of the per-seed differences."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from genlens.audit.sweep import SweepConfig, SweepResult, train_point


@pytest.mark.parametrize("config, want", [
    (SweepConfig(aug="random-crop", weight_decay=0.01), {"random_crop": 0.2, "weight_decay": 0.01}),
    (SweepConfig(aug="weight-decay", strengths=(0.0, 0.2)), {"random_crop": 0.0, "weight_decay": 0.2}),
])
def test_the_swept_value_sets_the_recipe_field(config, want, small_splits, make_tiny, monkeypatch):
    import genlens.models.zoo.train as zt

    seen = {}

    def fake(name, train, *, device, config, limit_batches=None):
        seen.update(random_crop=config.random_crop, weight_decay=config.weight_decay, seed=config.seed)
        return SimpleNamespace(handle=make_tiny())

    monkeypatch.setattr(zt, "train_zoo_model", fake)
    train, test = small_splits
    row = train_point(train, test, config, strength=0.2, seed=1, device=torch.device("cpu"))
    assert seen == {**want, "seed": 1}
    assert row["strength"] == 0.2 and len(row["per_class"]) == 10


def test_change_is_paired_by_seed():
    config = SweepConfig(strengths=(0.0, 0.3), seeds=(0, 1, 2))
    acc = {(0.0, 0): 0.9, (0.0, 1): 0.8, (0.0, 2): 0.7, (0.3, 0): 0.8, (0.3, 1): 0.7, (0.3, 2): 0.6}
    runs = [{"strength": s, "seed": seed, "per_class": [a, 0.5]} for (s, seed), a in acc.items()]
    change = SweepResult(config=config, class_names=("a", "b"), runs=runs, cpu_seconds=0.0).change()
    a = change["per_class"]["a"]
    # every seed loses exactly 0.1: zero spread, so the interval collapses onto the mean and lies below 0
    assert a["mean_change"] == pytest.approx(-0.1) and a["ci"] == pytest.approx([-0.1, -0.1])
    assert change["losing"] == ["a"] and change["gaining"] == [] and change["seeds"] == [0, 1, 2]
