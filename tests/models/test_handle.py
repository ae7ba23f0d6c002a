"""ModelHandle: normalisation, prediction batches, classes and layers."""
from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.models.zoo import get_spec
from genlens.models.zoo.specs import build
from genlens.models.zoo.train import make_handle


@pytest.fixture(scope="module")
def handle():
    torch.manual_seed(0)
    return make_handle(get_spec("fmnist-mixer"), build("fmnist-mixer").eval())


def test_normalize_uses_the_handle_statistics(handle):
    x = torch.full((1, 1, 28, 28), 0.2860)
    assert float(handle.normalize(x).abs().max()) < 1e-6
    assert handle.normalize(torch.rand(2, 1, 56, 56)).shape == (2, 1, 28, 28)  # resized


def test_wrong_channels_is_one_line(handle):
    with pytest.raises(GenlensError, match=r"expects images shaped \(B, 1, 28, 28\); got \(2, 3, 28, 28\)"):
        handle(torch.rand(2, 3, 28, 28))


def test_predict_batches_match_and_restore_mode(handle):
    x = torch.rand(7, 1, 28, 28)
    handle.model.train()
    try:
        a = handle.predict(x, batch_size=3)
        assert handle.model.training  # eval mode was temporary
    finally:
        handle.model.eval()
    b = handle.predict(x, batch_size=100)
    assert a.shape == (7, 10)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert handle.predict(x[:0]).shape == (0, 10)


def test_classes_and_layers(handle):
    assert handle.class_index("bag") == 8
    with pytest.raises(GenlensError, match="class index 12 is out of range"):
        handle.class_index(12)
    assert "blocks.3" in handle.named_layers()
    assert handle.layer("blocks.3") is handle.model.blocks[3]
    with pytest.raises(GenlensError, match="has no layer 'blocks.99'.*e.g. blocks"):
        handle.layer("blocks.99")


def test_mean_std_must_match_channels():
    from genlens.models.handle import ModelHandle

    with pytest.raises(ValueError, match="mean/std"):
        ModelHandle(model=torch.nn.Identity(), name="x", mean=(0.5,), std=(0.5,), input_size=(3, 8, 8),
                    class_names=("a",))
