"""DDPM training on the shared loop: the loss falls, resume is exact, the saved EMA model loads back."""
import dataclasses

import pytest
import torch

from genlens.diffusion import (
    CaptionTable,
    DiffusionTrainConfig,
    UNetConfig,
    load_diffusion,
    sample,
    save_diffusion,
    train_diffusion,
)
from genlens.diffusion.text import caption_source
from genlens.diffusion.train import noisy_tokens, pooled_only
from genlens.errors import GenlensError
from genlens.training import read_checkpoint_state


def _config(cond="class", steps=30, unet=None, **kw):
    return DiffusionTrainConfig(unet=unet or UNetConfig.tiny(cond, num_classes=2), steps=steps, batch_size=8, lr=3e-3,
                                warmup_steps=2, ema_decay=0.9, seed=3, **kw)


def _captions():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(6, 8, 384, generator=g)
    mask = torch.ones(6, 8, dtype=torch.bool)
    return CaptionTable(tokens, mask, torch.tensor([0, 1, 0, 1, 1, 0]))


@pytest.fixture(scope="module")
def trained(toy):
    images, labels = toy.data(64)
    return train_diffusion(images, labels, config=_config(), device="cpu")


def test_loss_goes_down(trained):
    losses = [h["loss"] for h in trained.history]
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)


def test_exact_resume(toy, tmp_path):
    images, labels = toy.data(32)
    cfg = _config(steps=6)
    full = train_diffusion(images, labels, config=cfg, device="cpu")
    train_diffusion(images, labels, config=cfg, device="cpu", run_dir=tmp_path, stop_at_step=3)
    assert read_checkpoint_state(tmp_path)["step"] == 3
    resumed = train_diffusion(images, labels, config=cfg, device="cpu", run_dir=tmp_path, resume=True)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history[3:]]
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_resume_with_other_config_is_refused(toy, tmp_path):
    images, labels = toy.data(16)
    train_diffusion(images, labels, config=_config(steps=2), device="cpu", run_dir=tmp_path, stop_at_step=1)
    with pytest.raises(GenlensError):
        train_diffusion(images, labels, config=_config(steps=2, cond_dropout=0.2), device="cpu", run_dir=tmp_path,
                        resume=True)


def test_resume_on_another_caption_set_is_refused_and_names_the_captions(toy, tmp_path):
    images, labels = toy.data(16)
    table = dataclasses.replace(_captions(), source="enc/aaaa")
    cfg = _config("text", steps=3)
    train_diffusion(images, labels, config=cfg, captions=table, device="cpu", run_dir=tmp_path, stop_at_step=1)
    other = dataclasses.replace(_captions(), source="enc/bbbb")
    with pytest.raises(GenlensError, match="captions"):
        train_diffusion(images, labels, config=cfg, captions=other, device="cpu", run_dir=tmp_path, resume=True)
    done = train_diffusion(images, labels, config=cfg, captions=table, device="cpu", run_dir=tmp_path, resume=True)
    assert [h["step"] for h in done.history] == [2, 3]


def test_caption_source_changes_with_any_caption_or_class():
    base = caption_source("minilm", ["a shoe", "a bag"], [7, 8])
    assert base.startswith("minilm/") and base == caption_source("minilm", ["a shoe", "a bag"], [7, 8])
    assert len({base, caption_source("minilm", ["a shoe", "a bags"], [7, 8]),
                caption_source("minilm", ["a shoe", "a bag"], [7, 9]),
                caption_source("other", ["a shoe", "a bag"], [7, 8])}) == 4


def test_text_conditional_trains_and_bf16_runs(toy):
    images, labels = toy.data(16)
    res = train_diffusion(images, labels, config=_config("text", steps=2, mixed_precision="bf16"),
                          captions=_captions(), device="cpu")
    assert len(res.history) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in res.history)
    with pytest.raises(GenlensError, match="caption"):
        train_diffusion(images, labels, config=_config("text", steps=1), device="cpu")


def test_save_and_load_ema_model(trained, toy, tmp_path):
    folder = save_diffusion(tmp_path / "m", trained.model, config=trained.config, class_names=toy.class_names,
                            command="test", metrics={"final_loss": trained.history[-1]["loss"]})
    bundle = load_diffusion(folder)
    assert bundle.kind == "diffusion-class" and bundle.class_names == toy.class_names
    assert bundle.schedule == trained.config.schedule
    y = torch.tensor([0, 1])
    a = sample(trained.model, y, steps=3, generator=torch.Generator().manual_seed(1))
    b = sample(bundle.model, y, steps=3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    from genlens.diffusion.io import read_train_config
    from genlens.utils.config_io import to_dict

    assert read_train_config(to_dict(trained.config), where="test") == trained.config


def test_caption_table_picks_captions_of_the_right_class():
    table = _captions()
    tokens, _ = table.pick(torch.tensor([1, 1, 0, 0, 1]), torch.Generator().manual_seed(0))
    for row, lab in zip(tokens, [1, 1, 0, 0, 1]):
        match = [i for i in range(6) if torch.equal(table.tokens[i], row)]
        assert len(match) == 1 and int(table.labels[match[0]]) == lab


def test_init_from_starts_at_the_saved_weights_and_checks_the_config(trained, toy, tmp_path):
    folder = save_diffusion(tmp_path / "phase1", trained.model, config=trained.config, class_names=toy.class_names,
                            command="test", metrics={})
    images, labels = toy.data(16)
    cfg = dataclasses.replace(_config(steps=1), lr=1e-12, warmup_steps=0, init_from=str(folder))  # lr ~0: no change
    phase2 = train_diffusion(images, labels, config=cfg, device="cpu")
    for k, v in trained.model.state_dict().items():
        torch.testing.assert_close(phase2.model.state_dict()[k], v, rtol=0, atol=1e-6, msg=k)
    other = DiffusionTrainConfig(unet=UNetConfig.tiny("class", num_classes=2, block_out_channels=(4, 8)), steps=1,
                                 batch_size=8, init_from=str(folder))
    with pytest.raises(GenlensError, match="block_out_channels"):
        train_diffusion(images, labels, config=other, device="cpu")


def test_pooled_only_hides_the_word_tokens_of_the_chosen_rows():
    tokens, mask = torch.randn(3, 4, 5), torch.tensor([[1, 1, 1, 0]] * 3, dtype=torch.bool)
    t, m = pooled_only(tokens, mask, torch.tensor([True, False, True]))
    assert m.tolist() == [[True, False, False, False], [True, True, True, False], [True, False, False, False]]
    torch.testing.assert_close(t[1], tokens[1])
    torch.testing.assert_close(t[[0, 2], 0], tokens[[0, 2], 0])
    assert t[[0, 2], 1:].abs().sum() == 0


def test_word_dropout_one_trains_on_the_pooled_token_alone(toy):
    """With word_dropout=1 the words never reach the denoiser: captions that differ only in their word tokens
    give the same training run, to the bit."""
    images, labels = toy.data(16)
    table = _captions()
    noisy = table.tokens.clone()
    noisy[:, 1:] = torch.randn(noisy[:, 1:].shape, generator=torch.Generator().manual_seed(9))
    other = CaptionTable(noisy, table.mask.clone(), table.labels.clone())
    cfg = _config("text", steps=3, unet=UNetConfig.tiny("text", num_classes=2, pooled_token=True), word_dropout=1.0)
    a = train_diffusion(images, labels, config=cfg, captions=table, device="cpu")
    b = train_diffusion(images, labels, config=cfg, captions=other, device="cpu")
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    c = train_diffusion(images, labels, config=dataclasses.replace(cfg, word_dropout=0.0), captions=other, device="cpu")
    assert [h["loss"] for h in c.history] != [h["loss"] for h in b.history]


def test_word_dropout_needs_a_pooled_text_model():
    with pytest.raises(GenlensError, match="pooled"):
        _config("text", unet=UNetConfig.tiny("text", num_classes=2), word_dropout=0.5)
    with pytest.raises(GenlensError, match="word_dropout"):
        _config("text", unet=UNetConfig.tiny("text", num_classes=2, pooled_token=True), word_dropout=1.5)


def test_noisy_tokens_scale_with_each_tokens_rms_and_skip_padding():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, 3, 4000, generator=g) * torch.tensor([1.0, 5.0, 0.0]).view(1, 3, 1)
    mask = torch.tensor([[True, True, False], [True, True, False]])
    noise = torch.randn(tokens.shape, generator=g)
    out = noisy_tokens(tokens, mask, torch.tensor([0.0, 0.5]), noise)
    torch.testing.assert_close(out[0], tokens[0])  # r = 0: unchanged
    added = (out[1] - tokens[1]).pow(2).mean(-1).sqrt()  # rms of the added noise per token
    torch.testing.assert_close(added[:2], torch.tensor([0.5, 2.5]), rtol=0.03, atol=0)
    assert added[2] == 0  # the padded slot stays zero


def test_cond_noise_changes_training_only_when_on_and_needs_text(toy):
    images, labels = toy.data(16)
    cfg = _config("text", steps=2)
    a = train_diffusion(images, labels, config=cfg, captions=_captions(), device="cpu")
    b = train_diffusion(images, labels, config=dataclasses.replace(cfg, cond_noise=1.0), captions=_captions(),
                        device="cpu")
    assert [h["loss"] for h in a.history] != [h["loss"] for h in b.history]
    with pytest.raises(GenlensError, match="--cond text"):
        _config("class", cond_noise=0.5)
    with pytest.raises(GenlensError, match="cond_noise"):
        _config("text", cond_noise=-1.0)
