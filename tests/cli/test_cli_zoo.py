"""``genlens zoo list|eval|train`` end to end, in-process (plus two real subprocess runs)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from PIL import Image

from genlens.models.load import load_model
from genlens.utils.io import sha256_file

NAMES = ["fmnist-cnn", "fmnist-mixer", "fmnist-resmlp", "fmnist-vit"]


def _one_json(out: str) -> dict:
    lines = out.splitlines()
    assert len(lines) == 1, out
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    return obj


def test_list_json(cli):
    code, out, _ = cli(["zoo", "list", "--json"])
    assert code == 0
    rows = _one_json(out)["models"]
    assert [r["name"] for r in rows] == NAMES
    for r in rows:
        assert r["shipped"] is True
        assert r["top1"] >= (0.93 if r["name"] == "fmnist-cnn" else 0.89)
        assert r["arch"] in {"cnn", "vit", "mixer", "resmlp"}


def test_list_table(cli):
    code, out, _ = cli(["zoo", "list"])
    assert code == 0
    assert all(name in out for name in NAMES) and "%" in out


def test_eval_json(cli, tmp_path, fmnist_dir):
    out_dir = tmp_path / "eval"
    code, out, err = cli(["zoo", "eval", "fmnist-cnn", "--json", "--out", out_dir, "--device", "cpu",
                          "--data-dir", fmnist_dir, "--limit", "500"])
    assert code == 0, err
    result = _one_json(out)
    assert {"top1", "top5", "per_class"} <= result.keys()
    assert result["n"] == 500 and result["name"] == "fmnist-cnn"
    assert result["top1"] > 0.85 and result["top5"] >= result["top1"]
    assert len(result["per_class"]) == 10 and "Ankle boot" in result["per_class"]
    png = out_dir / "confusion.png"
    assert result["confusion_png"] == str(png)
    with Image.open(png) as im:
        assert im.format == "PNG" and min(im.size) > 100
    run = json.loads((out_dir / "run.json").read_text())
    assert run["metrics"]["top1"] == result["top1"] and run["seed"] is None


def test_eval_table(cli, tmp_path, fmnist_dir):
    code, out, err = cli(["zoo", "eval", "fmnist-resmlp", "--out", tmp_path, "--data-dir", fmnist_dir,
                          "--limit", "50", "--device", "cpu"])
    assert code == 0, err
    assert "fmnist-resmlp" in out and "Sneaker" in out
    assert "confusion matrix ->" in err


def test_train_writes_a_loadable_folder(cli, tmp_path, fmnist_dir):
    out_dir = tmp_path / "cnn"
    code, out, err = cli(["zoo", "train", "fmnist-cnn", "--epochs", "1", "--limit-batches", "2", "--out", out_dir,
                          "--device", "cpu", "--json", "--data-dir", fmnist_dir, "--limit", "200"])
    assert code == 0, err
    summary = _one_json(out)
    assert summary["name"] == "fmnist-cnn" and summary["out"] == str(out_dir)
    assert 0.0 <= summary["top1"] <= summary["top5"] <= 1.0
    for f in ("model.safetensors", "config.json", "manifest.json", "run.json"):
        assert (out_dir / f).is_file(), f
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["sha256"]["model.safetensors"] == sha256_file(out_dir / "model.safetensors")
    assert manifest["metrics"]["test_images"] == 200
    assert len(manifest["metrics"]["history"]) == 1
    config = json.loads((out_dir / "config.json").read_text())
    assert config["kind"] == "classifier" and config["train"]["epochs"] == 1
    handle = load_model(out_dir)
    assert handle.name == "fmnist-cnn"
    code, out, err = cli(["zoo", "eval", out_dir, "--json", "--out", tmp_path / "e", "--data-dir", fmnist_dir,
                          "--limit", "200", "--device", "cpu"])
    assert code == 0, err
    assert _one_json(out)["top1"] == summary["top1"]  # the saved fp16 weights give the same predictions


def _genlens(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "genlens.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_subprocess_list_json():
    proc = _genlens("zoo", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["name"] for r in _one_json(proc.stdout)["models"]] == NAMES


def test_subprocess_error_is_one_line_exit_2():
    proc = _genlens("zoo", "eval", "fmnist-nope")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("genlens: error: unknown zoo model 'fmnist-nope'; choose one of: fmnist-cnn")


def test_eval_on_a_folder_spec(cli, tmp_path, fmnist_dir):
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.utils.images import save_png

    test = load_fashion_mnist("test", data_dir=fmnist_dir).take(4)
    for i, (img, lab) in enumerate(zip(test.float_images(), test.labels.tolist())):
        save_png(img, tmp_path / "imgs" / test.class_names[lab].replace(" ", "_").replace("/", "_") / f"{i}.png")
    code, out, err = cli(["zoo", "eval", "fmnist-cnn", "--data", f"folder:{tmp_path / 'imgs'}", "--json",
                          "--out", tmp_path / "eval", "--device", "cpu"])
    assert code == 0, err
    result = _one_json(out)
    assert result["n"] == 4 and len(result["per_class"]) == 10


def test_train_resume_and_rerun(cli, tmp_path, fmnist_dir):
    """A second run on the same --out needs --resume; resuming a finished run says so and changes nothing."""
    out_dir = tmp_path / "cnn"
    args = ["zoo", "train", "fmnist-cnn", "--epochs", "1", "--limit-batches", "2", "--out", out_dir,
            "--device", "cpu", "--data-dir", fmnist_dir, "--limit", "50"]
    assert cli(args)[0] == 0
    assert (out_dir / "last" / "state.json").is_file() and not (out_dir / ".genlens.lock").exists()
    before = (out_dir / "manifest.json").read_bytes()
    code, out, err = cli(args)
    assert code == 2 and err.count("\n") == 1 and "--resume" in err
    code, out, err = cli([*args, "--resume"])
    assert code == 0 and out == "" and err.count("\n") == 1 and "already finished" in err, err
    assert (out_dir / "manifest.json").read_bytes() == before
