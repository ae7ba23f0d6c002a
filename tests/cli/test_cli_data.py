"""``genlens data info|show``."""
from __future__ import annotations

import json

from PIL import Image


def test_info_json(cli, fmnist_dir):
    code, out, err = cli(["data", "info", "--json", "--data-dir", fmnist_dir])
    assert code == 0, err
    info = json.loads(out)
    assert out.count("\n") == 1
    assert info["train"]["n"] == 60000 and info["test"]["n"] == 10000
    assert info["test"]["shape"] == [1, 28, 28]
    assert set(info["test"]["class_counts"].values()) == {1000}
    assert info["class_names"][9] == "Ankle boot"
    assert info["folder"] == str(fmnist_dir)


def test_info_digits(cli):
    code, out, _ = cli(["data", "info", "digits", "--json"])
    assert code == 0
    info = json.loads(out)
    assert info["train"]["n"] + info["test"]["n"] == 1797 and "folder" not in info


def test_show_writes_a_grid(cli, tmp_path):
    png = tmp_path / "grid.png"
    code, _, err = cli(["data", "show", "digits", "--n", "2", "--out", png])
    assert code == 0, err
    with Image.open(png) as im:  # 10 rows of 2 images of 8 px, padding 2, upscale 3
        assert im.size == (3 * (2 * 10 + 2), 3 * (10 * 10 + 2))


def test_info_takes_a_spec_with_a_split_or_a_folder(cli, tmp_path):
    code, out, err = cli(["data", "info", "digits:test", "--json"])
    assert code == 0, err
    assert set(json.loads(out)) == {"test", "class_names"}
    (tmp_path / "Bag").mkdir()
    Image.new("L", (8, 8), 3).save(tmp_path / "Bag" / "0.png")
    code, out, err = cli(["data", "info", f"folder:{tmp_path}", "--json"])
    assert code == 0, err
    assert json.loads(out)["images"]["n"] == 1


def test_bad_spec_is_one_line_and_exit_2(cli):
    code, _, err = cli(["data", "info", "mnist:test"])
    assert code == 2 and err.count("\n") == 1 and "folder:PATH" in err
