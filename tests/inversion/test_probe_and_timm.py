"""Bad models are refused in one line before optimising; timm models (224 px) invert with the same PII preset."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from genlens.errors import GenlensError
from genlens.inversion.api import invert
from genlens.inversion.probe import check_invertible
from genlens.models.handle import ModelHandle


def _handle(model: nn.Module, classes: int = 3) -> ModelHandle:
    return ModelHandle(model=model, name="toy", mean=(0.5,), std=(0.5,), input_size=(1, 8, 8),
                       class_names=tuple(f"c{i}" for i in range(classes)))


class Linear(nn.Module):
    def __init__(self, out: int = 3, wrap=None) -> None:
        super().__init__()
        self.fc = nn.Linear(64, out)
        self.wrap = wrap

    def forward(self, x):
        y = self.fc(x.flatten(1))
        return self.wrap(y) if self.wrap else y


class NoGrad(Linear):
    def forward(self, x):
        with torch.no_grad():
            return super().forward(x)


@pytest.mark.parametrize("model, words", [
    (NoGrad(), "not differentiable"),
    (Linear(wrap=lambda y: y.argmax(1)), "remove the argmax"),
    (Linear(wrap=lambda y: {"logits": y}), "not a logits tensor"),
    (Linear(out=5), "not logits (B, 3)"),
    (Linear(wrap=lambda y: y.detach()), "not differentiable"),
])
def test_bad_models_refused_in_one_line(model, words):
    with pytest.raises(GenlensError) as e:
        invert(_handle(model), [0], steps_scale=0.01)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_good_model_passes_probe():
    check_invertible(_handle(Linear()))


def test_timm_handle_metadata_and_spec_errors(tmp_path):
    from genlens.models.load import load_model

    timm_mod = pytest.importorskip("timm")
    from genlens.models.external import load_timm

    h = load_timm("test_resnet", input_size=224)
    assert h.input_size == (3, 224, 224) and h.num_classes == 1000 and h.name == "timm:test_resnet"
    assert "golden retriever" in h.class_names[207]
    with pytest.raises(GenlensError, match="not found"):
        load_model(f"timm:test_resnet:{tmp_path / 'missing.safetensors'}")
    with pytest.raises(GenlensError, match="timm has no model"):
        load_model("timm:no_such_net_xyz:w.safetensors")
    bad = tmp_path / "w.pkl"
    bad.write_bytes(b"x")
    with pytest.raises(GenlensError, match="not a weights file"):
        load_model(f"timm:test_resnet:{bad}")
    # a state dict saved by torch.save loads with weights_only and gives the same logits
    m = timm_mod.create_model("test_resnet")
    torch.save({"state_dict": m.state_dict()}, tmp_path / "w.pth")
    h2 = load_model(f"timm:test_resnet:{tmp_path / 'w.pth'}")
    x = torch.rand(1, 3, 160, 160)
    assert torch.allclose(h2.model(x), m.eval()(x), atol=1e-5)


def test_pii_same_preset_on_timm_at_224():
    pytest.importorskip("timm")
    from genlens.models.external import load_timm

    torch.manual_seed(0)
    h = load_timm("test_resnet", input_size=224)
    seen = []
    images = invert(h, [207, 1], method="pii", steps_scale=0.02, seed=0, callback=lambda r: seen.append(r))
    assert images.shape == (2, 3, 224, 224)
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    assert seen and seen[-1]["step"] >= 3
