"""Grad-CAM: captum's LayerGradCam as the oracle, differentiability for GAN training, targets, options."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genlens.attribution import CAM_METHODS, GradCAMPlusPlus, grad_cam, handle_cam
from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle


def _raw(model, x, layer, **kw):
    return grad_cam(model, x, layer=layer, upsample_to=None, normalize=False, **kw)


# --- (a) oracle: captum -----------------------------------------------------------------------------
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("target", [2, [0, 3, 4]])
def test_matches_captum_on_a_small_cnn(small_cnn, images, relu, target):
    from captum.attr import LayerGradCam

    t = torch.tensor(target) if isinstance(target, list) else target
    ours = _raw(small_cnn, images, small_cnn.block2, target=t, relu="after_sum" if relu else "none")
    ref = LayerGradCam(small_cnn, small_cnn.block2).attribute(images, target=t, relu_attributions=relu)[:, 0]
    assert ours.shape == (3, 7, 7) and ours.abs().max() > 1e-4
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layer", ["stages.2", "stages.1"])
def test_matches_captum_on_shipped_cnn(cnn_handle, images, layer):
    from captum.attr import LayerGradCam

    module = cnn_handle.layer(layer)
    pred = cnn_handle.predict(images).argmax(1)
    ours = _raw(cnn_handle, images, module, target=None)  # None = predicted class
    ref = LayerGradCam(cnn_handle, module).attribute(images, target=pred, relu_attributions=True)[:, 0]
    assert ours.abs().max() > 1e-4
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)


# --- (b) differentiability ------------------------------------------------------------------------
def test_create_graph_lets_a_loss_on_the_cam_reach_the_input(small_cnn, images):
    x = images.clone().requires_grad_(True)
    cam = grad_cam(small_cnn, x, layer=small_cnn.block2, target=1, create_graph=True, upsample_to=28)
    assert cam.shape == (3, 28, 28) and cam.grad_fn is not None
    (gx,) = torch.autograd.grad((cam - 0.5).pow(2).mean(), x)
    assert torch.isfinite(gx).all() and gx.abs().sum() > 0


def test_without_create_graph_the_cam_is_detached_and_works_under_no_grad(small_cnn, images):
    with torch.no_grad():
        cam = grad_cam(small_cnn, images, layer=small_cnn.block2, target=0)
    assert not cam.requires_grad and cam.shape == (3, 7, 7)
    assert cam.min() >= 0 and torch.allclose(cam.flatten(1).max(1).values, torch.ones(3))


def test_generator_trains_through_discriminator_cam(small_cnn_cls):
    """The EqGAN-SA pattern: G's loss uses D's CAM of softplus(-D(G(z))); gradients reach G, not D.grad."""
    torch.manual_seed(0)
    gen = nn.Sequential(nn.Linear(4, 28 * 28), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))
    disc = small_cnn_cls(classes=1)
    cam = CAM_METHODS.create("gradcam", model=disc, layer=disc.block2, relu="per_channel")
    res = cam.compute(gen(torch.randn(2, 4)), target=lambda out: F.softplus(-out).mean(), create_graph=True)
    assert res.target is None and not res.weights.requires_grad  # weights detached by default
    assert all(p.grad is None for p in disc.parameters())  # autograd.grad leaves .grad alone
    grads = torch.autograd.grad(res.cam.mean(), list(gen.parameters()), retain_graph=True)
    assert all(g.abs().sum() > 0 for g in grads)
    (F.softplus(-res.output).mean() + res.cam.mean()).backward()  # the forward graph was kept
    assert all(p.grad is not None for p in gen.parameters())


def test_detach_weights_false_keeps_second_order_terms(small_cnn, images):
    x = images.clone().requires_grad_(True)
    cam = CAM_METHODS.create("gradcam", model=small_cnn, layer=small_cnn.block2, detach_weights=False)
    res = cam.compute(x, target=2, create_graph=True)
    assert res.weights.requires_grad


# --- (c) targets ----------------------------------------------------------------------------------
def test_callable_targets_match_class_targets(small_cnn, images):
    layer = small_cnn.block2
    by_index = _raw(small_cnn, images, layer, target=2)
    per_sample = _raw(small_cnn, images, layer, target=lambda out: out[:, 2])
    column = _raw(small_cnn, images, layer, target=lambda out: out[:, 2:3])  # (B, 1) is accepted
    summed = _raw(small_cnn, images, layer, target=lambda out: out[:, 2].sum())  # a scalar
    for other in (per_sample, column, summed):
        torch.testing.assert_close(other, by_index)
    mean = grad_cam(small_cnn, images, layer=layer, target=lambda out: out[:, 2].mean())  # scaled by 1/B
    torch.testing.assert_close(mean, grad_cam(small_cnn, images, layer=layer, target=2))


def test_none_target_is_the_predicted_class(small_cnn, images):
    res = CAM_METHODS.create("gradcam", model=small_cnn, layer=small_cnn.block2).compute(images)
    assert torch.equal(res.target, small_cnn(images).argmax(1))


def test_bad_callable_output_is_a_one_line_error(small_cnn, images):
    with pytest.raises(GenlensError, match=r"returned shape \(3, 5\)"):
        grad_cam(small_cnn, images, layer=small_cnn.block2, target=lambda out: out)


# --- relu modes and methods -----------------------------------------------------------------------
def test_per_channel_relu_is_sum_of_relu_maps(small_cnn, images):
    signed = CAM_METHODS.create("gradcam", model=small_cnn, layer=small_cnn.block2, relu="none")
    res = signed.compute(images, target=1)
    expected = F.relu(res.weights[:, :, None, None] * res.activations).sum(1)
    per_channel = _raw(small_cnn, images, small_cnn.block2, target=1, relu="per_channel")
    after_sum = _raw(small_cnn, images, small_cnn.block2, target=1)
    torch.testing.assert_close(per_channel, expected)
    torch.testing.assert_close(after_sum, F.relu(res.cam))
    assert (per_channel >= after_sum - 1e-6).all()  # sum of relus >= relu of sum


def test_gradcam_plus_plus_weights_golden():
    """Chattopadhay et al. eq. 19 by hand: A = 1, g = [[1, -1], [0, 2]] -> 1/6 * 1 + 4/40 * 2."""
    acts = torch.ones(1, 1, 2, 2)
    grads = torch.tensor([[[[1.0, -1.0], [0.0, 2.0]]]])
    w = GradCAMPlusPlus.get_cam_weights(None, acts, grads)
    torch.testing.assert_close(w, torch.tensor([[1 / 6 + 0.2]]))
    torch.testing.assert_close(GradCAMPlusPlus.get_cam_weights(None, acts, torch.ones(1, 1, 2, 2)),
                               torch.tensor([[2 / 3]]))


@pytest.mark.parametrize("method", CAM_METHODS.available())
def test_every_method_gives_normalised_maps(small_cnn, images, method):
    cam = grad_cam(small_cnn, images, layer=small_cnn.block2, target=3, method=method, upsample_to=(28, 28))
    assert cam.shape == (3, 28, 28) and cam.min() >= 0 and cam.max() <= 1 + 1e-6


def test_registry_lists_methods():
    assert CAM_METHODS.available() == ["gradcam", "gradcam++"]
    with pytest.raises(GenlensError, match="choose one of: gradcam, gradcam\\+\\+"):
        CAM_METHODS.get("scorecam")


# --- modes ----------------------------------------------------------------------------------------
def test_grad_cam_leaves_the_mode_alone_and_handle_cam_restores_it(small_cnn, images):
    handle = ModelHandle(model=small_cnn, name="small", mean=(0.5,), std=(0.5,), input_size=(1, 28, 28),
                         class_names=tuple("abcde"), arch="cnn")
    in_eval = handle_cam(handle, images, layer="block2", target=1)
    small_cnn.train()
    small_cnn.block1[1].eval()  # a deliberately frozen BN stays frozen
    before = [m.training for m in small_cnn.modules()]
    in_train = handle_cam(handle, images, layer="block2", target=1)
    assert [m.training for m in small_cnn.modules()] == before
    torch.testing.assert_close(in_train, in_eval)  # computed in eval mode
    grad_cam(handle, images, layer=small_cnn.block2, target=1)
    assert [m.training for m in small_cnn.modules()] == before


# --- (f) sanity on real data ----------------------------------------------------------------------
def test_cnn_cam_concentrates_on_the_object(cnn_handle, fmnist_test):
    x = fmnist_test.float_images(torch.arange(16))
    cam = handle_cam(cnn_handle, x, target=fmnist_test.labels[:16])  # default layer: last stage
    assert cam.shape == (16, 28, 28)
    mask = x[:, 0] > 0.1
    inside = torch.stack([c[m].mean() for c, m in zip(cam, mask, strict=True)])
    outside = torch.stack([c[~m].mean() for c, m in zip(cam, mask, strict=True)])
    assert (inside > outside).float().mean() >= 0.75
    assert inside.mean() > outside.mean() + 0.1


# --- (g) bad input --------------------------------------------------------------------------------
def test_unknown_layer_is_one_line_listing_layers(cnn_handle, images):
    with pytest.raises(GenlensError) as err:
        handle_cam(cnn_handle, images, layer="stages.9")
    msg = str(err.value)
    assert "\n" not in msg and "stages.9" in msg and "top-level layers: final_conv, head, stages, stem" in msg


@pytest.mark.parametrize(("target", "pattern"), [
    (10, "class index 10 is out of range; this model has classes 0..9"),
    ("-1", "class index -1 is out of range"),
    ("Banana", "unknown class 'Banana'"),
    (torch.tensor([0, 1, 12]), "class index 12 is out of range"),
    (torch.tensor([0, 1]), "got 2 class indices for a batch of 3"),
    (torch.tensor([0.0, 1.0, 2.0]), "must be integer"),
])
def test_bad_targets(cnn_handle, images, target, pattern):
    with pytest.raises(GenlensError, match=pattern):
        handle_cam(cnn_handle, images, layer="stages.2", target=target)


def test_layer_without_spatial_grid_and_bad_options(cnn_handle, small_cnn, images):
    with pytest.raises(GenlensError, match="'head.fc' outputs shape \\(3, 10\\) with no spatial grid"):
        handle_cam(cnn_handle, images, layer="head.fc")
    with pytest.raises(GenlensError, match="unknown relu mode 'both'"):
        grad_cam(small_cnn, images, layer=small_cnn.block2, relu="both")
    with pytest.raises(GenlensError, match="layer must be an nn.Module"):
        grad_cam(small_cnn, images, layer="block2")


def test_no_default_layer_for_unknown_architectures(small_cnn, images):
    handle = ModelHandle(model=small_cnn, name="small", mean=(0.5,), std=(0.5,), input_size=(1, 28, 28),
                         class_names=tuple("abcde"))
    pattern = "no default Grad-CAM layer for small .*top-level layers: block1, block2, head"
    with pytest.raises(GenlensError, match=pattern):
        handle_cam(handle, images)
