"""`genlens invert`: the DESIGN.md output layout, JSON contract, cross-model eval and bad input."""
from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_invert_writes_class_folders_grid_and_eval(cli, tmp_path):
    code, out, err = cli(["invert", "fmnist-cnn", "--class", "Ankle boot", "--class", "1", "--n", "2",
                          "--steps-scale", "0.01", "--device", "cpu", "--out", str(tmp_path), "--eval", "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["classes"] == ["Ankle boot", "Trouser"]
    for folder in ("Ankle_boot", "Trouser"):
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == ["0.png", "1.png"]
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "run.json").is_file()
    ev = result["eval"]
    assert set(ev["judges"]) == {"fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"}
    others = [ev["judges"][j]["top1"] for j in ev["judges"] if j != "fmnist-cnn"]
    assert ev["cross_top1_mean"] == pytest.approx(sum(others) / 3)
    assert ev["inception_score"]["extractor"] == "genlens-fmnist"


@pytest.mark.parametrize("args, words", [
    (["invert", "fmnist-cnn"], "--all-classes"),
    (["invert", "fmnist-cnn", "--class", "spaceship"], "unknown class 'spaceship'"),
    (["invert", "fmnist-cnn", "--class", "12"], "out of range"),
    (["invert", "fmnist-cnn", "--class", "0", "--method", "magic"], "magic"),
])
def test_invert_bad_input_is_one_line(cli, tmp_path, args, words):
    code, out, err = cli([*args, "--out", str(tmp_path), "--device", "cpu"])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]


@pytest.mark.slow
def test_invert_prompt_on_shipped_clip(cli, tmp_path):
    code, out, err = cli(["invert", "clip", "--prompt", "a leather ankle boot", "--steps-scale", "0.05",
                          "--out", str(tmp_path), "--device", "cpu", "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "fmnist-clip" and len(result["similarity"]) == 1
    assert (tmp_path / "a_leather_ankle_boot" / "0.png").is_file() and (tmp_path / "grid.png").is_file()


def test_invert_empty_prompt_is_one_line(cli, tmp_path):
    code, out, err = cli(["invert", "clip", "--prompt", "  ", "--out", str(tmp_path), "--device", "cpu"])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--prompt is empty" in lines[0]


def test_old_preset_name_pii_works_with_a_one_line_notice(cli, tmp_path):
    code, out, err = cli(["invert", "fmnist-cnn", "--class", "0", "--preset", "pii", "--steps-scale", "0.005",
                          "--out", str(tmp_path), "--device", "cpu", "--json"])
    assert code == 0, err
    assert "preset pii is renamed pii-tuned" in err
    assert json.loads(out)["preset"] == "pii-tuned"  # recorded under its current name
    code, out, err = cli(["invert", "fmnist-cnn", "--class", "0", "--steps-scale", "0.005", "--out", str(tmp_path),
                          "--device", "cpu", "--json"])
    assert code == 0 and "renamed" not in err  # --method pii (the default) is the method, no notice
