"""Folder captions: captions.jsonl at the root or a .txt beside each image, aligned with the loaded images."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from genlens.data.folder import load_image_folder
from genlens.data.folder_captions import captions_for
from genlens.data.options import DataOptions, load_with_options
from genlens.errors import GenlensError


def _folder(root):
    for cls in ("bag", "shoe"):
        for i in range(2):
            (root / cls).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (i * 50, 0, 0)).save(root / cls / f"{i}.png")
    return root


def test_jsonl_captions_align_with_images(tmp_path):
    root = _folder(tmp_path)
    rows = [{"file": "shoe/1.png", "text": "a red trainer"}, {"file": "./bag/0.png", "text": " a tote "},
            {"file": "bag/1.png", "text": "a satchel"}, {"file": "shoe/0.png", "text": "a boot"}]
    (root / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = load_with_options(DataOptions(spec=f"folder:{root}", channels=3))
    assert captions_for(data) == ["a tote", "a satchel", "a boot", "a red trainer"]  # index order: class, path
    sub = data.subset(torch.tensor([3, 0]))
    assert captions_for(sub) == ["a red trainer", "a tote"]  # subsets keep their captions


def test_txt_beside_images_and_jsonl_wins(tmp_path):
    root = _folder(tmp_path)
    (root / "bag" / "0.txt").write_text("from the txt\n")
    (root / "shoe" / "1.txt").write_text("overridden")
    (root / "captions.jsonl").write_text(json.dumps({"file": "shoe/1.png", "text": "from the jsonl"}) + "\n")
    data = load_image_folder(root, channels=3, size=None)
    assert captions_for(data) == ["from the txt", "", "", "from the jsonl"]
    assert any("2 of 4 image(s) have no caption" in n for n in data.notes)


def test_no_captions_is_one_line_naming_the_ways(tmp_path):
    data = load_image_folder(_folder(tmp_path), size=None)
    assert data.captions is None
    with pytest.raises(GenlensError, match="captions.jsonl") as err:
        captions_for(data)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("line", "words"), [
    ("{not json", "line 2 is not JSON"),
    ('["bag/0.png", "x"]', 'line 2 needs string fields "file" and "text"'),
    ('{"file": "bag/0.png", "text": 3}', 'line 2 needs string fields'),
])
def test_malformed_jsonl_names_file_and_line(tmp_path, line, words):
    root = _folder(tmp_path)
    (root / "captions.jsonl").write_text(json.dumps({"file": "bag/1.png", "text": "ok"}) + "\n" + line + "\n")
    with pytest.raises(GenlensError, match=words) as err:
        load_image_folder(root, size=None)
    assert "\n" not in str(err.value) and "captions.jsonl" in str(err.value)


def test_jsonl_naming_no_image_says_how_paths_are_written(tmp_path):
    root = _folder(tmp_path)
    (root / "captions.jsonl").write_text(json.dumps({"file": str(root / "bag/0.png"), "text": "x"}) + "\n")
    with pytest.raises(GenlensError, match="names none of the images.*relative to"):
        load_image_folder(root, size=None)


def test_subset_by_mask_keeps_the_right_captions(tmp_path):
    root = _folder(tmp_path)
    for i, f in enumerate(sorted(root.rglob("*.png"))):
        f.with_suffix(".txt").write_text(f"caption {i}")
    data = load_image_folder(root, size=None)
    sub = data.subset(data.labels == 1)
    assert captions_for(sub) == ["caption 2", "caption 3"] and len(sub) == 2
