"""CLIP-only text inversion: the prompt's cosine similarity goes up, on a tiny open_clip model loaded from a
local file and on the shipped fmnist-clip; prompts are checked in one line before any work."""
from __future__ import annotations

import pytest
import torch

from genlens.clip.model import load_image_text_model, shipped_clip_folder
from genlens.errors import GenlensError
from genlens.inversion.methods.clip_text import (
    CLIP_TEXT_PRESETS,
    ClipTextConfig,
    invert_text,
    prompt_similarity,
    run_prompt_inversion,
)
from genlens.inversion.params import NoiseInit

PROMPTS = ["a red sports car", "a leather ankle boot"]
QUICK = ClipTextConfig(stage_fractions=(0.5, 1.0), stage_steps=15, ensemble=4, lr=0.05, tv=0.05,
                       padding_mode="reflection", init_mean=0.5, init_scale=0.2)


@pytest.fixture(scope="module")
def tiny(tiny_open_clip):
    return load_image_text_model(f"open_clip:{tiny_open_clip['config']}:{tiny_open_clip['pt']}")


def _start_similarity(model, config: ClipTextConfig, n_images: int, prompts, n: int = 1) -> torch.Tensor:
    c, h, w = model.input_size
    noise = NoiseInit(center=config.init_mean, scale=config.init_scale).sample(
        (n_images, c, h, w), generator=torch.Generator().manual_seed(1), device="cpu")
    return prompt_similarity(model, noise, prompts, n=n)


def test_tiny_open_clip_inversion_raises_the_prompt_similarity(tiny):
    steps = []
    images = invert_text(tiny, PROMPTS, n=2, seed=0, config=QUICK, callback=steps.append)
    assert images.shape == (4, 3, 32, 32) and 0.0 <= images.min() and images.max() <= 1.0
    assert len(steps) == 30 and steps[-1]["size"] == (32, 32) and steps[0]["size"] == (16, 16)
    after = prompt_similarity(tiny, images, PROMPTS, n=2)
    before = _start_similarity(tiny, QUICK, 4, PROMPTS, n=2)
    assert torch.all(after > before + 0.05), (before, after)
    assert steps[-1]["loss"] < steps[0]["loss"]


def test_inversion_is_repeatable_with_a_seed(tiny):
    cfg = ClipTextConfig(stage_fractions=(1.0,), stage_steps=3, ensemble=2, padding_mode="reflection")
    a = invert_text(tiny, PROMPTS[:1], seed=3, config=cfg)
    b = invert_text(tiny, PROMPTS[:1], seed=3, config=cfg)
    c = invert_text(tiny, PROMPTS[:1], seed=4, config=cfg)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("prompts", [[""], ["   "], ["a boot", ""], []])
def test_empty_prompt_is_one_line(tiny, prompts):
    with pytest.raises(GenlensError) as err:
        invert_text(tiny, prompts, config=QUICK)
    assert "\n" not in str(err.value) and "prompt" in str(err.value)


def test_bad_options_are_one_line(tiny):
    with pytest.raises(GenlensError, match="n must be"):
        invert_text(tiny, PROMPTS, n=0, config=QUICK)
    with pytest.raises(GenlensError, match="unknown clip preset"):
        invert_text(tiny, PROMPTS, config="nope")
    with pytest.raises(GenlensError, match="stage_fractions"):
        ClipTextConfig(stage_fractions=(0.0, 1.0))
    assert set(CLIP_TEXT_PRESETS) == {"clip", "clip-natural"}


def test_run_prompt_inversion_through_the_open_clip_spec(tiny_open_clip):
    spec = f"open_clip:{tiny_open_clip['config']}:{tiny_open_clip['safetensors']}"
    res = run_prompt_inversion(spec, ["a boot"], n=2, seed=0, steps_scale=0.02, device="cpu", callback=None)
    assert res.images.shape == (2, 3, 32, 32) and res.prompts == ["a boot", "a boot"]
    assert res.preset == "clip-natural" and len(res.similarity) == 2
    with pytest.raises(GenlensError, match="prompt is empty"):
        run_prompt_inversion(spec, [""], 1, 0, 1.0, "cpu", None)


@pytest.fixture(scope="module")
def fmnist_clip():
    if not (shipped_clip_folder() / "model.safetensors").is_file():
        pytest.skip("fmnist-clip is not trained; run `genlens clip train --out src/genlens/models/weights/fmnist-clip`")
    return load_image_text_model("fmnist-clip")


def test_shipped_fmnist_clip_inversion_raises_the_prompt_similarity(fmnist_clip):
    prompts = ["a leather ankle boot", "a pair of jeans"]
    cfg = CLIP_TEXT_PRESETS["clip"]
    images = invert_text(fmnist_clip, prompts, seed=0, steps_scale=0.25)
    assert images.shape == (2, 1, 28, 28)
    after = prompt_similarity(fmnist_clip, images, prompts)
    before = _start_similarity(fmnist_clip, cfg, 2, prompts)
    assert torch.all(after > before + 0.1), (before, after)


def test_zoo_cnn_recognises_the_prompts_class_better_than_chance(fmnist_clip):
    from genlens.models.load import load_model

    prompts, labels = ["a pair of trousers", "a pullover", "a coat", "a bag"], [1, 2, 4, 8]
    images = invert_text(fmnist_clip, prompts, seed=0, steps_scale=0.25)
    pred = load_model("fmnist-cnn").predict(images).argmax(1)
    assert float((pred == torch.tensor(labels)).float().mean()) >= 0.5, pred  # chance: 0.1
