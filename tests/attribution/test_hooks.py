"""ActivationCapture: hooks released on every exit path, errors never swallowed."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from genlens.attribution import ActivationCapture, grad_cam
from genlens.errors import GenlensError
from genlens.utils.modes import frozen


def _hooks(module: nn.Module) -> int:
    return len(module._forward_hooks)


def test_captures_output_in_the_graph_and_releases(small_cnn, images):
    with ActivationCapture(small_cnn.block2) as cap:
        assert cap.active and _hooks(small_cnn.block2) == 1
        out = small_cnn(images)
    assert not cap.active and _hooks(small_cnn.block2) == 0
    assert cap.output.shape == (3, 8, 7, 7) and cap.output.grad_fn is not None
    (g,) = torch.autograd.grad(out[:, 0].sum(), cap.output)
    assert g.shape == cap.output.shape


def test_hook_released_and_exception_propagates(small_cnn, images):
    with pytest.raises(ZeroDivisionError), ActivationCapture(small_cnn.block2):
        small_cnn(images)
        raise ZeroDivisionError
    assert _hooks(small_cnn.block2) == 0


def test_grad_cam_releases_hooks_when_the_target_raises(small_cnn, images):
    def boom(out: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("target failed")

    with pytest.raises(RuntimeError, match="target failed"):
        grad_cam(small_cnn, images, layer=small_cnn.block2, target=boom)
    with pytest.raises(GenlensError):
        grad_cam(small_cnn, images, layer=small_cnn.block2, target=99)
    assert all(_hooks(m) == 0 for m in small_cnn.modules())


def test_layer_that_never_runs_or_runs_twice(small_cnn, images):
    unused = nn.Conv2d(1, 1, 1)
    with pytest.raises(GenlensError, match="did not run during the forward pass"):
        grad_cam(small_cnn, images, layer=unused, target=0)
    assert _hooks(unused) == 0

    relu = nn.ReLU()
    twice = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), relu, nn.Conv2d(2, 2, 3, padding=1), relu,
                          nn.Flatten(), nn.LazyLinear(3))
    with pytest.raises(GenlensError, match="ran 2 times"):
        grad_cam(twice, images, layer=relu, target=0)
    assert _hooks(relu) == 0


def test_frozen_model_and_plain_inputs_still_give_gradients(small_cnn, images):
    with frozen(small_cnn):
        cam = grad_cam(small_cnn, images, layer=small_cnn.block2, target=1, normalize=False)
    assert cam.abs().max() > 0


def test_tuple_output_is_a_clear_error(images):
    class Pair(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pair = Pair()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.pair(x)[0].flatten(1)[:, :3]

    net = Net()
    with pytest.raises(GenlensError, match="layer 'pair' returns tuple, not a tensor"):
        grad_cam(net, images, layer=net.pair, target=0)
    assert _hooks(net.pair) == 0


@pytest.mark.parametrize("freeze", [False, True])
def test_inplace_op_after_the_layer(images, freeze):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3))
    if freeze:
        net.requires_grad_(False)
    cam = grad_cam(net, images, layer=net[0], target=1, normalize=False)
    assert cam.shape == (3, 28, 28) and torch.isfinite(cam).all()
