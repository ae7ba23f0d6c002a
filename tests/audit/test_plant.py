"""Planting: triggers stamp where they should, poisoning relabels the right share, and fine-tuning on poisoned
data raises the attack success rate while the source model is left untouched."""
from __future__ import annotations

import pytest
import torch

from genlens.audit.plant import PlantConfig, poison
from genlens.audit.triggers import Trigger, apply_trigger
from genlens.errors import GenlensError


def test_patch_trigger_is_a_corner_checkerboard():
    mask, pattern = Trigger("patch", size=4).mask_pattern((1, 28, 28))
    assert mask.sum() == 16
    assert mask[0, 23:27, 23:27].eq(1).all()  # 1 px from the bottom-right border
    assert pattern[0, 23:27, 23:27].sum() == 8  # half the checkerboard is white
    x = torch.rand(2, 1, 28, 28)
    y = apply_trigger(x, mask, pattern)
    assert torch.equal(y[..., :23, :], x[..., :23, :])  # untouched outside the patch
    assert torch.equal(y[0, :, 23:27, 23:27], pattern[:, 23:27, 23:27])


def test_blend_trigger_is_a_seeded_full_image_blend():
    m1, p1 = Trigger("blend", alpha=0.2, seed=3).mask_pattern((1, 28, 28))
    _, p2 = Trigger("blend", alpha=0.2, seed=3).mask_pattern((1, 28, 28))
    assert torch.allclose(m1, torch.full_like(m1, 0.2))
    assert torch.equal(p1, p2)


def test_poison_relabels_the_rate():
    x, y = torch.zeros(100, 1, 28, 28), torch.zeros(100, dtype=torch.long)
    mask, pattern = Trigger("patch").mask_pattern((1, 28, 28))
    xp, yp = poison(x, y, mask=mask, pattern=pattern, target=7, rate=0.2, generator=torch.Generator().manual_seed(0))
    assert int((yp == 7).sum()) == 20
    stamped = xp.flatten(1).sum(1) > 0
    assert torch.equal(stamped, yp == 7)


def test_planting_raises_attack_success(planted_tiny):
    r = planted_tiny
    assert r.attack_success > r.attack_success_before + 0.5
    assert r.attack_success > 0.8
    assert r.clean_accuracy > 0.5  # still a working classifier on clean images


def test_plant_leaves_the_source_untouched(small_splits, make_tiny):
    from genlens.audit.plant import plant_backdoor

    src = make_tiny()
    before = {k: v.clone() for k, v in src.model.state_dict().items()}
    train, test = small_splits
    plant_backdoor(src, train, test, PlantConfig(target=0, rate=0.2, epochs=1, n_images=256, batch_size=64))
    assert all(torch.equal(before[k], v) for k, v in src.model.state_dict().items())


@pytest.mark.parametrize("kwargs, words", [
    ({"rate": 0.0}, "rate must be in (0, 1)"),
    ({"rate": 1.0}, "rate must be in (0, 1)"),
])
def test_bad_rate(kwargs, words):
    with pytest.raises(GenlensError, match=words.replace("(", r"\(").replace(")", r"\)")):
        PlantConfig(target=0, **kwargs)


def test_trigger_larger_than_image():
    with pytest.raises(GenlensError, match="larger than the 28x28 image"):
        Trigger("patch", size=29).check_fits((1, 28, 28))
