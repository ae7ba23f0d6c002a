"""``genlens gan ...``: outputs of sample / interpolate / edit, one-line errors on bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import genlens.gan.io as gan_io
from genlens.gan import GanConfig, Generator, save_generator


@pytest.fixture(scope="module")
def gan_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gan") / "tiny-eqgan"
    save_generator(folder, Generator(GanConfig.tiny("eqgan-sa")), command="test", metrics={})
    return folder


def test_sample_interpolate_edit(gan_folder, tmp_path, cli):
    code, out, _ = cli(["gan", "sample", gan_folder, "--n", "3", "--out", tmp_path / "s", "--json", "--device", "cpu"])
    assert code == 0 and json.loads(out)["n"] == 3
    assert all((tmp_path / "s" / f).is_file() for f in ("0.png", "2.png", "grid.png", "run.json"))
    code, out, _ = cli(["gan", "interpolate", gan_folder, "--steps", "3", "--out", tmp_path / "i", "--json"])
    assert code == 0 and (tmp_path / "i" / "grid.png").is_file()
    code, out, _ = cli(["gan", "edit", gan_folder, "--seed", "2", "--center", "0.75,0.4", "--out", tmp_path / "e",
                        "--json"])
    result = json.loads(out)
    assert code == 0 and result["center_after"] == [0.75, 0.4]
    assert all((tmp_path / "e" / f"{k}.png").is_file() for k in ("original", "edited", "heatmap_after"))


def test_edit_center_outside_the_canvas_is_clamped_and_said(gan_folder, tmp_path, cli):
    code, out, err = cli(["gan", "edit", gan_folder, "--center", "1.5,0.5", "--out", tmp_path / "e", "--json"])
    assert code == 0 and json.loads(out)["center_after"] == [1.0, 0.5]
    assert err.count("outside the canvas, clamped to (1, 0.5)") == 1


def test_bad_inputs(gan_folder, tmp_path, cli, monkeypatch):
    other = tmp_path / "diff"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"kind": "diffusion"}))
    classifier = tmp_path / "cls"
    classifier.mkdir()
    (classifier / "config.json").write_text(json.dumps({"name": "fmnist-cnn"}))
    monkeypatch.setattr(gan_io, "WEIGHTS_ROOT", tmp_path / "nothing")
    cases = [
        (["edit", gan_folder, "--center", "0,0", "--level", "4"], "unknown heatmap level 4"),
        (["edit", gan_folder, "--center", "left"], "--center 'left' is not x,y"),
        (["sample", other], "holds a diffusion checkpoint, not a GAN"),
        (["sample", classifier], "holds a classifier checkpoint, not a GAN"),
        (["sample", "fmnist-eqgan"], "run `genlens gan train --arch eqgan-sa`"),
        (["sample", tmp_path / "nowhere"], "neither a GAN folder nor a shipped GAN"),
    ]
    for args, words in cases:
        code, out, err = cli(["gan", *args, "--out", tmp_path / "o"])
        assert code == 2 and out == "", args
        assert len(err.strip().splitlines()) == 1 and words in err, (args, err)


def test_train_smoke(fmnist_dir, tmp_path, cli):
    code, out, _ = cli(["gan", "train", "--arch", "eqgan-sa", "--tiny", "--steps", "2", "--batch", "4", "--limit", "16", "--run-dir", tmp_path / "run", "--out", tmp_path / "model",
                        "--device", "cpu", "--json", "--data-dir", fmnist_dir])
    result = json.loads(out)
    assert code == 0 and result["steps"] == 2
    G = gan_io.load_generator(tmp_path / "model")
    assert G.config.arch == "eqgan-sa" and (tmp_path / "run" / "run.json").is_file()
    assert (tmp_path / "model" / "discriminator.safetensors").is_file()  # D ships beside G (tour CAMs, DI)
    code, _, err = cli(["gan", "train", "--arch", "stylegan2", "--tiny", "--steps", "3", "--batch-size", "4", "--limit",
                        "16", "--run-dir", tmp_path / "run", "--out", tmp_path / "m2", "--device", "cpu",
                        "--resume", "--json", "--data-dir", fmnist_dir])
    assert code == 2 and "model.arch ('eqgan-sa' in checkpoint vs 'stylegan2' now)" in err
    assert "--batch-size is renamed --batch" in err  # the old flag still works, with a notice


def test_train_without_out_writes_under_runs_never_the_shipped_model(fmnist_dir, tmp_path, cli, monkeypatch):
    from genlens.utils.io import sha256_file

    shipped = gan_io.shipped_gan_folder("stylegan2") / "model.safetensors"
    before = sha256_file(shipped)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(["gan", "train", "--arch", "stylegan2", "--tiny", "--steps", "1", "--batch", "4", "--limit",
                          "16", "--device", "cpu", "--json", "--data-dir", fmnist_dir])
    assert code == 0, err
    assert json.loads(out)["model_folder"] == str(Path("runs/gan/stylegan2/model"))
    assert (tmp_path / "runs/gan/stylegan2/model/model.safetensors").is_file() and sha256_file(shipped) == before
