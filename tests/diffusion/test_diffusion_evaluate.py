"""Diffusion evaluation on tiny denoisers: sampling helpers, scores, sweeps, prompts, the real-data floor, the
filmstrip, training-time grids (which must not disturb training) and ``genlens diffusion eval``."""
import json

import pytest
import torch
from torch import nn

from genlens.diffusion import DiffusionPipeline, sample, train_diffusion
from genlens.diffusion import evaluate as E
from genlens.diffusion.filmstrip import denoising_filmstrip
from genlens.errors import GenlensError
from genlens.metrics import compute_fid
from genlens.models.handle import ModelHandle


class BlobBar(nn.Module):
    """A fixed 'classifier' for the toy data: the tall block lights rows 4..9, the wide bar columns 2..8."""

    def forward_features(self, x):
        x = x * 0.5 + 0.5  # undo the handle's normalisation
        return torch.stack([x[:, 0, 4:9, 9:19].mean((1, 2)), x[:, 0, 10:18, 2:8].mean((1, 2)),
                            x.mean((1, 2, 3))], dim=1)  # (B, 3)

    def forward_head(self, f, pre_logits=False):
        return f if pre_logits else 10 * f[:, :2]  # (B, 2): Blob, Bar

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


@pytest.fixture(scope="module")
def judge_handle(toy):
    return ModelHandle(model=BlobBar(), name="blobbar", mean=(0.5,), std=(0.5,), input_size=(1, 28, 28),
                       class_names=toy.class_names)


@pytest.fixture(scope="module")
def reference(toy, judge_handle):
    images, _ = toy.data(32)
    return E.Reference.build(images.float() / 255, extractor=judge_handle)


def test_balanced_class_samples_are_seeded(toy):
    model = toy.denoiser("class")
    a, labels = E.generate_class_samples(model, 5, steps=2, seed=1, batch_size=2)
    b, _ = E.generate_class_samples(model, 5, steps=2, seed=1, batch_size=2)
    c, _ = E.generate_class_samples(model, 5, steps=2, seed=2, batch_size=2)
    assert a.shape == (5, 1, 28, 28) and 0 <= a.min() and a.max() <= 1
    assert labels.tolist() == [0, 1, 0, 1, 0]
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    with pytest.raises(GenlensError):
        E.balanced_labels(0, 2)


def test_class_grid_rows_and_text_models(toy):
    model = toy.denoiser("class")
    grid = E.class_grid(model, per_class=3, steps=2, seed=0)
    assert grid.shape == (6, 1, 28, 28)
    torch.testing.assert_close(grid, E.class_grid(model, per_class=3, steps=2, seed=0))
    text = toy.denoiser("text")
    tokens = toy.text_cond(2)
    assert E.class_grid(text, per_class=2, steps=2, class_tokens=tokens).shape == (4, 1, 28, 28)
    with pytest.raises(GenlensError, match="one prompt per class"):
        E.class_grid(text, per_class=1, steps=1)


def test_reference_matches_the_metrics_api(toy, judge_handle, reference):
    images, _ = toy.data(32)
    fake = images[:16].float() / 255 * 0.8
    ours = reference.fid(reference.extractor.features(fake))
    theirs = compute_fid(images.float() / 255, fake, extractor=judge_handle)
    assert ours.n_fake == 16 and ours.n_real == 32 and ours.extractor == "blobbar"
    assert ours.value == pytest.approx(theirs.value, rel=1e-6)


def test_score_samples_on_real_images_is_perfect(toy, judge_handle, reference):
    images, labels = toy.data(16)
    r = E.score_samples(images.float() / 255, labels, reference=reference, judges=[judge_handle],
                        class_names=toy.class_names)
    assert r["accuracy"] == 1.0 and r["per_class_accuracy"] == {"Blob": 1.0, "Bar": 1.0}
    assert r["fid"]["value"] < 1e-3 and r["kid"]["n_fake"] == 16 and r["judges"]["blobbar"]["top1"] == 1.0


def test_evaluate_class_model_reports_counts(toy, judge_handle, reference):
    pipe = DiffusionPipeline.from_model(toy.denoiser("class"), class_names=toy.class_names)
    r = E.evaluate_class_model(pipe, n=6, steps=2, reference=reference, judges=[judge_handle], batch_size=4)
    assert r["n"] == 6 and r["fid"]["n_fake"] == 6 and r["fid"]["extractor"] == "blobbar"
    assert r["sampler"] == "ddim" and r["guidance"] == 3.0 and set(r["per_class_accuracy"]) == {"Blob", "Bar"}
    assert 0 <= r["accuracy"] <= 1 and r["seconds"] > 0
    with pytest.raises(GenlensError, match="test images"):
        E.evaluate_class_model(toy.denoiser("class"), n=2, steps=1, judges=[judge_handle])


def test_sweeps_and_the_fast_vs_full_ratio(toy, judge_handle, reference):
    model = DiffusionPipeline.from_model(toy.denoiser("class"), class_names=toy.class_names)
    common = dict(reference=reference, judges=[judge_handle], kid=False)
    rows = E.guidance_sweep(model, scales=(0, 3), n=4, steps=2, **common)
    assert [r["guidance"] for r in rows] == [0.0, 3.0] and all(r["n"] == 4 for r in rows)
    rows = E.steps_sweep(model, points=(("ddim", 2), ("dpm++", 2), ("ddpm", 6)), n=4, n_slow=2, slow_steps=4,
                         compare=(("ddim", 2), ("dpm++", 2)), **common)
    assert [(r["sampler"], r["steps"], r["n"]) for r in rows] == [("ddim", 2, 4), ("dpm++", 2, 4), ("ddpm", 6, 2),
                                                                     ("ddim", 2, 2), ("dpm++", 2, 2)]
    cmp = E.fast_vs_full(rows, fast=("ddim", 2), full=("ddpm", 6))
    assert cmp["n"] == 2 and cmp["ratio"] == pytest.approx(rows[3]["fid"] / rows[2]["fid"])
    dpm = E.fast_vs_full(rows, fast=("dpm++", 2), full=("ddpm", 6))
    assert dpm["n"] == 2 and dpm["ratio"] == pytest.approx(rows[4]["fid"] / rows[2]["fid"])
    assert E.fast_vs_full(rows[:2]) is None
    # no slow point: nothing extra is run at the small n
    rows = E.steps_sweep(model, points=(("ddim", 2),), n=4, n_slow=2, slow_steps=4, **common)
    assert [(r["sampler"], r["n"]) for r in rows] == [("ddim", 4)]


def test_prompt_accuracy(toy, judge_handle):
    model = DiffusionPipeline.from_model(toy.denoiser("text"), class_names=toy.class_names)
    tokens = toy.text_cond(3)
    r = E.evaluate_prompts(model, ["p0", "p1", "p2"], [0, 1, 0], tokens, k=2, steps=2, judges=[judge_handle])
    assert r["n"] == 6 and [p["prompt"] for p in r["per_prompt"]] == ["p0", "p1", "p2"]
    assert r["per_prompt"][1]["class"] == "Bar" and r["accuracy"] == pytest.approx(
        sum(p["accuracy"] for p in r["per_prompt"]) / 3)
    ci = r["accuracy_interval"]  # bootstrap over the 3 prompts, not the 6 images
    assert ci["unit"] == "prompt" and ci["n"] == 3 and ci["method"] == "bootstrap-percentile"
    assert ci["low"] <= ci["estimate"] <= ci["high"] and ci["estimate"] == pytest.approx(r["accuracy"])
    one = E.evaluate_prompts(model, ["p0"], [0], (tokens[0][:1], tokens[1][:1]), k=2, steps=1, judges=[judge_handle])
    assert one["accuracy_interval"] is None  # one prompt has no spread to resample
    with pytest.raises(GenlensError, match="text-conditional"):
        E.evaluate_prompts(toy.denoiser("class"), ["p"], [0], tokens, k=1, judges=[judge_handle])


def test_real_reference_floor(toy, reference):
    images, _ = toy.data(32)
    x = images.float() / 255
    r = E.real_reference(reference, x, n=8, other_images01=x.flip(0))
    assert r["fid_test_halves"]["n_fake"] == 16 and r["fid_real_n"]["n_fake"] == 8
    assert r["fid_real_n"]["source"] == "train"
    with pytest.raises(GenlensError, match="lower n"):
        E.real_reference(reference, x, n=100)


def test_filmstrip_ends_where_sample_ends(toy):
    model = toy.denoiser("class")
    y = torch.tensor([0, 1])
    film = denoising_filmstrip(model, y, steps=5, frames=3, generator=torch.Generator().manual_seed(4))
    ref = sample(model, y, steps=5, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(film.images, ref)
    assert film.x_t.shape == film.x0.shape == (3, 2, 1, 28, 28)
    assert film.timesteps == sorted(film.timesteps, reverse=True) and len(film.timesteps) == 3
    assert film.rows().shape == (2 * 2 * 4, 1, 28, 28)


def test_training_grids_do_not_disturb_training(toy, tmp_path):
    from genlens.cli.diffusion_eval import grid_writer
    from genlens.diffusion import DiffusionTrainConfig, UNetConfig

    images, labels = toy.data(16)
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("class", num_classes=2), steps=4, batch_size=4, lr=3e-3,
                               warmup_steps=1, ema_decay=0.9, seed=3)
    plain = train_diffusion(images, labels, config=cfg, device="cpu")
    seen = []
    cb = grid_writer(seen.append, every=2, out=tmp_path, class_names=toy.class_names, per_class=2)
    gridded = train_diffusion(images, labels, config=cfg, device="cpu", callback=cb)
    assert [h["loss"] for h in gridded.history] == [h["loss"] for h in plain.history]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    assert len(seen) == 4 and "ema_model" in seen[0]


def test_prompt_token_cache(tmp_path, monkeypatch):
    import genlens.text
    from genlens.diffusion.prompt_cache import cached_prompt_tokens

    calls = []

    class Fake:
        name = "minilm"

        def check(self, text):
            return text

        def encode_tokens(self, texts, *, max_tokens):
            calls.append(list(texts))
            return torch.randn(len(texts), max_tokens, 384), torch.ones(len(texts), max_tokens, dtype=torch.bool)

    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: Fake())
    a = cached_prompt_tokens(["a bag", "a boot"], max_tokens=4, cache_dir=tmp_path)
    b = cached_prompt_tokens(["a bag", "a boot"], max_tokens=4, cache_dir=tmp_path)
    assert len(calls) == 1 and a[0].shape == (2, 4, 384)
    torch.testing.assert_close(a[0], b[0])
    assert torch.equal(a[1], b[1])


# ----------------------------------------------------------------------------------------- the CLI


def test_train_grids_then_eval_cli(run, tiny_fmnist, tmp_path, monkeypatch):
    import functools

    import genlens.cli.diffusion_eval as cli_eval

    monkeypatch.setattr(cli_eval, "grid_writer", functools.partial(cli_eval.grid_writer, per_class=1))  # speed
    data = tiny_fmnist(n_train=16, n_test=8)
    model = tmp_path / "m"
    code, _, err = run(["train", "--cond", "class", "--steps", "2", "--batch", "4", "--tiny", "--device", "cpu",
                        "--data-dir", data, "--out", model, "--grid-every", "2", "--json"])
    assert code == 0, err
    assert [p.name for p in (model / "samples").iterdir()] == ["step_000002.png"]
    out = tmp_path / "eval"
    code, stdout, err = run(["eval", model, "--n", "4", "--steps", "2", "--sweep", "guidance", "--scales", "3",
                             "--guidance-interval", "1,999", "--data-dir", data, "--device", "cpu", "--out", out,
                             "--json"])
    assert code == 0, err
    result = json.loads(stdout)
    assert stdout.count("\n") == 1
    ev = result["class_eval"]
    assert ev["n"] == 4 and ev["fid"]["extractor"] == "genlens-fmnist" and ev["judge"] == "fmnist-cnn"
    assert ev["guidance_interval"] == [1, 999]
    assert (result["guidance_interval"], result["sources"]["guidance_interval"]) == ([1, 999], "user")
    assert result["guidance_sweep"][0]["guidance_interval"] == [1, 999]  # sweeps record it too
    assert result["reference"]["fid_real_n"]["n_fake"] == 4
    assert [r["guidance"] for r in result["guidance_sweep"]] == [3.0]
    for name in ("eval.json", "samples.png", "per_class_accuracy.png", "guidance_sweep.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "eval.json").read_text())["class_eval"]["n"] == 4


def test_eval_cli_bad_inputs(run, model_folder, tmp_path):
    code, _, err = run(["eval", model_folder("class"), "--sweep", "speed", "--out", tmp_path])
    assert code == 2 and "unknown" in err and "guidance or steps" in err
    code, _, err = run(["eval", model_folder("class"), "--prompts", "--out", tmp_path])
    assert code == 2 and "text-conditional" in err
    code, _, err = run(["eval", model_folder("text"), "--prompts", "--prompt-set", "test", "--out", tmp_path])
    assert code == 2 and "held_out or validation" in err
    code, _, err = run(["eval", model_folder("class"), "--guidance-interval", "9,1", "--out", tmp_path])
    assert code == 2 and "lo <= hi" in err
    code, out, _ = run(["eval", "--help"])
    assert code == 0 and "Example" in out
