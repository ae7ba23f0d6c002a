"""``genlens diffusion sample|train`` through a local typer app (cli/main.py registers it for real)."""
import json

import pytest

from genlens.text import check_prompt


class FakeEncoder:
    """Stands in for MiniLM (11 s to load): same prompt checks, random token embeddings."""

    name = "minilm"

    def check(self, text):
        return check_prompt(text)

    def encode_tokens(self, texts, *, max_tokens, pooled=False):
        import torch

        self.pooled_calls = [*getattr(self, "pooled_calls", []), pooled]

        return torch.randn(len(texts), max_tokens, 384), torch.ones(len(texts), max_tokens, dtype=torch.bool)

    def encode(self, texts):  # pooled sentence vectors: what caption anchoring retrieves with
        import torch

        return torch.nn.functional.normalize(torch.randn(len(texts), 384), dim=-1)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Fake embeddings must never land in the user's real MiniLM caches (~/.cache/genlens/text)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def fake_text(monkeypatch):
    import genlens.text

    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: FakeEncoder())


def test_sample_all_classes_writes_the_contract(run, model_folder, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run(["sample", model_folder("class"), "--all-classes", "--n", "2", "--steps", "2",
                             "--out", out, "--json", "--filmstrip"])
    assert code == 0, err
    result = json.loads(stdout)
    assert stdout.count("\n") == 1 and result["images"] == 4 and result["guidance"] == 3.0
    for name in ("Blob", "Bar"):
        assert sorted(p.name for p in (out / name).iterdir()) == ["0.png", "1.png"]
    assert (out / "grid.png").is_file() and (out / "filmstrip.png").is_file()
    assert json.loads((out / "run.json").read_text())["seed"] == 0


def test_sample_text_model_with_prompt(run, model_folder, tmp_path, fake_text):
    out = tmp_path / "t"
    code, _, err = run(["sample", model_folder("text"), "--prompt", "a leather ankle boot", "--n", "2",
                        "--steps", "2", "--sampler", "dpm++", "--out", out, "--json"])
    assert code == 0, err
    assert (out / "a_leather_ankle_boot" / "1.png").is_file()


def test_a_pooled_text_model_gets_pooled_prompts(run, tmp_path, monkeypatch):
    """The token layout travels with the model: a pooled_token model's prompts are encoded pooled."""
    import genlens.text
    from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, save_diffusion

    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("text", num_classes=2, pooled_token=True), steps=1)
    folder = save_diffusion(tmp_path / "pooled", Denoiser(cfg.unet), config=cfg, class_names=("Blob", "Bar"),
                            command="test", metrics={})
    enc = FakeEncoder()
    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: enc)
    code, _, err = run(["sample", folder, "--prompt", "a boot", "--n", "1", "--steps", "1", "--out", tmp_path / "o"])
    assert code == 0, err
    assert enc.pooled_calls == [True]


@pytest.mark.parametrize(("case", "words"), [
    ("unknown class", "unknown class 'Sneaker'"),
    ("guidance on unconditional", "unconditional"),
    ("classifier folder", "not a diffusion model"),
    ("empty prompt", "prompt is empty"),
    ("long prompt", "limit is 64"),
    ("prompt on class model", "class-conditional"),
    ("unknown sampler", "unknown sampler"),
    ("missing default model", "genlens diffusion train"),
])
def test_bad_inputs_are_one_line_errors(case, words, run, model_folder, tmp_path, fake_text, monkeypatch):
    out = ["--out", tmp_path / "o", "--steps", "1", "--n", "1"]
    if case == "classifier folder":
        from genlens.models.load import shipped_folder

        args = ["sample", shipped_folder("fmnist-cnn"), "--class", "Bag"]  # a classifier folder
    elif case == "missing default model":
        import genlens.models.load

        monkeypatch.setattr(genlens.models.load, "WEIGHTS_ROOT", tmp_path / "no-weights")
        args = ["sample", "--class", "Bag"]
    else:
        args = {
            "unknown class": ["sample", model_folder("class"), "--class", "Sneaker"],
            "guidance on unconditional": ["sample", model_folder("none"), "--guidance", "3"],
            "empty prompt": ["sample", model_folder("text"), "--prompt", "  "],
            "long prompt": ["sample", model_folder("text"), "--prompt", "word " * 65],
            "prompt on class model": ["sample", model_folder("class"), "--prompt", "a bag"],
            "unknown sampler": ["sample", model_folder("class"), "--class", "Bar", "--sampler", "euler"],
        }[case]
    code, _, err = run([*args, *out])
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("genlens: error:") and words in lines[0], err


def test_train_smoke_on_tiny_data(run, tiny_fmnist, tmp_path, model_folder):
    data = tiny_fmnist(n_train=16, n_test=8)
    out = tmp_path / "trained"
    code, stdout, err = run(["train", "--cond", "class", "--steps", "2", "--batch", "4", "--tiny", "--device", "cpu",
                             "--data-dir", data, "--out", out, "--json"])
    assert code == 0, err
    assert json.loads(stdout)["steps"] == 2
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["kind"] == "diffusion-class" and cfg["class_names"][9] == "Ankle boot"
    assert (out / "checkpoints" / "last").is_dir() and (out / "manifest.json").is_file()
    code, _, err = run(["sample", out, "--class", "ankle boot", "--n", "1", "--steps", "1", "--out", tmp_path / "s"])
    assert code == 0, err
    assert (tmp_path / "s" / "Ankle_boot" / "0.png").is_file()


@pytest.mark.parametrize("command", ["train", "sample"])
def test_help_has_examples(run, command):
    code, out, _ = run([command, "--help"])
    assert code == 0 and "Example" in out and "--seed" in out


def test_text_training_records_its_captions_and_refuses_to_resume_on_others(run, tiny_fmnist, tmp_path, fake_text,
                                                                            monkeypatch):
    import genlens.data.captions as captions

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = tiny_fmnist(n_train=16, n_test=8)
    out = tmp_path / "text"
    args = ["train", "--cond", "text", "--steps", "2", "--batch", "4", "--tiny", "--device", "cpu", "--data-dir", data,
            "--out", out, "--json"]
    code, _, err = run(args)
    assert code == 0, err
    texts, labels = captions.all_captions()
    recorded = json.loads((out / "manifest.json").read_text())["metrics"]["captions"]
    assert recorded["count"] == len(texts) and recorded["source"].startswith("minilm/")
    monkeypatch.setattr(captions, "all_captions", lambda *_: (texts[:-1], labels[:-1]))
    code, _, err = run([*args, "--resume"])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and "captions" in lines[0], err


def test_sample_guidance_interval_recorded_and_checked(run, model_folder, tmp_path):
    out = tmp_path / "gi"
    code, stdout, err = run(["sample", model_folder("class"), "--class", "Bar", "--n", "1", "--steps", "2",
                             "--guidance-interval", "100,800", "--out", out, "--json"])
    assert code == 0, err
    assert json.loads(stdout)["guidance_interval"] == [100, 800]
    assert json.loads((out / "run.json").read_text())["config"]["guidance_interval"] == [100, 800]
    for bad in ("800,100", "a,b", "5"):
        code, _, err = run(["sample", model_folder("class"), "--class", "Bar", "--n", "1", "--steps", "2",
                            "--guidance-interval", bad, "--out", tmp_path / "bad"])
        assert code != 0 and "guidance-interval" in err.replace("guidance interval", "guidance-interval")
        assert len(err.strip().splitlines()) == 1, err


def test_a_prompt_never_names_a_folder_outside_out(run, model_folder, tmp_path, fake_text):
    out = tmp_path / "box" / "t"
    code, _, err = run(["sample", model_folder("text"), "--prompt", "../../escape", "--n", "1", "--steps", "1",
                        "--out", out])
    assert code == 0, err
    written = list((tmp_path / "box").rglob("*.png"))
    assert written and all(out in p.parents for p in written)
    assert len([p for p in out.iterdir() if p.is_dir()]) == 1
