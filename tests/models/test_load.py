"""load_model: shipped weights, model folders, and each way loading can fail (one line each)."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

import genlens
from genlens.errors import GenlensError
from genlens.models.load import load_model
from genlens.models.weights_io import save_model_folder
from genlens.models.zoo.specs import build
from genlens.utils.io import sha256_file

NAMES = ["fmnist-cnn", "fmnist-mixer", "fmnist-resmlp", "fmnist-vit"]


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


@pytest.fixture(scope="module")
def shipped():
    return {name: genlens.load_model(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_shipped_weights_load(shipped, name, fmnist_test):
    handle = shipped[name]
    assert handle.name == name and handle.num_classes == 10
    assert not handle.model.training
    assert handle.meta["manifest"]["sha256"]["model.safetensors"]
    # a quick sanity check on the first 100 test images (the accuracy test below is for the CNN)
    pred = handle.predict(fmnist_test.float_images(slice(0, 100))).argmax(1)
    assert float((pred == fmnist_test.labels[:100]).float().mean()) > 0.8


def test_cnn_accuracy_on_500_test_images(shipped, fmnist_test):
    from genlens.models.zoo.evaluate import evaluate_classifier

    report = evaluate_classifier(shipped["fmnist-cnn"], fmnist_test.take(500))
    assert report.n == 500
    assert report.top1 > 0.85
    assert report.top5 >= report.top1
    assert int(report.confusion.sum()) == 500
    assert int(report.confusion.diag().sum()) == round(report.top1 * 500)
    assert set(report.per_class) == set(fmnist_test.class_names)


def test_sha256_mismatch(tampered_model):
    with pytest.raises(GenlensError) as err:
        load_model(tampered_model)
    msg = _one_line(err)
    assert "sha256" in msg and str(tampered_model / "model.safetensors") in msg


def test_sha256_check_can_be_skipped(tampered_model):
    assert load_model(tampered_model, verify=False).name == "fmnist-cnn"


def test_wrong_architecture(shipped_dir):
    cnn = shipped_dir("fmnist-cnn") / "model.safetensors"
    with pytest.raises(GenlensError) as err:
        load_model("fmnist-vit", weights=cnn)
    msg = _one_line(err)
    assert "does not fit architecture 'fmnist-vit'" in msg and str(cnn) in msg


def test_same_architecture_weights_override(shipped_dir):
    cnn = shipped_dir("fmnist-cnn") / "model.safetensors"
    assert load_model("fmnist-cnn", weights=cnn).name == "fmnist-cnn"


@pytest.mark.parametrize("content", [b"", b"not safetensors at all", None], ids=["empty", "text", "missing"])
def test_unreadable_weights(tmp_path, content):
    path = tmp_path / "w.safetensors"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(GenlensError, match="not a readable safetensors file"):
        load_model("fmnist-cnn", weights=path)


def test_gan_folder_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"kind": "gan", "name": "eqgan"}))
    with pytest.raises(GenlensError) as err:
        load_model(tmp_path)
    msg = _one_line(err)
    assert "holds a gan checkpoint, not a classifier" in msg


@pytest.mark.parametrize("missing", ["config.json", "manifest.json", "model.safetensors"])
def test_incomplete_folder(tmp_path, shipped_dir, missing):
    folder = tmp_path / "m"
    shutil.copytree(shipped_dir("fmnist-cnn"), folder)
    (folder / missing).unlink()
    with pytest.raises(GenlensError) as err:
        load_model(folder)
    assert missing in _one_line(err)


def test_unknown_zoo_name_lists_names():
    with pytest.raises(GenlensError) as err:
        load_model("fmnist-lstm")
    assert _one_line(err) == "unknown zoo model 'fmnist-lstm'; choose one of: " + ", ".join(NAMES)


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build("fmnist-resmlp").eval()
    folder = save_model_folder(tmp_path / "run", model, config={"kind": "classifier", "name": "fmnist-resmlp"},
                               command="genlens zoo train fmnist-resmlp", metrics={"top1": 0.5},
                               dtype=torch.float32, extra={"note": "test"})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "manifest.json", "model.safetensors"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sha256"] == {"model.safetensors": sha256_file(folder / "model.safetensors")}
    assert manifest["command"] == "genlens zoo train fmnist-resmlp"
    assert manifest["metrics"] == {"top1": 0.5} and manifest["note"] == "test"
    assert {"git_commit", "created", "versions"} <= manifest.keys()

    handle = load_model(folder)
    assert handle.name == "fmnist-resmlp" and handle.meta["folder"] == str(folder)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(handle(x), model(handle.normalize(x)), rtol=0, atol=0)


def test_default_save_is_fp16(tmp_path):
    from safetensors.torch import load_file

    torch.manual_seed(0)
    model = build("fmnist-cnn").eval()
    folder = save_model_folder(tmp_path, model, config={"kind": "classifier", "name": "fmnist-cnn"},
                               command="x", metrics={})
    state = load_file(str(folder / "model.safetensors"))
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    assert any(not v.is_floating_point() for v in state.values())  # BN step counters stay integers
    handle = load_model(folder)
    assert next(handle.model.parameters()).dtype == torch.float32  # cast back on load
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(handle(x), model(handle.normalize(x)), rtol=0.05, atol=0.05)


@pytest.mark.parametrize(("edit", "words"), [
    (lambda m: {**m, "sha256": {}}, "lists no sha256 for model.safetensors"),
    (lambda m: {k: v for k, v in m.items() if k != "sha256"}, "no sha256 table"),
    (lambda m: "{broken", "not valid JSON"),
])
def test_manifest_must_vouch_for_every_weights_file(tmp_path, shipped_dir, edit, words):
    folder = tmp_path / "m"
    shutil.copytree(shipped_dir("fmnist-cnn"), folder)
    manifest = edit(json.loads((folder / "manifest.json").read_text()))
    (folder / "manifest.json").write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    with pytest.raises(GenlensError) as err:
        load_model(folder)
    assert words in _one_line(err)


def test_invalid_config_json_names_the_file(tmp_path, shipped_dir):
    folder = tmp_path / "m"
    shutil.copytree(shipped_dir("fmnist-cnn"), folder)
    (folder / "config.json").write_text('{"kind": "classifier",')
    with pytest.raises(GenlensError) as err:
        load_model(folder)
    assert "config.json' is not valid JSON" in _one_line(err)


@pytest.fixture
def empty_hf_cache(monkeypatch):
    """Nothing in the Hugging Face cache, and timm's network loader armed to fail the test if called."""
    import huggingface_hub
    import timm

    calls: list[dict] = []
    real_create = timm.create_model

    def create_model(arch, pretrained=False, **kw):
        calls.append({"arch": arch, "pretrained": pretrained})
        if pretrained and not getattr(create_model, "allowed", False):
            raise AssertionError("timm's download path was reached without --allow-download")
        return real_create(arch, pretrained=False, **kw)  # the "downloaded" weights: random, offline

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, filename, **_: None)
    monkeypatch.setattr(timm, "create_model", create_model)
    return create_model, calls


def test_timm_without_local_weights_fails_at_once(empty_hf_cache):
    """No weights file, nothing in the Hugging Face cache, no --allow-download: one line, no network."""
    import time

    _, calls = empty_hf_cache
    t0 = time.perf_counter()
    with pytest.raises(GenlensError) as err:
        load_model("timm:resnet18")
    assert "never downloads unless asked" in _one_line(err) and "--allow-download" in str(err.value)
    assert "timm:resnet18:<weights file>" in str(err.value)
    assert time.perf_counter() - t0 < 10 and not any(c["pretrained"] for c in calls)


def test_timm_allow_download_goes_through_timms_loader(empty_hf_cache):
    create_model, calls = empty_hf_cache
    create_model.allowed = True
    handle = load_model("timm:test_resnet", allow_download=True)
    assert {"arch": "test_resnet", "pretrained": True} in calls
    assert handle.name == "timm:test_resnet" and handle.meta["pretrained"] == "timm (downloaded)"


def test_timm_download_failure_is_one_line(monkeypatch):
    import huggingface_hub
    import timm

    def offline(arch, pretrained=False, **kw):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nsecond line")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, filename, **_: None)
    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(GenlensError) as err:
        load_model("timm:test_resnet", allow_download=True)
    assert "could not fetch pretrained weights for 'test_resnet'" in _one_line(err)


def test_timm_local_file_still_loads_without_the_flag(tmp_path, empty_hf_cache):
    import timm
    from safetensors.torch import save_file

    _, calls = empty_hf_cache
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    handle = load_model(f"timm:test_resnet:{tmp_path / 'w.safetensors'}")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(handle.model(x), model(x))
    assert not any(c["pretrained"] for c in calls)


def test_config_without_a_name_names_the_file_and_key(tmp_path, shipped_dir):
    folder = tmp_path / "m"
    shutil.copytree(shipped_dir("fmnist-cnn"), folder)
    config = json.loads((folder / "config.json").read_text())
    del config["name"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(GenlensError) as err:
        load_model(folder)
    assert "config.json' has no \"name\" key" in _one_line(err)
