"""Grids, PNG round trips and image loading."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from genlens.errors import GenlensError
from genlens.utils.images import load_image, make_grid, safe_name, save_grid, save_png, to_uint8


@pytest.mark.parametrize(
    ("b", "c", "nrow", "padding", "shape"),
    [
        (8, 1, 8, 2, (1, 30 + 2, 8 * 30 + 2)),
        (5, 3, 3, 2, (3, 2 * 30 + 2, 3 * 30 + 2)),
        (1, 1, 8, 0, (1, 28, 28)),
        (10, 1, 2, 1, (1, 5 * 29 + 1, 2 * 29 + 1)),
        (3, 1, 0, 2, (1, 3 * 30 + 2, 30 + 2)),  # nrow clamped to at least 1
    ],
)
def test_make_grid_shapes(b, c, nrow, padding, shape):
    grid = make_grid(torch.zeros(b, c, 28, 28), nrow=nrow, padding=padding)
    assert tuple(grid.shape) == shape


def test_make_grid_places_images_row_major():
    imgs = torch.arange(1, 5, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 1, 2, 2) / 10
    grid = make_grid(imgs, nrow=2, padding=1, pad_value=0.0)
    assert grid[0, 1, 1] == pytest.approx(0.1) and grid[0, 1, 4] == pytest.approx(0.2)
    assert grid[0, 4, 1] == pytest.approx(0.3) and grid[0, 4, 4] == pytest.approx(0.4)
    assert float(grid[0, 0].sum()) == 0.0  # padding row


def test_make_grid_rejects_3d():
    with pytest.raises(ValueError, match="expects"):
        make_grid(torch.zeros(1, 28, 28))


@pytest.mark.parametrize("channels", [1, 3])
def test_png_round_trip_is_exact(tmp_path, channels):
    g = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (channels, 12, 9), generator=g).float() / 255
    path = save_png(img, tmp_path / "sub" / "x.png")
    back = load_image(path, channels=channels)
    assert back.shape == img.shape
    torch.testing.assert_close(back, img, rtol=0, atol=1e-6)


def test_upscale_and_resize(tmp_path):
    path = save_png(torch.rand(1, 7, 5), tmp_path / "x.png", upscale=3)
    assert Image.open(path).size == (15, 21)
    assert load_image(path, size=28).shape == (1, 28, 28)
    assert load_image(path, channels=3).shape == (3, 21, 15)


def test_save_grid(tmp_path):
    path = save_grid(torch.rand(6, 1, 28, 28), tmp_path / "grid.png", nrow=3, upscale=2)
    assert Image.open(path).size == (2 * (3 * 30 + 2), 2 * (2 * 30 + 2))


def test_to_uint8_clamps():
    arr = to_uint8(torch.tensor([[[-1.0, 0.5, 2.0]]]))
    assert arr.tolist() == [[0, 128, 255]]


@pytest.mark.parametrize("content", ["just some text\n", ""])
def test_load_image_on_non_image_is_one_line(tmp_path, content):
    path = tmp_path / "notes.png"
    path.write_text(content)
    with pytest.raises(GenlensError) as err:
        load_image(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_load_image_missing(tmp_path):
    with pytest.raises(GenlensError, match="does not exist"):
        load_image(tmp_path / "nope.png")


@pytest.mark.parametrize(
    ("name", "safe"), [("Ankle boot", "Ankle_boot"), ("T-shirt/top", "T-shirt_top"), (" a  b\\c ", "a_b_c"),
                       ("..", "__"), (".", "_"), ("../../etc", "___.._etc"), ("a\x07b\nc", "a_b_c"), ("", "_"),
                       (".hidden", "_hidden")]
)
def test_safe_name(name, safe):
    assert safe_name(name) == safe


def _reference_grid(images, nrow, padding, pad_value):
    """The hand-written tiling genlens used before torchvision's make_grid: the oracle for identical output."""
    b, c, h, w = images.shape
    nrow = max(1, min(nrow, b))
    ncol = (b + nrow - 1) // nrow
    grid = images.new_full((c, ncol * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i in range(b):
        r, q = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, y : y + h, x : x + w] = images[i]
    return grid


@pytest.mark.parametrize(("b", "c", "nrow", "padding", "pad_value"),
                         [(1, 1, 8, 2, 1.0), (5, 3, 3, 2, 0.0), (8, 1, 8, 2, 1.0), (7, 1, 2, 1, 0.5), (3, 3, 0, 0, 1.0)])
def test_make_grid_equals_the_reference_tiling(b, c, nrow, padding, pad_value):
    images = torch.rand(b, c, 6, 5, generator=torch.Generator().manual_seed(b))
    got = make_grid(images, nrow=nrow, padding=padding, pad_value=pad_value)
    assert torch.equal(got, _reference_grid(images, nrow, padding, pad_value))


def _png_claiming(path, width, height):
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's shape)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [30000, 5000])
def test_huge_images_are_refused_before_decoding(tmp_path, side):
    with pytest.raises(GenlensError) as err:
        load_image(_png_claiming(tmp_path / "bomb.png", side, side))
    assert "\n" not in str(err.value) and ("too large" in str(err.value) or "more than the limit" in str(err.value))


def test_image_limit_is_overridable(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    Image.new("L", (40, 30)).save(path)
    monkeypatch.setenv("GENLENS_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(GenlensError, match="40x30 pixels, more than the limit of 1000"):
        load_image(path)
    monkeypatch.setenv("GENLENS_MAX_IMAGE_PIXELS", "1200")
    assert load_image(path).shape == (1, 30, 40)
