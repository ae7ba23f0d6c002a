"""The FID Inception network (pytorch-fid's weights file) and FID checked against torchmetrics."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.image.fid import FrechetInceptionDistance
from torchvision.models import inception as tv

from genlens.errors import GenlensError
from genlens.metrics import HandleExtractor, compute_fid, extractor_for
from genlens.metrics.inception import find_inception_weights, load_inception_handle
from genlens.metrics.inception_fid import FID_CLASSES, _fid_block, _max_pool, _valid_avg_pool, fid_inception_v3


def _pool_branch_input(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    hook = block.branch_pool.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        block.eval()(x)
    hook.remove()
    return seen[-1]  # the last call is ours (the base block's own pooled input comes first)


def test_fid_blocks_pool_over_valid_pixels_and_the_last_block_max_pools() -> None:
    x = torch.ones(1, 192, 5, 5)
    a = _fid_block(tv.InceptionA, _valid_avg_pool)(192, pool_features=8)
    assert torch.equal(_pool_branch_input(a, x), x)  # TF 'SAME' average: border pixels are not diluted by padding
    assert float(F.avg_pool2d(x, 3, 1, 1)[0, 0, 0, 0]) == pytest.approx(4 / 9)  # what torchvision's block sees
    y = torch.randn(1, 64, 4, 4, generator=torch.Generator().manual_seed(0))
    e2 = _fid_block(tv.InceptionE, _max_pool)(64)
    assert torch.equal(_pool_branch_input(e2, y), F.max_pool2d(y, 3, 1, 1))


def _save_fid_weights(path) -> None:
    """Weights in pytorch-fid's layout (1008 classes, no aux head, no BN step counters), fp16 to stay small."""
    net = fid_inception_v3()
    state = {}
    for k, v in net.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        fan_in = v[0].numel() if v.ndim > 1 else 1
        value = 1.0 if k.endswith("running_var") else 0.0 if k.endswith(("running_mean", "bias")) else fan_in**-0.5
        ramp = torch.linspace(0.5, 1.5, v.numel()).view(v.shape)  # not constant, so channels differ
        state[k] = (value * ramp).half()
    torch.save(state, path)


@pytest.mark.slow
def test_pytorch_fid_file_gives_the_paper_comparable_extractor(tmp_path) -> None:
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    _save_fid_weights(path)
    ext = extractor_for(f"inception:{path}")
    handle = ext.handle
    assert ext.name == "inception" and ext.num_classes == FID_CLASSES and handle.meta["comparable_with_papers"]
    gray = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    feats = ext.features(gray)
    # pytorch-fid's preprocessing: bilinear resize to 299 without antialias, then [0, 1] -> [-1, 1]
    rgb = F.interpolate(gray.expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear", align_corners=False)
    with torch.no_grad():
        expected = handle.model.forward_features(2 * rgb - 1)
    assert feats.shape == (2, 2048)
    torch.testing.assert_close(feats, expected, rtol=1e-4, atol=1e-5)
    assert ext.features(torch.rand(1, 3, 400, 350)).shape == (1, 2048)  # larger RGB images are resized too


def test_a_file_that_is_not_there_is_one_line(tmp_path) -> None:
    with pytest.raises(GenlensError) as err:
        extractor_for(f"inception:{tmp_path / 'nope.pth'}")
    assert "not found" in str(err.value) and "\n" not in str(err.value)


def test_fid_through_a_handle_matches_torchmetrics_on_the_same_features(tiny_handle, given_features) -> None:
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(64, 1, 28, 28, generator=g), torch.rand(48, 1, 28, 28, generator=g) ** 2
    ours = compute_fid(real, fake, extractor=tiny_handle)
    ext = HandleExtractor(tiny_handle)
    tm = FrechetInceptionDistance(feature=given_features(ext.dim))
    tm.update(ext.features(real).double(), real=True)
    tm.update(ext.features(fake).double(), real=False)
    assert ours.value == pytest.approx(float(tm.compute()), rel=1e-4)
    assert ours.extractor == "tiny" and ours.n_real == 64 and ours.n_fake == 48


def test_real_weights_match_torchmetrics(given_features) -> None:
    """With pytorch-fid's weights on disk: FID under our Inception equals torchmetrics' FID on the same features,
    and, when torch-fidelity is installed, torchmetrics' own Inception (same TF weights) gives the same features."""
    try:
        path = find_inception_weights()
    except GenlensError:
        pytest.skip("no Inception weights file here (genlens never downloads it)")
    handle = load_inception_handle(path=path)
    if not handle.meta["comparable_with_papers"]:
        pytest.skip(f"{path} is torchvision's Inception, not pytorch-fid's")
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(24, 3, 299, 299, generator=g), torch.rand(24, 3, 299, 299, generator=g) ** 2
    ours = compute_fid(real, fake, extractor=handle)
    ext = HandleExtractor(handle)
    fr, ff = ext.features(real), ext.features(fake)
    tm = FrechetInceptionDistance(feature=given_features(2048))
    tm.update(fr.double(), real=True)
    tm.update(ff.double(), real=False)
    assert ours.value == pytest.approx(float(tm.compute()), rel=1e-3)
    pytest.importorskip("torch_fidelity")
    reference = FrechetInceptionDistance(feature=2048, normalize=True)
    with torch.no_grad():
        theirs = reference.inception(real[:4].float())  # (4, 2048): no resize at 299 px
    torch.testing.assert_close(fr[:4], theirs.float(), rtol=1e-3, atol=1e-3)
