"""The shipped CNN's manifest accuracy was measured on a GPU in fp32 before the fp16 save; re-measured here on
the CPU from the shipped file over the whole test split, it must give the same number (to 0.1 point: a few
borderline images may flip). The other zoo models take minutes on CPU; `genlens zoo eval NAME` does the same."""
from __future__ import annotations

import pytest

from genlens.data.fashion_mnist import load_fashion_mnist
from genlens.models.load import load_model
from genlens.models.zoo.evaluate import evaluate_classifier
from genlens.utils.io import read_json


def test_shipped_cnn_accuracy_reproduces_on_cpu():
    handle = load_model("fmnist-cnn", device="cpu")
    test = load_fashion_mnist("test")
    report = evaluate_classifier(handle, test)
    manifest = read_json(handle.meta["folder"] + "/manifest.json")
    assert len(test) == manifest["metrics"]["test_images"] == 10000
    assert report.top1 == pytest.approx(manifest["metrics"]["top1"], abs=1e-3)
