"""``genlens gan eval``: numbers as one JSON object, DI from a run dir, one-line errors on bad input."""
from __future__ import annotations

import json

import pytest
import torch

from genlens.gan import GanConfig, Generator, save_generator, train_gan


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(0)
    return save_generator(tmp_path_factory.mktemp("g") / "eqgan", Generator(GanConfig.tiny("eqgan-sa")),
                          command="test", metrics={})


@pytest.mark.slow
def test_eval_json_with_di(folder, tiny_fmnist, tiny_train, images, tmp_path, cli, fmnist_test, monkeypatch):
    import genlens.cli.gan_eval as gan_eval
    from genlens.data.scenes import SceneConfig, generate_scenes

    scenes = generate_scenes(SceneConfig(split="test", count=20), fmnist_test)
    monkeypatch.setattr(gan_eval, "_test_scenes", lambda model, data_dir: scenes)
    data = tiny_fmnist(16, 24)
    run_dir = tmp_path / "run"
    train_gan(model_config=GanConfig.tiny("eqgan-sa"), config=tiny_train(2), data=images, run_dir=run_dir)
    code, out, _ = cli(["gan", "eval", folder, "--n", "12", "--edits", "4", "--render-threads", "1",
                        "--run-dir", run_dir, "--di-n", "8", "--data-dir", data, "--device", "cpu", "--json",
                        "--out", tmp_path / "eval"])
    assert code == 0
    r = json.loads(out)
    assert r["arch"] == "eqgan-sa" and r["fid"]["extractor"] == "genlens-fmnist" and r["fid"]["n_fake"] == 12
    assert r["fid"]["n_real"] == 24 and r["kid"]["metric"] == "kid"
    assert abs(sum(r["coverage"]["fractions"].values()) - 1) < 1e-9 and r["locator_editing"]["edits"] == 4
    assert r["locator_editing"]["extractor"] == "locator-backbone" and "editing" not in r
    assert r["di"]["step"] == 2 and r["di"]["n"] == 8 and r["render_ms"]["median_ms"] > 0
    assert (tmp_path / "eval" / "run.json").is_file()


def test_eval_bad_inputs(folder, tmp_path, cli):
    diff = tmp_path / "diff"
    diff.mkdir()
    (diff / "config.json").write_text(json.dumps({"kind": "diffusion"}))
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, words in ((["eval", diff], "holds a diffusion checkpoint, not a GAN"),
                        (["eval", folder, "--run-dir", empty, "--n", "10"], "no checkpoint in")):
        code, out, err = cli(["gan", *args])
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err, err
