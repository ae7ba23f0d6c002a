"""The tour's explorer section shows the screenshots it is given (copied beside the page) and says which panels
have none; without a folder it says how to get them."""
from __future__ import annotations

from types import SimpleNamespace

from PIL import Image

from genlens.report.explorer_section import PANELS, section_explorer


def test_screenshots_are_copied_and_missing_panels_named(tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    for panel in ("gan", "diffusion"):
        Image.new("RGB", (8, 8)).save(shots / f"explorer-{panel}.png")
    ctx = SimpleNamespace(out=tmp_path / "tour", screenshots=shots, numbers={})
    html = section_explorer(ctx)
    assert html.count("<figure>") == 2 and (ctx.out / "explorer" / "explorer-gan.png").is_file()
    assert ctx.numbers["explorer"]["screenshots"] == ["gan", "diffusion"]
    assert set(ctx.numbers["explorer"]["missing"]) == set(PANELS) - {"gan", "diffusion"}
    assert "No screenshot for" in html


def test_without_a_folder_the_section_says_how(tmp_path):
    html = section_explorer(SimpleNamespace(out=tmp_path, screenshots=None, numbers={}))
    assert "--screenshots" in html and "<figure>" not in html
