"""scikit-learn digits: offline, deterministic train/test split, 8x8 uint8."""
from __future__ import annotations

import torch

from genlens.data import load_dataset
from genlens.data.digits import DIGIT_NAMES, load_digits


def test_splits_are_disjoint_and_complete():
    train, test = load_digits("train"), load_digits("test")
    assert len(train) + len(test) == 1797
    assert len(test) == 360  # every 5th image
    assert train.images.shape[1:] == (1, 8, 8) and train.images.dtype == torch.uint8
    assert int(train.images.max()) == 255
    assert train.class_names == DIGIT_NAMES == tuple("0123456789")
    assert set(test.labels.tolist()) == set(range(10))


def test_registry_and_determinism():
    a, b = load_dataset("digits", split="test"), load_digits("test")
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.name == "digits/test"
