"""genlens.wrap: any nn.Module becomes the handle every tool takes (inversion, CAM, units, dead units, judge, FID)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import genlens
from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle


@pytest.fixture(scope="module")
def resnet():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=10)
    return genlens.wrap(model, mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26), input_size=32,
                        class_names=[f"c{i}" for i in range(10)], name="resnet18-rand")


def tiny_sequential(channels: int = 1) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )


@pytest.fixture(scope="module")
def tiny():
    return genlens.wrap(tiny_sequential(), mean=0.5, std=0.5, input_size=(16, 16), channels=1, class_names=["a", "b", "c", "d"])


def test_wrap_returns_a_model_handle(resnet, tiny):
    assert isinstance(resnet, ModelHandle) and isinstance(tiny, ModelHandle)
    assert resnet.input_size == (3, 32, 32) and resnet.num_classes == 10 and resnet.class_index("c3") == 3
    assert tiny.input_size == (1, 16, 16) and tiny.mean == (0.5,) and tiny.std == (0.5,)
    assert resnet.features_layer == "fc" and tiny.features_layer == "7"
    assert resnet.meta["cam_layer"] == "layer4" and tiny.meta["cam_layer"] == "3"  # the last Conv2d
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(tiny(x), tiny.model((x - 0.5) / 0.5))


def test_class_names_from_count_or_forward():
    assert genlens.wrap(tiny_sequential(), input_size=16, channels=1).class_names == tuple(f"class_{i}" for i in range(4))
    assert genlens.wrap(tiny_sequential(3), input_size=(3, 16, 16), class_names=4).input_size == (3, 16, 16)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"input_size": 16, "channels": 1, "class_names": ["a"]}, "1 class names given but"),
    ({"input_size": 16, "channels": 3}, "fails on a (2, 3, 16, 16) input"),
    ({"input_size": (1, 16, 16), "mean": (0.5, 0.5, 0.5)}, "disagree on the number of channels"),
    ({"input_size": 16, "channels": 1, "std": 0.0}, "std must be positive"),
    ({"input_size": 16, "channels": 1, "cam_layer": "nope"}, "has no layer 'nope'"),
    ({"input_size": 16, "channels": 1, "class_names": ["a", "a", "b", "c"]}, "repeat"),
    ({"input_size": 16, "channels": 1, "class_names": "abcd"}, "is one string"),
])
def test_bad_wrap_is_one_line(kwargs, words):
    with pytest.raises(GenlensError) as err:
        genlens.wrap(tiny_sequential(), **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_non_logits_module_is_refused():
    with pytest.raises(GenlensError, match="not logits"):
        genlens.wrap(nn.Conv2d(1, 2, 3), input_size=8, channels=1)


@pytest.mark.parametrize("which", ["resnet", "tiny"])
def test_every_tool_runs_on_a_wrapped_model(which, resnet, tiny):
    from genlens.analysis import dead_unit_census
    from genlens.attribution import handle_cam
    from genlens.inversion.visualize import visualize
    from genlens.metrics import compute_fid, judge

    handle = resnet if which == "resnet" else tiny
    c, h, w = handle.input_size
    images = genlens.invert(handle, [0, 1], method="deepdream", steps_scale=0.01, seed=0)
    assert images.shape == (2, c, h, w) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert torch.equal(images, genlens.invert(handle, [0, 1], method="deepdream", steps_scale=0.01, seed=0))
    assert genlens.invert(handle, "c1" if which == "resnet" else "b", steps_scale=0.003).shape == (1, c, h, w)  # pii

    x = torch.rand(3, c, h, w, generator=torch.Generator().manual_seed(1))
    cam = handle_cam(handle, x, target=1)  # default layer: layer4 / the last conv
    assert cam.shape == (3, h, w) and torch.isfinite(cam).all()

    units = visualize(handle, layer=handle.meta["cam_layer"], units=[0, 1], steps_scale=0.005)
    assert units.shape == (2, c, h, w)

    census = dead_unit_census(handle, x)
    assert census.layers and census.total_units > 0

    report = judge(handle, x, [0, 1, 2])
    assert report.n == 3 and set(report.predicted_histogram) == set(handle.class_names)

    feats = handle.features(x)
    assert feats.shape == (3, 512 if which == "resnet" else 8)
    fid = compute_fid(x, torch.rand(4, c, h, w), extractor=handle)
    assert fid.extractor == handle.name and fid.value >= 0
