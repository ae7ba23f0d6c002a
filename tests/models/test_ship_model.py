"""scripts/ship_model.py: a finished run's model folder becomes a shipped folder (portable command, note, D in
float16, loads back), never over an existing one, and nothing is left half-shipped on failure."""
from __future__ import annotations

import json

import pytest
import torch

from genlens.errors import GenlensError
from genlens.gan import GanConfig, Generator, save_generator
from genlens.gan.discriminator import load_discriminator
from genlens.gan.networks import Discriminator
from genlens.utils.io import read_json


@pytest.fixture(scope="module")
def ship_script():
    from tests.conftest import load_script

    return load_script("scripts/ship_model")


def test_a_gan_run_ships_with_a_portable_command_a_note_and_a_half_precision_d(ship_script, tmp_path):
    torch.manual_seed(0)
    cfg = GanConfig.tiny("eqgan-sa")
    src = save_generator(tmp_path / "abs" / "keep" / "runs" / "spatial" / "x-s0" / "model", Generator(cfg),
                         command=f"genlens gan train --run-dir {tmp_path}/keep/runs/spatial/x-s0 --out "
                                 f"{tmp_path}/keep/runs/spatial/x-s0/model --seed 0",
                         metrics={"di": 0.5}, discriminator=Discriminator(cfg), data="fashion-scenes")
    dest = ship_script.ship(src, "scenes-x", note="one sitting, 0.8 CPU-h", role="generate scenes",
                            weights=tmp_path / "weights")
    m = read_json(dest / "manifest.json")
    assert m["command"] == ("genlens gan train --run-dir runs/spatial/x-s0 --out runs/spatial/x-s0/model --seed 0")
    assert m["note"] == "one sitting, 0.8 CPU-h" and m["role"] == "generate scenes" and m["metrics"]["di"] == 0.5
    assert m["discriminator_dtype"] == "float16" and set(m["sha256"]) == {"model.safetensors",
                                                                          "discriminator.safetensors"}
    D = load_discriminator(dest)  # hashes verified, float16 cast back
    assert next(D.parameters()).dtype == torch.float32
    with pytest.raises(GenlensError, match="ships already"):
        ship_script.ship(src, "scenes-x", note="again", weights=tmp_path / "weights")
    bare = ship_script.ship(src, "scenes-y", note="n", discriminator=False, weights=tmp_path / "weights")
    assert not (bare / "discriminator.safetensors").exists()


def test_a_corrupt_source_ships_nothing_and_the_cli_says_one_line(ship_script, tmp_path, capsys, monkeypatch):
    src = save_generator(tmp_path / "m", Generator(GanConfig.tiny("stylegan2")), command="c", metrics={})
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["sha256"]["model.safetensors"] = "0" * 64
    (src / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(GenlensError, match="sha256"):
        ship_script.ship(src, "bad", note="n", weights=tmp_path / "weights")
    assert not (tmp_path / "weights" / "bad").exists()
    monkeypatch.setattr(ship_script, "WEIGHTS", tmp_path / "weights")
    assert ship_script.main([str(tmp_path / "nowhere"), "x", "--note", "n"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ship_model.py: ") and "no config.json" in err and err.count("\n") == 1


def test_the_cli_ships_and_says_whether_the_tree_still_travels(ship_script, tmp_path, capsys, monkeypatch):
    src = save_generator(tmp_path / "m", Generator(GanConfig.tiny("stylegan2")), command="c", metrics={})
    monkeypatch.setattr(ship_script, "WEIGHTS", tmp_path / "weights")
    assert ship_script.main([str(src), "tiny", "--note", "n", "--role", "test"]) == 0
    out = capsys.readouterr().out
    assert "tracked tree is" in out and "64 MiB a lent GPU" in out and (tmp_path / "weights" / "tiny").is_dir()


def test_a_run_trained_outside_git_ships_only_with_the_commit_named(ship_script, tmp_path):
    src = save_generator(tmp_path / "m", Generator(GanConfig.tiny("stylegan2")), command="c", metrics={})
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["git_commit"] = "unknown"  # what a run from a `git archive` snapshot records
    (src / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(GenlensError, match="--git-commit"):
        ship_script.ship(src, "s", note="n", weights=tmp_path / "weights")
    with pytest.raises(GenlensError, match="--git-commit"):
        ship_script.ship(src, "s", note="n", git_commit="15baf33", weights=tmp_path / "weights")  # full hash only
    assert not (tmp_path / "weights" / "s").exists()
    dest = ship_script.ship(src, "s", note="n", git_commit="a" * 40, weights=tmp_path / "weights")
    assert read_json(dest / "manifest.json")["git_commit"] == "a" * 40


def test_git_commit_never_overrides_a_commit_the_run_recorded(ship_script, tmp_path):
    src = save_generator(tmp_path / "m", Generator(GanConfig.tiny("stylegan2")), command="c", metrics={})
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["git_commit"] = "b" * 40
    (src / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(GenlensError, match="records git commit b{40}, not a{40}"):
        ship_script.ship(src, "s", note="n", git_commit="a" * 40, weights=tmp_path / "weights")
    assert not (tmp_path / "weights" / "s").exists()
    dest = ship_script.ship(src, "s", note="n", git_commit="b" * 40, weights=tmp_path / "weights")  # the same: fine
    assert read_json(dest / "manifest.json")["git_commit"] == "b" * 40
