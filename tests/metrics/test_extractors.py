import pytest
import torch

import genlens
from genlens.errors import GenlensError
from genlens.metrics import EXTRACTORS, FeatureExtractor, HandleExtractor, extractor_for
from genlens.metrics.extractors import match_channels
from genlens.metrics.inception import ENV_VAR


@pytest.fixture
def no_inception_weights(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_registry_lists_both_extractors() -> None:
    assert {"genlens-fmnist", "inception"} <= set(EXTRACTORS.available())


def test_unknown_name_is_one_line_listing_choices() -> None:
    with pytest.raises(GenlensError) as err:
        extractor_for("no-such-extractor")
    msg = str(err.value)
    assert "\n" not in msg and "genlens-fmnist" in msg and "inception" in msg and "fmnist-cnn" in msg


def test_inception_without_weights_says_where_to_put_them(no_inception_weights: None, tmp_path) -> None:
    with pytest.raises(GenlensError) as err:
        extractor_for("inception")
    msg = str(err.value)
    assert "\n" not in msg and ENV_VAR in msg and str(tmp_path / ".cache" / "genlens") in msg


def test_inception_env_var_to_missing_or_bad_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.pth"))
    with pytest.raises(GenlensError, match=ENV_VAR):
        extractor_for("inception")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    monkeypatch.setenv(ENV_VAR, str(bad))
    with pytest.raises(GenlensError, match="cannot read"):
        extractor_for("inception")


def test_handle_extractor_shapes_channels_and_size(tiny_handle) -> None:
    ext = HandleExtractor(tiny_handle, batch_size=3)
    assert isinstance(ext, FeatureExtractor)
    assert ext.dim == 16 and ext.num_classes == 10 and ext.name == "tiny"
    gray = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    f, z = ext.features(gray), ext.logits(gray)
    assert f.shape == (7, 16) and z.shape == (7, 10) and f.dtype == torch.float32
    # batching does not change results; RGB -> gray by mean; other sizes are resized by the handle
    assert torch.allclose(HandleExtractor(tiny_handle, batch_size=64).features(gray), f, atol=1e-6)
    assert torch.allclose(ext.features(gray.expand(-1, 3, -1, -1)), f, atol=1e-6)
    assert ext.features(torch.rand(2, 3, 32, 32)).shape == (2, 16)
    assert tiny_handle.model.training is False  # eval_mode restored the previous (eval) state


def test_extractor_restores_training_mode(tiny_handle) -> None:
    tiny_handle.model.train()
    HandleExtractor(tiny_handle).features(torch.rand(2, 1, 28, 28))
    assert tiny_handle.model.training is True


def test_match_channels() -> None:
    x = torch.rand(2, 3, 4, 4)
    assert torch.equal(match_channels(x, 1), x.mean(1, keepdim=True))
    assert match_channels(x[:, :1], 3).shape == (2, 3, 4, 4)
    with pytest.raises(GenlensError, match="channels"):
        match_channels(torch.rand(2, 2, 4, 4), 3)


def test_genlens_fmnist_and_zoo_fallback_wrap_load_model(
    monkeypatch: pytest.MonkeyPatch, tiny_handle
) -> None:
    asked: list[str] = []

    def fake_load(name: str, *, device: str = "cpu", allow_download: bool = False):
        asked.append(name)
        assert not allow_download
        return tiny_handle

    monkeypatch.setattr(genlens, "load_model", fake_load)
    monkeypatch.setattr(genlens, "zoo_names", lambda: ["fmnist-cnn", "fmnist-vit"])
    ext = extractor_for("genlens-fmnist")
    assert ext.name == "genlens-fmnist" and ext.dim == 16
    assert extractor_for("fmnist-vit").name == "fmnist-vit"  # named by the spec the user gave
    assert asked == ["fmnist-cnn", "fmnist-vit"]


def test_handles_and_extractors_pass_through(tiny_handle) -> None:
    ext = extractor_for(tiny_handle)
    assert isinstance(ext, HandleExtractor) and extractor_for(ext) is ext
    with pytest.raises(GenlensError, match="extractor must be"):
        extractor_for(3)  # type: ignore[arg-type]


def _fake_inception_weights(path) -> None:
    """A structurally valid torchvision inception_v3 state dict with constant values (no download)."""
    from torchvision.models import inception_v3

    with torch.device("meta"):
        net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    state = {
        k: torch.ones(v.shape)
        if k.endswith("running_var")
        else torch.full(v.shape, 0.01, dtype=v.dtype)
        if v.is_floating_point()
        else torch.zeros(v.shape, dtype=v.dtype)
        for k, v in net.state_dict().items()
    }
    torch.save(state, path)


def test_inception_rejects_foreign_state_dict(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(2)}, path)
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(GenlensError, match="neither pytorch-fid's nor torchvision's inception_v3 weights"):
        extractor_for("inception")


@pytest.mark.slow
def test_inception_from_local_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    path = tmp_path / "inception_v3.pth"
    _fake_inception_weights(path)
    monkeypatch.setenv(ENV_VAR, str(path))
    ext = extractor_for("inception")
    x = torch.rand(1, 1, 28, 28)  # gray 28 px -> RGB 299 px inside
    assert ext.name == "inception-torchvision" and ext.dim == 2048 and ext.num_classes == 1000  # not paper-comparable
    assert ext.features(x).shape == (1, 2048)


def test_timm_and_folder_specs_load_a_handle_named_by_the_spec(monkeypatch: pytest.MonkeyPatch, tiny_handle) -> None:
    asked: list[tuple[str, bool]] = []

    def fake_load(name: str, *, device: str = "cpu", allow_download: bool = False):
        asked.append((name, allow_download))
        return tiny_handle

    monkeypatch.setattr(genlens, "load_model", fake_load)
    assert extractor_for("timm:resnet18", allow_download=True).name == "timm:resnet18"
    assert extractor_for("timm:resnet18:/w.safetensors").name == "timm:resnet18:/w.safetensors"
    assert asked == [("timm:resnet18", True), ("timm:resnet18:/w.safetensors", False)]


def test_timm_features_without_weights_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, filename, **_: None)
    with pytest.raises(GenlensError) as err:
        extractor_for("timm:resnet18")
    assert "--allow-download" in str(err.value) and "\n" not in str(err.value)


def test_wrapped_model_features_at_another_size_and_channels() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    ext = extractor_for(genlens.wrap(net, input_size=(3, 20, 20), name="rgb20"))
    gray28 = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    f = ext.features(gray28)  # gray -> RGB, 28 px -> 20 px, then the input of the last Linear
    assert ext.name == "rgb20" and f.shape == (5, 6) and ext.dim == 6
    assert torch.allclose(f, ext.features(gray28.expand(-1, 3, -1, -1)))


def test_genlens_eval_is_shipped_and_extracts() -> None:
    """The evaluator ships with the package, so reported numbers never need a training run first."""
    ext = extractor_for("genlens-eval")
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    f = ext.features(images)
    assert ext.name == "genlens-eval" and f.shape == (3, ext.dim) and torch.isfinite(f).all()
