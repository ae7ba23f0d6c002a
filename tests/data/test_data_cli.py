"""``genlens data info|show --data SPEC --resolution N --channels C`` on a user's folder."""
from __future__ import annotations

import json

from PIL import Image


def _folder(root, *, bad: bool = False, n: int = 2):
    for cls, rgb in (("bag", (200, 20, 20)), ("shoe", (20, 200, 20))):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (12, 10), rgb).save(root / cls / f"{i}.png")
    (root / "shoe" / "0.txt").write_text("a green trainer")
    if bad:
        (root / "bag" / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def test_info_reports_what_a_trainer_needs(cli, tmp_path):
    root = _folder(tmp_path / "photos", bad=True, n=60)  # 1 bad of 121: under 1 %, skipped
    code, out, err = cli(["data", "info", "--data", f"folder:{root}", "--resolution", "8", "--channels", "3",
                          "--json"])
    assert code == 0, err
    info = json.loads(out)["images"]
    assert info["n"] == 120 and info["shape"] == [3, 8, 8] and info["channels"] == 3 and info["size"] == [8, 8]
    assert info["labelled"] and info["class_counts"] == {"bag": 60, "shoe": 60}
    assert info["captions"] and info["skipped"] == 1
    assert any("skipped 1 unreadable" in n for n in info["notes"])
    code, out, err = cli(["data", "info", "--data", f"folder:{root}", "--resolution", "8"])  # text: notes once
    assert code == 0 and out == ""
    assert err.count("note: skipped 1 unreadable") == 1 and "labelled" in err


def test_info_flat_folder_is_unlabelled_and_positional_spec_still_works(cli, tmp_path):
    for i in range(3):
        Image.new("L", (16, 16), i).save(tmp_path / f"{i}.png")
    code, out, err = cli(["data", "info", f"folder:{tmp_path}", "--json"])
    assert code == 0, err
    info = json.loads(out)["images"]
    assert not info["labelled"] and info["shape"] == [1, 16, 16] and not info["captions"] and info["skipped"] == 0


def test_show_writes_a_preprocessed_grid(cli, tmp_path):
    root = _folder(tmp_path / "photos")
    png = tmp_path / "grid.png"
    code, _, err = cli(["data", "show", "--data", f"folder:{root}", "--resolution", "16", "--channels", "3",
                        "--n", "2", "--out", png])
    assert code == 0, err
    with Image.open(png) as im:  # 2 rows (classes) of 2 images of 16 px, padding 2, upscale 3
        assert im.size == (3 * (2 * 18 + 2), 3 * (2 * 18 + 2)) and im.mode == "RGB"


def test_bad_options_are_one_line(cli, tmp_path):
    root = _folder(tmp_path / "photos")
    for args, words in (
        (["--data", f"folder:{root}", "--channels", "2"], "--channels 2 is not supported"),
        (["--data", f"folder:{root}", "--resolution", "4"], "--resolution must be a whole number >= 8"),
        (["digits", "--data", f"folder:{root}"], "two data specs given"),
        (["--data", f"folder:{tmp_path / 'missing'}"], "does not exist"),
    ):
        code, out, err = cli(["data", "info", *args])
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err, (args, err)


def test_info_on_a_split_folder_reports_both_splits(cli, tmp_path):
    _folder(tmp_path / "train")
    _folder(tmp_path / "test", n=1)
    code, out, err = cli(["data", "info", "--data", f"folder:{tmp_path}", "--json"])
    assert code == 0, err
    info = json.loads(out)
    assert (info["train"]["n"], info["test"]["n"]) == (4, 2) and info["class_names"] == ["bag", "shoe"]
