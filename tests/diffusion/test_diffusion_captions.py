"""Text diffusion on a captioned folder: each image is conditioned on its own caption (captions.jsonl or a .txt
beside it), uncaptioned images take the null condition, and the trained folder samples prompts by path."""
from __future__ import annotations

import json

import pytest
import torch
from captioned_data import CAPTIONS, TextSeeded, captioned_folder, use_seeded_text
from PIL import Image

from genlens.data.folder import load_image_folder
from genlens.diffusion import DiffusionTrainConfig, UNetConfig, train_diffusion
from genlens.diffusion.text import caption_table, image_caption_table
from genlens.diffusion.train import CaptionTable, diffusion_loss
from genlens.errors import GenlensError


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Fake embeddings must never land in the user's real MiniLM caches (~/.cache/genlens/text)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def seeded_text(monkeypatch, tmp_path):
    use_seeded_text(monkeypatch, tmp_path)


def test_the_table_holds_each_images_own_caption(tmp_path):
    data = load_image_folder(captioned_folder(tmp_path / "f"), channels=3, size=None)
    assert data.captions == tuple(CAPTIONS)
    enc = TextSeeded()
    table = caption_table(data, enc, max_tokens=8, caption_round=1, cache_dir=tmp_path / "c")
    assert table.per_image and table.labels.tolist() == [0, 1, 2]  # one row per captioned image
    for i, text in enumerate(CAPTIONS[:3]):
        assert torch.allclose(table.tokens[i], enc.encode_tokens([text], max_tokens=8)[0][0].half().float())
        tokens, _ = table.pick(torch.tensor([i]), torch.Generator().manual_seed(0))
        assert torch.equal(tokens[0], table.tokens[i])  # an image draws its own caption
    assert table.captioned(torch.arange(4)).tolist() == [True, True, True, False]
    assert table.record() | {"source": None} == {"source": None, "count": 3, "from": "images", "images": 4,
                                                 "uncaptioned": 1}
    again = image_caption_table(enc, data.captions, max_tokens=8, cache_dir=tmp_path / "c")  # from the disk cache
    assert again.source == table.source and torch.equal(again.tokens, table.tokens)
    other = image_caption_table(enc, ["a red square", "", "a blue square", "a green square"], max_tokens=8,
                                cache_dir=tmp_path / "c")
    assert other.source != table.source  # the same texts on other images are another caption set


def test_uncaptioned_and_unlabelled_data_are_one_line_errors(tmp_path):
    data = load_image_folder(captioned_folder(tmp_path / "f"), channels=3, size=None)
    bare = data.__class__(data.images, data.labels, data.class_names, name="folder/bare")
    with pytest.raises(GenlensError, match="neither captions nor Fashion-MNIST's classes; add ROOT/captions.jsonl"):
        caption_table(bare, TextSeeded(), max_tokens=8, caption_round=1)
    with pytest.raises(GenlensError, match="none of the 2 images has a caption"):
        image_caption_table(TextSeeded(), ["", " "], max_tokens=8)
    with pytest.raises(GenlensError, match=r"the caption of image 1 .* is refused: the prompt has 70 words") as err:
        image_caption_table(TextSeeded(), ["ok", "word " * 70], max_tokens=8)
    assert "\n" not in str(err.value)


def test_uncaptioned_images_train_with_the_null_condition(toy):
    model = toy.denoiser("text")
    x0 = torch.rand(3, 1, 32, 32) * 2 - 1
    acp = torch.linspace(0.99, 0.01, 1000)
    a, b = toy.text_cond(3, seed=1), toy.text_cond(3, seed=2)
    everyone = torch.ones(3, dtype=torch.bool)

    def loss(cond, null):
        return diffusion_loss(model, x0, cond, alphas_cumprod=acp, generator=torch.Generator().manual_seed(0),
                              cond_dropout=0.1, null=null)

    assert loss(a, everyone) == loss(b, everyone)  # the tokens of a null row never reach the model
    assert loss(a, ~everyone) != loss(b, ~everyone)


def test_training_checks_the_table_against_the_images(toy):
    images, labels = toy.data(4)
    tokens, mask = toy.text_cond(2)
    table = CaptionTable(tokens, mask, torch.tensor([0, 2]), "t", per_image=True, groups=4)
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("text", num_classes=2), steps=1, batch_size=2, warmup_steps=1)
    with pytest.raises(GenlensError, match="captions_from='classes' but the caption table is per image"):
        train_diffusion(images, labels, config=cfg, captions=table, device="cpu")
    cfg = DiffusionTrainConfig(**{**cfg.__dict__, "captions_from": "images"})
    with pytest.raises(GenlensError, match="covers 4 images but there are 3"):
        train_diffusion(images[:3], labels[:3], config=cfg, captions=table, device="cpu")
    assert train_diffusion(images, labels, config=cfg, captions=table, device="cpu").history


def test_a_captioned_folder_trains_samples_by_prompt_and_resumes_only_on_its_captions(cli, tmp_path, seeded_text):
    root = captioned_folder(tmp_path / "photos")
    out = tmp_path / "m"
    args = ["diffusion", "train", "--data", f"folder:{root}", "--cond", "text", "--channels", "3", "--tiny",
            "--steps", "2", "--batch", "4", "--grid-every", "2", "--out", out, "--device", "cpu", "--json"]
    code, stdout, err = cli(args)
    assert code == 0, err
    assert json.loads(stdout)["cond"] == "text"
    assert "1 of 4 image(s) have no caption: with --cond text they train with the null condition" in " ".join(err.split())
    record = json.loads((out / "manifest.json").read_text())["metrics"]["captions"]
    assert record["count"] == 3 and record["images"] == 4 and record["uncaptioned"] == 1
    assert record["source"].startswith("minilm/")
    assert json.loads((out / "config.json").read_text())["train"]["captions_from"] == "images"
    assert Image.open(out / "samples" / "step_000002.png").size[1] > 32  # a row per training caption

    code, stdout, err = cli(["diffusion", "sample", out, "--prompt", "a red square", "--n", "2", "--steps", "2",
                             "--out", tmp_path / "s", "--json"])
    assert code == 0, err
    assert json.loads(stdout)["anchors"] == 0  # Fashion-MNIST anchors never meet a model of its own captions
    img = Image.open(tmp_path / "s" / "a_red_square" / "1.png")
    assert img.size == (32, 32) and img.mode == "RGB"
    for flags, words in ((["--class", "0"], "describe what to draw with a prompt"),
                         (["--prompt", "a red square", "--anchors", "4"], "sample with --anchors 0")):
        code, _, err = cli(["diffusion", "sample", out, *flags, "--n", "1", "--steps", "1", "--out", tmp_path / "x"])
        assert code == 2 and words in " ".join(err.split()) and len(err.strip().splitlines()) == 1, err

    (root / "2.txt").write_text("a navy square\n")  # another caption set: resuming would mix two runs
    code, _, err = cli([*args, "--resume"])
    error = err[err.index("genlens: error"):]
    assert code != 0 and "run.captions" in error and len(error.strip().splitlines()) == 1, err


def test_text_on_an_uncaptioned_folder_is_one_line(cli, tmp_path, png_folder, seeded_text):
    code, _, err = cli(["diffusion", "train", "--data", f"folder:{png_folder(classes=2, per_class=2, size=32)}",
                        "--cond", "text", "--tiny", "--steps", "1", "--out", tmp_path / "m", "--device", "cpu"])
    assert code == 2 and "--cond text needs captions" in err and len(err.strip().splitlines()) == 1, err


def test_a_captioned_class_folder_is_scored_with_its_own_captions(cli, tmp_path, png_folder, seeded_text):
    root = png_folder(classes=2, per_class=3, size=32)
    for i, f in enumerate(sorted(root.glob("*/*.png"))):
        f.with_suffix(".txt").write_text(f"a square in colour {i % 2}")
    code, _, err = cli(["diffusion", "train", "--data", f"folder:{root}", "--cond", "text", "--channels", "3",
                        "--tiny", "--steps", "1", "--batch", "4", "--out", tmp_path / "m", "--device", "cpu"])
    assert code == 0, err
    code, _, err = cli(["zoo", "train", "cnn", "--data", f"folder:{root}", "--channels", "3", "--epochs", "1",
                        "--batch", "4", "--out", tmp_path / "cnn", "--json"])
    assert code == 0, err
    code, stdout, err = cli(["diffusion", "eval", tmp_path / "m", "--n", "4", "--steps", "2", "--features",
                             tmp_path / "cnn", "--out", tmp_path / "e", "--json"])
    assert code == 0, err
    result = json.loads(stdout)
    assert result["prompts"] == {"captions_of": f"folder:{root}", "count": 6} and result["fid"]["n_fake"] == 4


def test_a_captioned_folder_without_cond_text_trains_by_its_classes_and_says_how_to_use_the_captions(
        cli, tmp_path, png_folder):
    root = png_folder(classes=2, per_class=3, size=32)
    for f in sorted(root.glob("*/*.png"))[:4]:
        f.with_suffix(".txt").write_text("a coloured square")
    code, stdout, err = cli(["diffusion", "train", "--data", f"folder:{root}", "--channels", "3", "--tiny",
                             "--steps", "1", "--batch", "4", "--out", tmp_path / "m", "--device", "cpu", "--json"])
    assert code == 0, err
    assert json.loads(stdout)["cond"] == "class"  # the default stays: captions are used only when asked for
    said = " ".join(err.split())
    assert said.count("this folder has captions for 4 image(s); pass --cond text to train on them") == 1, err
    assert "(this run trains --cond class)" in said
