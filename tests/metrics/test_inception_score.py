import math

import pytest
import torch
from torchmetrics.image.inception import InceptionScore

from genlens.errors import GenlensError
from genlens.metrics import inception_score


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save all")
def test_matches_torchmetrics_on_same_logits(given_features: type) -> None:
    logits = 3 * torch.randn(103, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    tm = InceptionScore(feature=given_features(10), splits=10)  # normalize=False: logits pass through as is
    tm.update(logits)
    torch.manual_seed(7)  # torchmetrics shuffles with the global generator before splitting
    tm_mean, tm_std = tm.compute()
    mean, std = inception_score(logits=logits, splits=10, generator=torch.Generator().manual_seed(7))
    assert mean == pytest.approx(float(tm_mean), rel=1e-9)
    assert std == pytest.approx(float(tm_std), rel=1e-9)


def test_uniform_predictions_score_one() -> None:
    mean, std = inception_score(logits=torch.zeros(50, 10), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_confident_balanced_predictions_score_num_classes() -> None:
    labels = torch.arange(100) % 10  # every split of 10 holds each class once
    probs = torch.nn.functional.one_hot(labels, 10).double()
    mean, std = inception_score(probs=probs, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    big_logits = 1000.0 * probs  # saturated softmax must not give NaN
    assert inception_score(logits=big_logits, splits=10)[0] == pytest.approx(10.0, rel=1e-6)


def test_logits_and_probs_agree() -> None:
    logits = torch.randn(40, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a = inception_score(logits=logits, splits=4)
    b = inception_score(probs=logits.softmax(1), splits=4)
    assert a == pytest.approx(b, rel=1e-9)
    assert 1.0 < a[0] < 5.0 and math.isfinite(a[1])


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({}, "exactly one"),
        ({"logits": torch.zeros(4, 3), "probs": torch.zeros(4, 3)}, "exactly one"),
        ({"probs": torch.full((4, 3), 0.5)}, "summing to 1"),
        ({"logits": torch.zeros(1, 3)}, "at least 2"),
    ],
)
def test_bad_inputs(kw: dict, msg: str) -> None:
    with pytest.raises(GenlensError, match=msg):
        inception_score(**kw)
