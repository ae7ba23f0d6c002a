from __future__ import annotations

import dataclasses

import pytest
import torch

from genlens.errors import GenlensError
from genlens.inversion import INVERSION_METHODS, PIIConfig, invert, resolve_method
from genlens.inversion.augment import ColorShift, Flip, Jitter, Repeat
from genlens.inversion.methods.pii import PII_PRESETS, pii_stages, pii_transforms

TINY = 0.003  # steps_scale: 1 step per PII stage and DeepDream octave, 6 + 3 for DeepInversion


def test_pii_literal_preset_is_the_official_recipe() -> None:
    cfg = PII_PRESETS["pii-literal"]
    assert (cfg.lr, cfg.betas, cfg.stage_steps, cfg.n_stages) == (0.01, (0.5, 0.99), 400, 7)
    assert (cfg.color_mul, cfg.color_add, cfg.flip, cfg.tv, cfg.param) == (1.0, 1.0, False, 0.0, "pixels")
    assert (cfg.init_mean, cfg.init_scale, cfg.ensemble, cfg.feed_canvas) == (0.5, 1.0, 32, True)
    sizes = [s.size for s in pii_stages(cfg, (28, 28), 1.0)]
    assert [h for h, _ in sizes] == [7, 10, 14, 18, 21, 24, 28]  # 2/8 .. 8/8 of 28, rounded
    assert all(s.steps == 400 and s.margin is None for s in pii_stages(cfg, (28, 28), 1.0))
    chain = list(pii_transforms(cfg, (28, 28)))
    assert [type(t) for t in chain] == [Jitter, Repeat, ColorShift] and chain[1].copies == 32
    assert PII_PRESETS["pii-tuned"] != cfg and Flip not in [type(t) for t in pii_transforms(PII_PRESETS["pii-tuned"])]
    assert resolve_method("pii-paper", None) == ("pii", cfg)  # the old name of the literal recipe


@pytest.mark.parametrize("final, pixels", [((28, 28), 4), ((224, 224), 32), ((16, 16), 2)])
def test_pii_literal_jitter_is_one_seventh_of_the_final_size_at_every_stage(final, pixels) -> None:
    cfg = PII_PRESETS["pii-literal"]
    jitter = pii_transforms(cfg, final).transforms[0]
    limits = [jitter.limit(*s.size) for s in pii_stages(cfg, final, 1.0)]
    assert limits == [pixels] * 7  # ±32 px at 224, also on the 56-px first canvas
    tuned = pii_transforms(PII_PRESETS["pii-tuned"], final).transforms[0]  # follows the canvas
    assert [tuned.limit(*s.size) for s in pii_stages(cfg, final, 1.0)] != limits
    with pytest.raises(GenlensError, match="final size"):
        pii_transforms(cfg)


def _fed_sizes(handle, preset, *, n_targets: int = 2) -> tuple[torch.Tensor, list[tuple[int, ...]]]:
    seen: list[tuple[int, ...]] = []
    hook = handle.model.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    try:
        images = invert(handle, list(range(n_targets)), preset=preset, steps_scale=TINY, seed=0)
    finally:
        hook.remove()
    return images, seen


def test_pii_literal_feeds_a_cnn_the_small_canvas(toy_nobn) -> None:
    images, seen = _fed_sizes(toy_nobn, "pii-literal")
    assert images.shape == (2, 1, 16, 16) and 0 <= images.min() and images.max() <= 1
    fed = [s for s in seen if s[0] == 2 * 32]  # the optimisation steps: 2 images x 32 copies
    assert [s[-1] for s in fed] == [4, 6, 8, 10, 12, 14, 16]  # one step per stage, each at its canvas size
    _, zoomed = _fed_sizes(toy_nobn, "pii-tuned")
    assert {s[-2:] for s in zoomed} == {(16, 16)}  # the tuned preset zooms every canvas (and probes nothing)


def test_pii_literal_zooms_the_canvas_for_a_transformer(tiny_vit) -> None:
    images, seen = _fed_sizes(tiny_vit, "pii-literal")
    assert images.shape == (2, 1, 16, 16)
    fed = [s for s in seen if s[0] == 2 * 32]  # the optimisation steps (the size probe is a batch of one)
    assert [s[-2:] for s in fed] == [(16, 16)] * 7  # a fixed token count: every canvas zoomed to the input


def test_pii_default_preset_adds_rotation_and_scale_after_colorshift() -> None:
    from genlens.inversion.augment import RandomAffine

    chain = list(pii_transforms(PII_PRESETS["pii-tuned"]))
    assert [type(t) for t in chain] == [Jitter, Repeat, ColorShift, RandomAffine]
    assert (chain[-1].degrees, chain[-1].scale, chain[-1].padding_mode) == (10.0, (0.9, 1.1), "zeros")


def test_pii_affine_option_adds_a_zero_padded_random_affine_per_copy() -> None:
    import dataclasses

    from genlens.inversion.augment import RandomAffine

    cfg = dataclasses.replace(PII_PRESETS["pii-tuned"], affine_degrees=10.0, affine_scale=0.1)
    aff = list(pii_transforms(cfg))[-1]
    assert isinstance(aff, RandomAffine) and (aff.degrees, aff.scale, aff.translate) == (10.0, (0.9, 1.1), 0.0)
    x = torch.zeros(2, 1, 12, 12)
    x[:, :, 4:8, 4:8] = 1.0
    out = pii_transforms(cfg)(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2 * cfg.ensemble, 1, 12, 12) and not torch.equal(out[0], out[1])  # copies differ
    with pytest.raises(GenlensError, match="affine_scale"):
        PIIConfig(affine_scale=1.5)


def test_method_and_preset_resolution() -> None:
    assert resolve_method("pii", None)[1] == PII_PRESETS["pii-tuned"]
    assert resolve_method("pii", "pii-literal")[1] == PII_PRESETS["pii-literal"]
    assert resolve_method("pii-literal", None) == ("pii", PII_PRESETS["pii-literal"])
    custom = PIIConfig(ensemble=2)
    assert resolve_method("pii", custom)[1] is custom
    assert set(INVERSION_METHODS.available()) == {"pii", "deepdream", "deepinversion"}
    with pytest.raises(GenlensError, match="unknown preset 'nope' for method pii; choose one of: pii-literal, pii-tuned"):
        resolve_method("pii", "nope")
    with pytest.raises(GenlensError, match="unknown inversion method"):
        resolve_method("dream", None)


def test_old_preset_name_pii_still_means_the_tuned_preset() -> None:
    from genlens.inversion.api import renamed_preset

    assert resolve_method("pii", "pii") == ("pii", PII_PRESETS["pii-tuned"])  # the library's documented alias
    assert renamed_preset("pii") == "pii-tuned" and renamed_preset("pii-tuned") is None
    assert "pii" not in PII_PRESETS  # the default's name says it is a tuned variant, not PII itself


def test_deepinversion_without_batchnorm_says_so_in_one_line(toy_nobn) -> None:
    with pytest.raises(GenlensError) as err:
        invert(toy_nobn, [0], method="deepinversion", steps_scale=TINY)
    msg = str(err.value)
    assert "\n" not in msg and "DeepInversion needs BatchNorm layers" in msg
    assert "pii" in msg and "deepdream" in msg


def test_invert_checks_its_arguments(toy_bn) -> None:
    with pytest.raises(GenlensError, match="unknown class"):
        invert(toy_bn, ["no such class"], steps_scale=TINY)
    with pytest.raises(GenlensError, match="n \\(images per class\\)"):
        invert(toy_bn, [0], n=0)
    with pytest.raises(GenlensError, match="steps_scale"):
        invert(toy_bn, [0], steps_scale=0.0)


@pytest.mark.parametrize("method", ["pii", "pii-literal", "deepdream", "deepinversion"])
def test_each_method_smoke_on_the_shipped_cnn(fmnist_cnn, method: str) -> None:
    rows = []
    kw = {"method": method, "n": 2, "seed": 3, "steps_scale": TINY}
    a = invert(fmnist_cnn, ["Trouser", 8], callback=rows.append, **kw)
    b = invert(fmnist_cnn, ["Trouser", 8], **kw)
    assert a.shape == (4, 1, 28, 28) and a.dtype == torch.float32 and a.device.type == "cpu"
    assert a.min() >= 0 and a.max() <= 1 and a.std() > 0
    assert torch.equal(a, b)  # same seed, same images
    assert rows and rows[-1]["step"] == rows[-1]["total_steps"] - 1


def test_short_pii_run_makes_the_inverted_model_see_the_class(fmnist_cnn) -> None:
    # The tuned-preset recipe shortened to 150 steps: 3 canvas stages of 50 steps, a larger step (0.05) to
    # make up for the 18x shorter run, an ensemble of 4. The inverted model's own confidence is only a
    # check that the machinery optimises; image quality is judged by other models elsewhere (DESIGN.md 4).
    short = dataclasses.replace(PII_PRESETS["pii-tuned"], n_stages=3, stage_steps=50, lr=0.05, ensemble=4)
    targets = ["Trouser", "Bag"]
    images = invert(fmnist_cnn, targets, preset=short, seed=0)
    probs = fmnist_cnn.predict(images).softmax(-1)
    target_probs = probs[[0, 1], [fmnist_cnn.class_index(t) for t in targets]]
    assert (target_probs > 0.5).all(), target_probs  # chance is 0.1
