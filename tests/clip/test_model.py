"""Image-text models: FmnistClip shapes and norms, open_clip from a local file, one-line load errors."""
from __future__ import annotations

import pytest
import torch

from genlens.clip.model import FmnistClip, FmnistClipConfig, OpenClipModel, load_fmnist_clip, load_image_text_model
from genlens.errors import GenlensError
from genlens.utils.config_io import from_dict, to_dict


def test_fmnist_clip_image_embeddings_are_unit_norm():
    torch.manual_seed(0)
    model = FmnistClip().eval()
    with torch.no_grad():
        e = model.encode_image(torch.rand(3, 1, 28, 28))
        e_big = model.encode_image(torch.rand(2, 1, 40, 40))  # resized to 28 px
        e_rgb = model.encode_image(torch.rand(2, 3, 28, 28))  # RGB -> grey
    assert e.shape == (3, 384) and e_big.shape == (2, 384) and e_rgb.shape == (2, 384)
    assert torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert model.input_size == (1, 28, 28)
    assert float(model.scale().detach()) == pytest.approx(1 / 0.07, rel=1e-4)  # CLIP's initial temperature


def test_fmnist_clip_text_side_is_the_frozen_sentence_encoder():
    model = FmnistClip()
    t = model.encode_text(["a leather ankle boot", "a pair of jeans"])
    assert t.shape == (2, 384)
    assert torch.allclose(t.norm(dim=-1), torch.ones(2), atol=1e-4)
    assert not any(k.startswith(("text", "_text")) for k in model.state_dict())  # only the image side is saved
    with pytest.raises(GenlensError, match="prompt is empty"):
        model.check("   ")


def test_fmnist_clip_config_round_trip():
    cfg = FmnistClipConfig(widths=(8, 16), depths=(1, 1))
    assert from_dict(FmnistClipConfig, to_dict(cfg)) == cfg
    assert FmnistClip(cfg).proj.in_features == 16


@pytest.mark.parametrize("kind", ["pt", "safetensors"])
def test_open_clip_loads_a_local_weights_file(tiny_open_clip, kind):
    spec = f"open_clip:{tiny_open_clip['config']}:{tiny_open_clip[kind]}"
    model = load_image_text_model(spec)
    assert isinstance(model, OpenClipModel) and model.input_size == (3, 32, 32)
    x = torch.rand(2, 3, 32, 32)
    ref = tiny_open_clip["model"]
    with torch.no_grad():
        want = torch.nn.functional.normalize(ref.encode_image((x - torch.tensor(model.mean).view(1, 3, 1, 1))
                                                              / torch.tensor(model.std).view(1, 3, 1, 1)), dim=-1)
        got = model.encode_image(x)
    assert torch.allclose(got, want, atol=1e-5)  # the file's weights, not a fresh initialisation
    t = model.encode_text(["a boot", "a red dress"])
    assert t.shape == (2, 32) and torch.allclose(t.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert model.encode_image(torch.rand(1, 1, 28, 28)).shape == (1, 32)  # grey 28 px in, RGB 32 px inside


def test_missing_weights_file_is_one_line_saying_where(tiny_open_clip, tmp_path):
    missing = tmp_path / "nowhere" / "open_clip_model.bin"
    with pytest.raises(GenlensError) as err:
        load_image_text_model(f"open_clip:{tiny_open_clip['config']}:{missing}")
    assert "\n" not in str(err.value) and str(missing) in str(err.value) and "put it" in str(err.value)
    with pytest.raises(GenlensError, match="not found"):
        load_image_text_model(f"open_clip:ViT-B-32:{missing}")


def test_bad_specs_and_mismatched_weights_are_one_line(tiny_open_clip, tmp_path):
    with pytest.raises(GenlensError, match="open_clip:<arch>:<weights file>"):
        load_image_text_model("open_clip:ViT-B-32")
    with pytest.raises(GenlensError, match="unknown image-text model"):
        load_image_text_model("no-such-model")
    with pytest.raises(GenlensError, match="open_clip has no model"):
        load_image_text_model(f"open_clip:NoSuchArch-99:{tiny_open_clip['pt']}")
    bad = tmp_path / "bad.pt"
    torch.save({"visual.proj": torch.zeros(3)}, bad)
    with pytest.raises(GenlensError) as err:
        load_image_text_model(f"open_clip:{tiny_open_clip['config']}:{bad}")
    assert "\n" not in str(err.value) and "could not load" in str(err.value)


def test_prompt_longer_than_the_context_is_one_line(tiny_open_clip):
    model = load_image_text_model(f"open_clip:{tiny_open_clip['config']}:{tiny_open_clip['pt']}")
    with pytest.raises(GenlensError, match="tokens long"):
        model.check("a very " * 12 + "long boot")


def test_folder_without_a_clip_model_is_one_line(tmp_path):
    with pytest.raises(GenlensError, match="genlens clip train"):
        load_fmnist_clip(tmp_path)
