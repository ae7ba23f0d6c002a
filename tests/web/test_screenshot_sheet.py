"""The README's contact sheet of the explorer's panels (genlens.web.screenshots.contact_sheet)."""
from PIL import Image

from genlens.web.screenshots import contact_sheet


def test_contact_sheet_tiles_scaled_screenshots_in_rows(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    sizes = [(200, 100), (100, 100), (400, 100)]  # scaled to width 50: heights 25, 50, 12.5 -> 12
    paths = []
    for i, (size, colour) in enumerate(zip(sizes, colours)):
        paths.append(tmp_path / f"shot{i}.png")
        Image.new("RGB", size, colour).save(paths[-1])
    out = contact_sheet(paths, tmp_path / "sheet.png", width=50, columns=2, gap=4)
    sheet = Image.open(out).convert("RGB")
    # two columns of 50 px with three gaps; rows as tall as their tallest tile (50, then 12) with three gaps
    assert sheet.size == (2 * 50 + 3 * 4, 50 + 12 + 3 * 4)
    assert sheet.getpixel((4 + 10, 4 + 10)) == colours[0]  # first tile, top-left
    assert sheet.getpixel((4 + 10, 4 + 40)) == (255, 255, 255)  # below the 25-px-tall first tile: background
    assert sheet.getpixel((4 + 50 + 4 + 10, 4 + 40)) == colours[1]  # second tile is 50 px tall
    assert sheet.getpixel((4 + 10, 4 + 50 + 4 + 5)) == colours[2]  # second row
