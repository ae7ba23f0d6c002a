import json

import pytest
import torch

from genlens.errors import GenlensError
from genlens.metrics import (
    HandleExtractor,
    compute_fid,
    compute_inception_score,
    compute_kid,
    feature_stats,
    fid_from_features,
    inception_score,
    kid_from_features,
)


def images(n: int, seed: int, *, bright: float = 0.0) -> torch.Tensor:
    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    return (x * (1 - bright) + bright).clamp(0, 1)


def test_results_match_feature_level_functions(tiny_handle) -> None:
    real, fake = images(40, 0), images(30, 1, bright=0.3)
    ext = HandleExtractor(tiny_handle)
    fr, ff = ext.features(real), ext.features(fake)

    fid = compute_fid(real, fake, extractor=tiny_handle)
    assert fid.value == pytest.approx(fid_from_features(fr, ff), rel=1e-9)
    assert (fid.metric, fid.extractor, fid.n_real, fid.n_fake) == ("fid", "tiny", 40, 30)

    kid = compute_kid(real, fake, extractor=ext, subsets=5, subset_size=20, seed=3)
    mean, std = kid_from_features(
        fr, ff, subsets=5, subset_size=20, generator=torch.Generator().manual_seed(3)
    )
    assert (kid.value, kid.std) == pytest.approx((mean, std), rel=1e-9)
    assert kid.value > 0 and kid.n_real == 40 and kid.n_fake == 30

    is_ = compute_inception_score(fake, extractor=ext, splits=3)
    assert (is_.value, is_.std) == pytest.approx(inception_score(logits=ext.logits(fake), splits=3), rel=1e-9)
    assert is_.n_fake == 30 and is_.n_real is None

    out = json.loads(json.dumps(fid.to_dict()))
    assert out == {
        "metric": "fid",
        "value": fid.value,
        "extractor": "tiny",
        "n_fake": 30,
        "n_real": 40,
        "std": None,
    }


def test_cached_reference_stats_and_uint8(tiny_handle) -> None:
    real, fake = images(40, 0), images(30, 1)
    stats = feature_stats(real, extractor=tiny_handle)
    assert stats.extractor == "tiny" and stats.n == 40
    direct = compute_fid(real, fake, extractor=tiny_handle).value
    assert compute_fid(stats, fake, extractor=tiny_handle).value == pytest.approx(direct, rel=1e-9)
    as_uint8 = (real * 255).round().to(torch.uint8)
    assert compute_fid(as_uint8, real, extractor=tiny_handle).value < 1e-3


@pytest.mark.parametrize(
    ("real", "fake", "msg"),
    [
        (torch.rand(0, 1, 28, 28), torch.rand(5, 1, 28, 28), "real images has 0 images"),
        (torch.rand(5, 1, 28, 28), torch.rand(1, 1, 28, 28), "fake images has 1 images"),
        (torch.rand(5, 28, 28), torch.rand(5, 1, 28, 28), r"\(N, C, H, W\)"),
        (torch.rand(5, 1, 28, 28) * 2 - 1, torch.rand(5, 1, 28, 28), r"\(x \+ 1\) / 2"),
        (torch.rand(5, 2, 28, 28), torch.rand(5, 1, 28, 28), "2 channels"),
    ],
)
@pytest.mark.parametrize("fn", [compute_fid, compute_kid])
def test_bad_inputs_are_one_line(fn, tiny_handle, real, fake, msg) -> None:
    with pytest.raises(GenlensError, match=msg) as err:
        fn(real, fake, extractor=tiny_handle)
    assert "\n" not in str(err.value)


def test_inception_score_needs_two_images(tiny_handle) -> None:
    with pytest.raises(GenlensError, match="at least 2"):
        compute_inception_score(torch.rand(1, 1, 28, 28), extractor=tiny_handle)
