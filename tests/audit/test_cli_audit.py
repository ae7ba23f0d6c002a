"""``genlens audit``: every bad input is one line on stderr with exit code 2 (before any work), and the
commands run end to end at smoke size; a planted folder loads wherever a model is taken."""
from __future__ import annotations

import json

import pytest

BAD = {
    "rate-zero": (["plant", "fmnist-cnn", "--target", "3", "--rate", "0", "--out", "{tmp}/p"], "--rate must be > 0 and < 1"),
    "rate-one": (["plant", "fmnist-cnn", "--target", "3", "--rate", "1.5", "--out", "{tmp}/p"], "--rate must be > 0 and < 1"),
    "big-trigger": (["plant", "fmnist-cnn", "--target", "3", "--trigger-size", "30", "--out", "{tmp}/p"],
                    "larger than the 28x28 image"),
    "bad-trigger": (["plant", "fmnist-cnn", "--target", "3", "--trigger", "star", "--out", "{tmp}/p"],
                    "unknown trigger 'star'"),
    "target-range": (["plant", "fmnist-cnn", "--target", "12", "--out", "{tmp}/p"], "class index 12 is out of range"),
    "not-classifier-plant": (["plant", "{gan}", "--target", "1", "--out", "{tmp}/p"], "not a classifier"),
    "not-classifier-audit": (["backdoor", "{gan}"], "not a classifier"),
    "few-images": (["backdoor", "fmnist-cnn", "--n-images", "1"], "--n-images must be at least 2"),
    "bad-scale": (["backdoor", "fmnist-cnn", "--scale", "l2"], "unknown anomaly scale 'l2'"),
    "few-boot-samples": (["classes", "fmnist-cnn", "fmnist-cnn", "--limit", "50", "--out", "{tmp}/c"],
                         "the bootstrap needs at least 10 per class"),
    "few-resamples": (["classes", "fmnist-cnn", "fmnist-cnn", "--n-boot", "5", "--out", "{tmp}/c"],
                      "--n-boot 100"),
    "bad-strength": (["sweep", "--strength", "0,1.2", "--out", "{tmp}/s"], "strengths must be in [0, 1)"),
    "bad-aug": (["sweep", "--aug", "cutout", "--out", "{tmp}/s"], "unknown sweep 'cutout'"),
    "weight-decay-twice": (["sweep", "--aug", "weight-decay", "--weight-decay", "0.1", "--out", "{tmp}/s"],
                           "leave --weight-decay out"),
    "bad-list": (["sweep", "--seeds", "a,b", "--out", "{tmp}/s"], "comma-separated integers"),
    "repeated-strength": (["sweep", "--strength", "0,0,0.1", "--out", "{tmp}/s"], "repeat a value"),
    "one-seed": (["sweep", "--seeds", "0", "--out", "{tmp}/s"], "needs at least 2 seeds"),
    "sweep-not-zoo": (["sweep", "--model", "fmnist-gan", "--out", "{tmp}/s"], "unknown zoo model 'fmnist-gan'"),
    "not-classifier-classes": (["classes", "{gan}", "fmnist-cnn", "--out", "{tmp}/c"], "not a classifier"),
    "unknown-class": (["plant", "fmnist-cnn", "--target", "Sandals", "--out", "{tmp}/p"], "unknown class 'Sandals'"),
    "too-few-train-images": (["plant", "fmnist-cnn", "--target", "3", "--n-images", "10", "--out", "{tmp}/p"],
                             "10 training images make no batch of 128"),
}


@pytest.fixture
def gan_folder(tmp_path):
    folder = tmp_path / "gan"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"kind": "gan", "name": "x"}))
    return folder


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2(case, cli, tmp_path, gan_folder, fmnist_dir):
    args, words = BAD[case]
    args = [a.format(tmp=tmp_path, gan=gan_folder) for a in args]
    code, out, err = cli(["audit", *args])
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert words in err
    assert not (tmp_path / "p").exists()  # nothing written before the refusal


@pytest.mark.parametrize("args", [
    ["plant", "fmnist-cnn", "--target", "3", "--out", "{tmp}/p"],
    ["backdoor", "fmnist-cnn", "--out", "{tmp}/b"],
    ["classes", "fmnist-cnn", "fmnist-cnn", "--out", "{tmp}/c"],
    ["sweep", "--out", "{tmp}/s"],
], ids=["plant", "backdoor", "classes", "sweep"])
def test_classes_of_another_data_set_refused(args, cli, tmp_path, tiny_fmnist, monkeypatch):
    import genlens.data.fashion_mnist as fm
    from genlens.data.base import ImageData

    real = fm.load_fashion_mnist

    def other(split, *, data_dir=None):
        d = real(split, data_dir=data_dir)
        return ImageData(d.images, d.labels % 5, d.class_names[:5], name="five-classes")

    monkeypatch.setattr(fm, "load_fashion_mnist", other)
    data = tiny_fmnist(200, 200)  # 40 test images per class: enough for the bootstrap, so the classes are what fails
    code, out, err = cli(["audit", *[a.format(tmp=tmp_path) for a in args], "--data-dir", data, "--device", "cpu"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "10" in err and "five-classes has 5" in err
    assert not any((tmp_path / d).exists() for d in "pbcs")  # refused before writing anything


def test_pii_scale_zero_is_accepted(cli, monkeypatch):
    monkeypatch.setenv("GENLENS_VALIDATE_ONLY", "1")  # its help says 0 skips the inversions: the check must agree
    code, _, err = cli(["audit", "backdoor", "fmnist-cnn", "--pii-scale", "0"])
    assert code == 0, err


def test_plant_backdoor_classes_end_to_end(cli, tmp_path, fmnist_dir):
    from genlens.models.load import load_model

    out = tmp_path / "bd"
    code, stdout, err = cli(["audit", "plant", "fmnist-cnn", "--target", "Dress", "--trigger", "blend", "--rate", "0.2",
                             "--out", out, "--n-images", "256", "--epochs", "1", "--limit", "200", "--json",
                             "--device", "cpu"])
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["target"] == 3 and rep["trigger"] == "blend" and 0 <= rep["attack_success"] <= 1
    handle = load_model(out)  # the planted folder loads like any model folder (hash verified)
    manifest = handle.meta["manifest"]
    assert manifest["backdoor"]["target"] == 3 and manifest["backdoor"]["rate"] == 0.2
    assert manifest["command"].startswith("genlens audit plant")
    assert json.loads((out / "run.json").read_text())["metrics"]["attack_success"] == rep["attack_success"]

    code, stdout, err = cli(["audit", "backdoor", out, "--steps", "3", "--n-images", "20", "--pii-scale", "0.01",
                             "--out", tmp_path / "nc", "--json", "--device", "cpu"])
    assert code == 0, err
    rep = json.loads(stdout)
    assert len(rep["anomaly_index"]) == 10 and isinstance(rep["flagged"], list)
    assert "undetectable" in rep["limitation"] and "no training data" in rep["data"]
    assert (tmp_path / "nc" / "grid.png").is_file() and (tmp_path / "nc" / "Dress" / "mask.png").is_file()

    code, stdout, err = cli(["audit", "classes", "fmnist-cnn", out, "--limit", "300", "--n-boot", "100",
                             "--out", tmp_path / "cmp", "--json", "--device", "cpu"])
    assert code == 0, err
    rep = json.loads(stdout)
    assert len(rep["per_class"]) == 10 and (tmp_path / "cmp" / "classes.png").is_file()
    for row in rep["per_class"]:
        assert row["ci_diff"][0] <= row["diff"] + 1e-9 <= row["ci_diff"][1] + 2e-9


def test_sweep_smoke(cli, tmp_path, fmnist_dir):
    out = tmp_path / "sweep"
    code, stdout, err = cli(["audit", "sweep", "--strength", "0,0.3", "--seeds", "0,1", "--epochs", "1",
                             "--limit-batches", "1", "--limit", "100", "--out", out, "--json", "--device", "cpu"])
    assert code == 0, err
    assert json.loads(stdout)["results_json"] == str(out / "results.json")
    res = json.loads((out / "results.json").read_text())
    assert len(res["runs"]) == 4 and {r["strength"] for r in res["runs"]} == {0.0, 0.3}
    row = res["summary"]["Dress"]
    assert [r["strength"] for r in row] == [0.0, 0.3] and all(r["n_seeds"] == 2 for r in row)
    assert res["cpu_hours"] >= 0 and (out / "sweep.png").is_file()
    change = res["change_first_to_last"]["Dress"]  # paired by seed: the mean of the per-seed differences
    per_seed = [next(r for r in res["runs"] if r["strength"] == 0.3 and r["seed"] == s)["per_class"][3]
                - next(r for r in res["runs"] if r["strength"] == 0.0 and r["seed"] == s)["per_class"][3] for s in (0, 1)]
    assert abs(change["mean_change"] - sum(per_seed) / 2) < 1e-9 and change["per_seed"] == per_seed
    assert set(res["losing_classes"]) <= set(res["class_names"])
