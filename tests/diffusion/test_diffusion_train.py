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


@pytest.mark.parametrize("name", ["fmnist-ddpm", "fmnist-ddpm-guide", "fmnist-ddpm-text"])
def test_shipped_train_blocks_load(name, shipped_dir):
    """The shipped folders' "train" blocks load; fmnist-ddpm's still names the removed word_dropout and
    cond_noise, at the values that mean today's training."""
    from genlens.diffusion.io import read_train_config
    from genlens.utils.io import read_json

    config = read_train_config(read_json(shipped_dir(name) / "config.json")["train"], where=name)
    assert config.unet.cond in ("class", "text") and config.cond_dropout == 0.1


def test_removed_training_options_refuse_other_values():
    from genlens.diffusion.io import read_train_config
    from genlens.utils.config_io import to_dict

    data = to_dict(_config("text"))
    assert read_train_config({**data, "word_dropout": 0.0, "cond_noise": 0}, where="old") == _config("text")
    for key in ("word_dropout", "cond_noise"):
        with pytest.raises(GenlensError, match=key) as e:
            read_train_config({**data, key: 0.5}, where="old run.json")
        assert "\n" not in str(e.value)


def test_text_folder_records_its_caption_round_and_old_blocks_read_as_round_1(tmp_path):
    from genlens.diffusion.io import read_train_config
    from genlens.diffusion.unet import Denoiser
    from genlens.utils.config_io import to_dict

    cfg = _config("text", steps=1)
    assert cfg.caption_round == 2  # a new run trains on the latest round
    model = Denoiser(cfg.unet).eval()
    for rnd in (1, 2):
        folder = save_diffusion(tmp_path / f"r{rnd}", model, config=dataclasses.replace(cfg, caption_round=rnd),
                                class_names=("a", "b"), command="test", metrics={})
        assert load_diffusion(folder).caption_round == rnd
    old = to_dict(cfg)
    old.pop("caption_round")
    assert read_train_config(old, where="old").caption_round == 1
    with pytest.raises(GenlensError, match="caption round 7 is unknown"):
        dataclasses.replace(cfg, caption_round=7)
