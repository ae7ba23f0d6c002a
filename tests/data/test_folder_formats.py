"""Folders as users have them: many formats and modes, mixed sizes, labels or none, bad files, hidden files."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genlens.data.folder import load_image_folder, scan_folder
from genlens.data.options import DataOptions, load_with_options
from genlens.errors import GenlensError


def _save(path, im: Image.Image, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **kw)


def _colour(size=(64, 64), rgb=(200, 30, 60)) -> Image.Image:
    return Image.new("RGB", size, rgb)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".bmp", ".gif", ".tif"])
def test_every_common_format_loads_in_colour(tmp_path, suffix):
    _save(tmp_path / "a" / f"0{suffix}", _colour())
    _save(tmp_path / "b" / f"0{suffix}", _colour(rgb=(10, 220, 40)))
    data = load_image_folder(tmp_path, channels=3, size=32)
    assert data.images.shape == (2, 3, 32, 32) and data.labelled
    red, green = data.images[:, :, 16, 16].int()
    assert red[0] > red[1] + 100 and green[1] > green[0] + 100  # colours survive (JPEG/GIF within tolerance)


def test_gif_reads_its_first_frame(tmp_path):
    frames = [Image.new("L", (16, 16), v) for v in (40, 220)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    data = load_image_folder(tmp_path, channels=1, size=None)
    assert abs(int(data.images[0, 0, 8, 8]) - 40) <= 2


def test_mixed_modes_and_sizes_are_converted_and_said_once(tmp_path):
    _save(tmp_path / "rgb.png", _colour((80, 40)))  # wide: centre crop
    _save(tmp_path / "grey.png", Image.new("L", (64, 64), 128))
    _save(tmp_path / "alpha.png", Image.new("RGBA", (30, 90), (0, 0, 0, 0)))  # transparent -> white
    _save(tmp_path / "pal.png", _colour((64, 64)).convert("P"))
    _save(tmp_path / "deep.png", Image.fromarray(np.full((20, 20), 65535, dtype=np.uint16)))  # 16-bit grey
    data = load_image_folder(tmp_path, channels=3, size=32)
    assert data.images.shape == (5, 3, 32, 32)
    assert not data.labelled and data.class_names == (tmp_path.name,)
    by = dict(zip(sorted(p.name for p in tmp_path.iterdir()), data.images, strict=True))
    assert by["alpha.png"].min() == 255 and by["deep.png"].min() == 255
    joined = " | ".join(data.notes)
    assert "converted 4 image(s)" in joined and "to 32x32" in joined and "not square" in joined
    assert "no class sub-folders" in joined


def test_auto_channels_follow_the_images(tmp_path):
    _save(tmp_path / "g.png", Image.new("L", (8, 8), 9))
    assert load_image_folder(tmp_path, channels=None, size=None).images.shape[1] == 1
    _save(tmp_path / "c.png", _colour((8, 8)))
    data = load_image_folder(tmp_path, channels=None, size=None)
    assert data.images.shape == (2, 3, 8, 8) and data.images[1].unique().tolist() == [9]  # grey repeated


def test_one_class_subfolder_is_unlabelled_and_said(tmp_path):
    _save(tmp_path / "shoes" / "0.png", _colour((16, 16)))
    _save(tmp_path / "shoes" / "deeper" / "1.png", _colour((16, 16)))  # nested files belong to their class
    data = load_image_folder(tmp_path, channels=3, size=None)
    assert len(data) == 2 and not data.labelled and data.class_names == ("shoes",)
    assert any("one class sub-folder ('shoes')" in n for n in data.notes)


def test_hidden_and_non_image_files_are_ignored(tmp_path):
    _save(tmp_path / "a" / "0.png", _colour((8, 8)))
    _save(tmp_path / "b" / "0.png", _colour((8, 8)))
    _save(tmp_path / "a" / ".1.png", _colour((8, 8)))
    _save(tmp_path / ".cache" / "0.png", _colour((8, 8)))
    (tmp_path / "a" / "notes.md").write_text("hello")
    (tmp_path / "a" / "0.txt").write_text("a caption, not an image")
    index = scan_folder(tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in index.files] == ["a/0.png", "b/0.png"]
    assert index.class_names == ("a", "b") and index.labels == (0, 1)


def _flat(root, n, size=8):
    for i in range(n):
        _save(root / f"{i:03d}.png", Image.new("L", (size, size), i % 256))


def test_a_truncated_file_is_skipped_with_a_count(tmp_path):
    _flat(tmp_path, 100)
    _save(tmp_path / "big.png", Image.effect_noise((64, 64), 50).convert("L"))
    (tmp_path / "big.png").write_bytes((tmp_path / "big.png").read_bytes()[:200])  # truncated
    data = load_image_folder(tmp_path, size=8)
    assert len(data) == 100 and data.skipped == 1
    assert any("skipped 1 unreadable image(s)" in n and "big.png" in n for n in data.notes)


def test_more_than_one_percent_bad_is_one_line_naming_the_first(tmp_path):
    _flat(tmp_path, 99)
    (tmp_path / "bad1.png").write_text("not an image")
    (tmp_path / "bad2.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(GenlensError) as err:
        load_image_folder(tmp_path, size=8)
    msg = str(err.value)
    assert "\n" not in msg and "2 of 101" in msg and "bad1.png" in msg


def test_empty_folder_and_empty_classes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden.png").write_bytes(b"")
    with pytest.raises(GenlensError, match="no images found"):
        load_image_folder(tmp_path)
    _save(tmp_path / "b" / "0.png", _colour((8, 8)))
    _save(tmp_path / "c" / "0.png", _colour((8, 8)))
    data = load_image_folder(tmp_path, size=None)
    assert data.class_names == ("b", "c") and any("empty sub-folder(s) ignored: a" in n for n in data.notes)


def test_mixed_sizes_without_resolution_name_the_fix(tmp_path):
    _save(tmp_path / "a.png", _colour((8, 8)))
    _save(tmp_path / "b.png", _colour((9, 8)))
    with pytest.raises(GenlensError, match="pass --resolution N"):
        load_image_folder(tmp_path, size=None)


def test_options_centre_crop_instead_of_squashing(tmp_path):
    # a 96x32 strip: left third black, middle white, right third black -> the 32x32 crop is all white
    im = Image.new("L", (96, 32), 0)
    im.paste(255, (32, 0, 64, 32))
    _save(tmp_path / "strip.png", im)
    data = load_with_options(DataOptions(spec=f"folder:{tmp_path}", resolution=16, channels=1))
    assert data.images.shape == (1, 1, 16, 16)
    assert int(data.images[0, 0, 1:-1, 1:-1].min()) >= 250  # a squash would have kept the black sides
    colour = load_with_options(DataOptions(spec=f"folder:{tmp_path}", resolution=16, channels=3))
    assert colour.images.shape == (1, 3, 16, 16)
    auto = load_with_options(DataOptions(spec=f"folder:{tmp_path}"))
    assert auto.images.shape == (1, 1, 32, 96)  # no resolution: the images' own size, grey stays grey


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("L", (16, 8), 0)
    im.paste(255, (0, 0, 8, 8))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90° clockwise
    _save(tmp_path / "phone.jpg", im, exif=exif, quality=95)
    data = load_image_folder(tmp_path, channels=1, size=None)
    assert data.images.shape == (1, 1, 16, 8)  # upright: 8 wide, 16 high
    assert data.images[0, 0, 2, 4] > 200 and data.images[0, 0, 13, 4] < 50  # the white half is on top


def test_split_folders_are_splits_not_classes(tmp_path):
    from genlens.data.spec import load_train_test

    for split, n in (("train", 3), ("val", 1)):
        for cls in ("a", "b"):
            for i in range(n):
                _save(tmp_path / split / cls / f"{i}.png", _colour((8, 8)))
    train = load_with_options(DataOptions(spec=f"folder:{tmp_path}", channels=3), split="train")
    test = load_with_options(DataOptions(spec=f"folder:{tmp_path}", channels=3), split="test")
    assert (len(train), len(test)) == (6, 2) and train.class_names == test.class_names == ("a", "b")
    assert [len(d) for d in load_train_test(f"folder:{tmp_path}")] == [6, 2]
    with pytest.raises(GenlensError, match="split the folder into ROOT/train"):
        load_train_test(f"folder:{tmp_path / 'train'}")
