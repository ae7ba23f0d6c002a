"""``genlens locator train|eval`` in-process on a few hundred generated scenes (the real splits are patched out)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import genlens.cli.locator as locator_cli
from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.metrics.locator import locator_threshold
from genlens.metrics.locator_eval import THRESHOLDS, choose_threshold


@pytest.fixture
def small_scenes(fmnist_test, monkeypatch):
    made = {"train": generate_scenes(SceneConfig(split="train", count=160), fmnist_test),
            "test": generate_scenes(SceneConfig(split="test", count=60), fmnist_test),
            "big": generate_scenes(SceneConfig(split="test", count=8, canvas=64), fmnist_test)}

    def fake(spec, split, data_dir):
        if spec == "big":
            return made["big"]
        if spec.startswith("fashion-mnist"):
            return locator_cli._scenes.__wrapped_real__(spec, split, data_dir)
        return made[spec.partition(":")[2] or split]

    fake.__wrapped_real__ = locator_cli._scenes
    monkeypatch.setattr(locator_cli, "_scenes", fake)
    return made


def test_train_then_eval_json(cli, small_scenes, tmp_path):
    out = tmp_path / "loc"
    code, stdout, err = cli(["locator", "train", "--data", "fashion-scenes", "--out", out, "--size", "8",
                             "--steps", "3", "--batch", "8", "--held-out", "40", "--json"])
    assert code == 0, err
    trained = json.loads(stdout)
    assert trained["threshold"] in THRESHOLDS and trained["test"]["images"] == 60
    assert locator_threshold(out) == trained["threshold"] and (out / "run.json").is_file()
    code, stdout, err = cli(["locator", "eval", out, "--data", "fashion-scenes:test", "--n", "20", "--json"])
    assert code == 0, err
    scores = json.loads(stdout)
    assert stdout.count("\n") == 1 and scores["images"] == 20 and scores["threshold"] == trained["threshold"]
    assert set(scores) >= {"median_centre_error_px", "class_accuracy", "recall", "precision"}


def test_eval_refuses_other_canvas_and_non_scenes(cli, small_scenes, tmp_path):
    out = tmp_path / "loc"
    assert cli(["locator", "train", "--out", out, "--size", "8", "--steps", "1", "--batch", "4",
                "--held-out", "20", "--json"])[0] == 0
    code, _, err = cli(["locator", "eval", out, "--data", "big"])
    assert code == 2 and "trained on 32x32 scenes" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(["locator", "eval", out, "--data", "fashion-mnist:test"])
    assert code == 2 and "has no object positions" in err


def test_choose_threshold_uses_only_the_given_scenes(small_scenes):
    from genlens.metrics.locator import LocatorConfig, build_locator

    model = build_locator(LocatorConfig(width=8)).eval()
    best, scores = choose_threshold(model, small_scenes["test"].subset(torch.arange(10)))
    assert best in THRESHOLDS and set(scores) == {str(t) for t in THRESHOLDS}
    assert all(v["images"] == 10 for v in scores.values())


def test_shipped_name_resolves_in_the_library_and_the_cli(cli, small_scenes, tmp_path, monkeypatch):
    from genlens.errors import GenlensError
    from genlens.metrics.locator import SHIPPED, load_locator, resolve_locator
    from genlens.models.load import shipped_folder

    assert resolve_locator(SHIPPED) == shipped_folder(SHIPPED)
    model = load_locator(SHIPPED)
    assert model.config.canvas == 32 and not model.training and locator_threshold(SHIPPED) > 0
    monkeypatch.chdir(tmp_path)  # a folder of that name in the working directory wins, as for the shipped models
    (tmp_path / SHIPPED).mkdir()
    assert resolve_locator(SHIPPED) == Path(SHIPPED)
    with pytest.raises(GenlensError, match="neither a locator folder nor a shipped locator"):
        load_locator("no-such-locator")
    code, stdout, err = cli(["locator", "eval", "--data", "fashion-scenes:test", "--n", "5", "--json"])
    assert code == 2 and "has no config.json" in err  # the empty local folder, not the shipped one
    monkeypatch.chdir(tmp_path.parent)
    code, stdout, err = cli(["locator", "eval", "--data", "fashion-scenes:test", "--n", "5", "--json"])
    assert code == 0, err
    scores = json.loads(stdout)
    assert scores["folder"] == SHIPPED and scores["images"] == 5 and scores["threshold"] == locator_threshold(SHIPPED)
