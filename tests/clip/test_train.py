"""Contrastive training of fmnist-clip: the loss's maths, a 5-step smoke run, evaluation and the CLI."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from genlens.clip.train import (
    ClipTrainConfig,
    class_prompts,
    evaluate_clip,
    multi_positive_clip_loss,
    train_fmnist_clip,
)
from genlens.errors import GenlensError


def test_loss_with_distinct_labels_is_clips_symmetric_cross_entropy():
    torch.manual_seed(0)
    img, txt = F.normalize(torch.randn(6, 8), dim=-1), F.normalize(torch.randn(6, 8), dim=-1)
    logits = 10.0 * img @ txt.T
    want = 0.5 * (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6)))
    got = multi_positive_clip_loss(img, txt, torch.arange(6), torch.tensor(10.0))
    assert torch.allclose(got, want, atol=1e-6)


def test_loss_treats_same_class_captions_as_positives():
    # two images of one class, their captions swapped: no penalty beyond the uniform split over positives
    img = torch.eye(2)
    txt = torch.eye(2)[[1, 0]]
    same = multi_positive_clip_loss(img, txt, torch.tensor([0, 0]), torch.tensor(10.0))
    distinct = multi_positive_clip_loss(img, txt, torch.tensor([0, 1]), torch.tensor(10.0))
    assert same < distinct
    # rows: log-softmax of (10, 0) / (0, 10) against the target (1/2, 1/2): 10/2 + log(1 + e^-10)
    assert float(same) == pytest.approx(5.0 + float(torch.log1p(torch.exp(torch.tensor(-10.0)))), abs=1e-5)


def test_bad_config_is_one_line():
    with pytest.raises(GenlensError, match="batch_size"):
        ClipTrainConfig(batch_size=1)


def test_global_batch_must_split_over_the_processes(fmnist_test, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as accelerate launch --num_processes 2 sets it; refused before joining
    with pytest.raises(GenlensError, match="--batch 15 is not divisible by the 2 processes") as err:
        train_fmnist_clip(fmnist_test, device=torch.device("cpu"), config=ClipTrainConfig(batch_size=15))
    assert "\n" not in str(err.value)


def test_five_step_smoke_run_and_evaluation(fmnist_test, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the caption cache goes to a temporary folder
    cfg = ClipTrainConfig(epochs=5, batch_size=16, limit_images=64, captions_per_class=3, warmup_steps=1)
    seen = []
    result = train_fmnist_clip(fmnist_test, device=torch.device("cpu"), config=cfg, callback=seen.append,
                               max_steps=5)
    assert [s["step"] for s in seen] == [1, 2, 3, 4, 5] and all(torch.isfinite(torch.tensor(s["loss"])) for s in seen)
    assert not result.model.training
    metrics = evaluate_clip(result.model, fmnist_test.take(200))
    assert 0.0 <= metrics["zero_shot_top1"] <= 1.0 and len(metrics["heldout_prompt_hits"]) == 20
    assert class_prompts(("Ankle boot",)) == ["a photo of a ankle boot"]


def test_cli_train_writes_a_loadable_model_folder(fmnist_dir, tmp_path, monkeypatch, cli):
    import typer

    from genlens.cli.clip import app
    from genlens.clip.model import load_image_text_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = typer.Typer()
    root.add_typer(app, name="clip")
    from genlens.cli import main as main_mod

    monkeypatch.setattr(main_mod, "app", root)
    out = tmp_path / "model"
    args = ["clip", "train", "--out", str(out), "--epochs", "1", "--batch", "16",
            "--limit-images", "48", "--captions-per-class", "2", "--limit", "100",
            "--data-dir", str(fmnist_dir), "--json"]
    monkeypatch.setattr("sys.argv", ["genlens", *args])
    code, stdout, _ = cli(args)
    assert code == 0, stdout
    summary = json.loads(stdout)
    assert set(summary) >= {"zero_shot_top1", "heldout_prompt_acc"}
    config = json.loads((out / "config.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert config["kind"] == "clip" and "zero_shot_top1" in manifest["metrics"]
    assert manifest["command"].startswith("genlens clip train")
    model = load_image_text_model(str(out))
    assert model.encode_image(torch.rand(1, 1, 28, 28)).shape == (1, 384)
    code, stdout, _ = cli(["clip", "eval", str(out), "--limit", "100", "--data-dir", str(fmnist_dir), "--json"])
    assert code == 0 and json.loads(stdout)["test_images"] == 100
