"""The explorer in a real browser: Debian's Chromium, headless, driven by Playwright with real mouse events."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

HEAT_CENTROID = """() => {
  const c = document.querySelector('#gan-stage canvas.heat');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let sx = 0, sy = 0, s = 0;
  for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
    const a = d[4 * (y * c.width + x) + 3] ** 2;  // the heatmap's strength, squared to favour its peak
    sx += a * (x + 0.5) / c.width; sy += a * (y + 0.5) / c.height; s += a;
  }
  return [sx / s, sy / s];
}"""


def wait_frames(page, more_than: int) -> int:
    page.wait_for_function(f"window.__genlens && window.__genlens.frames > {more_than}", timeout=15_000)
    return page.evaluate("window.__genlens.frames")


def drag_and_check(page, handle, sx: float, sy: float, tx: float, ty: float, *, frames: int, steps: int) -> None:
    """Drag from (sx, sy) to (tx, ty) with real pointer events; frames must arrive during the drag, every request
    must be answered, and ``handle`` must end under the pointer (within 2 px)."""
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(tx, ty, steps=steps)
    mid = page.evaluate("window.__genlens.frames")
    page.mouse.up()
    assert mid > frames  # frames arrived while dragging
    page.wait_for_function("window.__genlens.lastId === window.__genlens.sent - 1", timeout=15_000)
    end = handle.bounding_box()
    assert abs(end["x"] + end["width"] / 2 - tx) < 2 and abs(end["y"] + end["height"] / 2 - ty) < 2


def test_gan_panel_drag_a_heatmap_blob(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#gan?model=fmnist-eqgan&seed=1")
    frames = wait_frames(page, 0)
    assert page.locator("#gan-stage .blob").count() == 7
    blob = page.locator('#gan-stage .blob[data-level="1"]')
    stage = page.locator("#gan-stage").bounding_box()
    start = blob.bounding_box()
    sx, sy = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    before = page.evaluate(HEAT_CENTROID)
    # drag towards the far side of the canvas, with real pointer events all the way
    tx = stage["x"] + (0.15 if sx > stage["x"] + stage["width"] / 2 else 0.85) * stage["width"]
    ty = stage["y"] + (0.2 if sy > stage["y"] + stage["height"] / 2 else 0.8) * stage["height"]
    drag_and_check(page, blob, sx, sy, tx, ty, frames=frames, steps=12)
    after = page.evaluate(HEAT_CENTROID)
    # the server-rendered heatmap moved the way the pointer did
    fx, fy = (tx - stage["x"]) / stage["width"], (ty - stage["y"]) / stage["height"]
    assert (after[0] - before[0]) * (fx - (sx - stage["x"]) / stage["width"]) > 0
    assert (after[1] - before[1]) * (fy - (sy - stage["y"]) / stage["height"]) > 0
    assert re.search(r"b=1%3A[0-9.]+%3A", page.url) or re.search(r"b=1:[0-9.]+:", page.url)
    assert page.locator("#gan-base").is_visible()  # the baseline with the same latent beside it


def test_gan_panel_latent_pad_and_truncation(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#gan?model=fmnist-gan&seed=4")
    frames = wait_frames(page, 0)
    assert page.locator("#gan-stage .blob").count() == 0  # no heatmap input on the baseline
    pad = page.locator("#gan-pad").bounding_box()
    page.mouse.move(pad["x"] + 20, pad["y"] + 20)
    page.mouse.down()
    page.mouse.move(pad["x"] + pad["width"] - 20, pad["y"] + pad["height"] / 2, steps=6)
    page.mouse.up()
    wait_frames(page, frames)
    assert "px=0.8" in page.url or "px=0.7" in page.url
    page.locator("#gan-psi").fill("0.3")
    page.wait_for_function("window.__genlens.lastId === window.__genlens.sent - 1", timeout=15_000)


def test_cam_panel_shows_an_overlay(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#cam?model=fmnist-cnn&image=test:3&target=Trouser")
    page.wait_for_function("document.querySelector('#cam-overlay')?.src.startsWith('data:image/png')", timeout=20_000)
    assert "Grad-CAM of Trouser" in page.locator("#cam-caption").inner_text()
    assert page.locator("#cam-thumbs img").count() == 24
    page.locator("#cam-thumbs img").nth(5).click()
    page.wait_for_function("location.hash.includes('image=test%3A5') || location.hash.includes('image=test:5')")


def test_units_panel_opens_a_unit_by_url(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#units?model=fmnist-cnn&layer=stages.2.0.act&unit=5")
    page.wait_for_selector("#units-dead", timeout=20_000)
    assert page.locator("#units-layer").input_value() == "stages.2.0.act"
    assert page.locator("#units-unit").input_value() == "5"
    assert page.locator("#units-top img").count() == 9
    page.wait_for_function("document.querySelector('#units-vis')?.naturalWidth > 0", timeout=30_000)
    assert page.locator("#units-dead").inner_text() in ("dead", "alive")


def test_diffusion_panel_streams_and_scrubs(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#diffusion?model=fmnist-ddpm&class=Sneaker&steps=4&seed=2")
    page.wait_for_function("window.__diffusion && window.__diffusion.done > 0", timeout=60_000)
    assert page.evaluate("window.__diffusion.steps") >= 4  # every step arrived before the final image
    assert page.locator("#dif-class").input_value() == "Sneaker"
    scrub = page.locator("#dif-scrub")
    assert not scrub.is_disabled() and scrub.get_attribute("max") == "4"
    scrub.fill("1")
    page.wait_for_function("document.querySelector('#dif-step').textContent.startsWith('step 1 of 4')")
    noisy = page.evaluate("document.querySelector('#dif-xt').toDataURL()")
    scrub.fill("4")
    page.wait_for_function("document.querySelector('#dif-step').textContent.startsWith('step 4 of 4')")
    assert page.evaluate("document.querySelector('#dif-xt').toDataURL()") != noisy


def test_gan_panel_adds_and_removes_blobs_and_shows_d_cam(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#gan?model=fmnist-eqgan&seed=1&baseline=0")
    frames = wait_frames(page, 0)
    stage = page.locator("#gan-stage").bounding_box()
    page.locator("#gan-newlevel").select_option("3")
    page.mouse.dblclick(stage["x"] + 5, stage["y"] + 5)
    assert page.locator('#gan-stage .blob[data-level="3"]').count() == 5
    frames = wait_frames(page, frames)
    page.locator('#gan-stage .blob[data-level="2"]').first.click(button="right")
    assert page.locator('#gan-stage .blob[data-level="2"]').count() == 1
    frames = wait_frames(page, frames)
    sigma = lambda: float(re.search(r"b=1(?::|%3A)[0-9.]+(?::|%3A)[0-9.]+(?::|%3A)([0-9.]+)", page.url).group(1))  # noqa: E731
    before = sigma()
    page.locator('#gan-stage .blob[data-level="1"]').hover()
    page.mouse.wheel(0, -100)  # scroll up on a blob: a wider spread
    for _ in range(100):
        if sigma() > before:
            break
        page.wait_for_timeout(50)
    assert sigma() > before
    frames = wait_frames(page, frames)
    assert page.locator("#gan-dcam-overlay").is_hidden()
    page.locator("#gan-dcam").check()
    wait_frames(page, frames)
    assert page.locator("#gan-dcam-overlay").is_visible() and "dcam=1" in page.url


def test_latent_walk_saves_points_and_exports_a_gif(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#gan?model=fmnist-gan&seed=4&seed2=9&baseline=0")
    wait_frames(page, 0)
    assert page.locator("#gan-gif").is_disabled()
    pad = page.locator("#gan-pad").bounding_box()
    for fx in (0.1, 0.9):
        page.mouse.click(pad["x"] + fx * pad["width"], pad["y"] + pad["height"] / 2)
        page.locator("#gan-save-point").click()
    assert page.locator("#gan-pad .saved").count() == 2 and "pts=" in page.url and "seed2=9" in page.url
    with page.expect_download(timeout=30_000) as download:
        page.locator("#gan-gif").click()
    assert download.value.suggested_filename == "walk-seed4.gif"


def test_inversions_panel_runs_and_cancels_a_background_inversion(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#inversions?what=class&model=fmnist-cnn&method=deepdream&class=Bag&scale=0.01")
    page.wait_for_selector("#inv-grid tr", timeout=20_000)
    assert page.locator("#inv-grid tr").count() == 11  # a header and one row per class
    page.locator("#inv-run").click()
    page.wait_for_function("window.__inversions.done > 0", timeout=60_000)
    assert page.evaluate("window.__inversions.progress") > 1
    assert page.evaluate("document.querySelector('#inv-progress').value === document.querySelector('#inv-progress').max")
    assert "Bag from fmnist-cnn" in page.locator("#inv-result").inner_text()
    page.locator("#inv-scale").fill("1")
    page.locator("#inv-run").click()
    page.wait_for_function("window.__inversions.progress > 0 && !document.querySelector('#inv-cancel').disabled "
                           "&& document.querySelector('#inv-result').textContent.startsWith('step')", timeout=60_000)
    page.locator("#inv-cancel").click()
    page.wait_for_function("window.__inversions.cancelled > 0", timeout=30_000)
    assert page.locator("#inv-result").inner_text() == "cancelled" and "scale=1" in page.url


def test_gan_panel_drags_a_layout_item(browser_page, live_url):
    page = browser_page
    page.goto(live_url + "#gan?model=scenes-gan-layout&seed=2")
    frames = wait_frames(page, 0)
    markers = page.locator("#gan-stage .item")
    assert markers.count() == 2 and markers.first.inner_text().startswith("Sneaker")
    assert page.locator("#gan-class option").count() == 10
    # the baseline beside a scenes model is the unconditional GAN of the same data, shipped as scenes-gan
    assert page.locator("#gan-base").is_visible() and "scenes-gan" in page.locator("#gan-base").locator("xpath=..").inner_text()
    stage = page.locator("#gan-stage").bounding_box()
    start = markers.first.bounding_box()
    sx, sy = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    tx, ty = stage["x"] + 0.8 * stage["width"], stage["y"] + 0.75 * stage["height"]
    image = "() => document.querySelector('#gan-image').toDataURL()"
    before = page.evaluate(image)
    drag_and_check(page, markers.first, sx, sy, tx, ty, frames=frames, steps=10)
    assert page.evaluate(image) != before  # the scene was redrawn with the item moved
    assert re.search(r"l=7(?::|%3A)0\.80", page.url)
    page.locator("#gan-class").select_option("Bag")
    page.locator("#gan-add-item").click()  # a third item: the model's limit, so "add" turns off
    assert markers.count() == 3 and page.locator("#gan-add-item").is_disabled()
    page.locator("#gan-stage .item .remove").last.click()
    assert markers.count() == 2
    page.wait_for_function("window.__genlens.lastId === window.__genlens.sent - 1", timeout=15_000)
    # scrolling up on an item enlarges its box (the size written to the hash grows); double-click removes it
    size = lambda: float(re.search(r"l=7(?::|%3A)[0-9.]+(?::|%3A)[0-9.]+(?::|%3A)([0-9.]+)", page.url).group(1))  # noqa: E731
    boxes = page.locator("#gan-stage .item-box")
    before, width = size(), boxes.first.bounding_box()["width"]
    markers.first.hover()
    page.mouse.wheel(0, -100)
    for _ in range(100):
        if size() > before:
            break
        page.wait_for_timeout(50)
    assert size() > before and boxes.first.bounding_box()["width"] > width
    frames = wait_frames(page, page.evaluate("window.__genlens.frames") - 1)
    box = markers.last.bounding_box()
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("!/[?&]l=[^&]*(,|%2C)/.test(location.href)", timeout=5_000)  # one item in the hash
    assert markers.count() == 1 and re.search(r"[?&]l=7(?::|%3A)", page.url)  # the Bag went, the Sneaker stayed
    # D's Grad-CAM, taken with the layout fixed, can be shown for a layout GAN too
    page.locator("#gan-dcam").check()
    wait_frames(page, frames)
    page.wait_for_function("window.__genlens.lastId === window.__genlens.sent - 1", timeout=15_000)
    assert page.locator("#gan-dcam-overlay").is_visible() and "dcam=1" in page.url


@pytest.fixture(scope="module")
def layout_url(tmp_path_factory, fmnist_dir):
    """An explorer whose only diffusion model is a tiny untrained layout model (fast: a few steps per image)."""
    import torch
    from conftest import serve

    from genlens.data.fashion_mnist import CLASS_NAMES
    from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, save_diffusion

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("layout-diffusion")
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("layout", num_classes=10, max_items=3, pad=0), steps=1,
                               data="fashion-scenes")
    folder = save_diffusion(root / "lay", Denoiser(cfg.unet).eval(), config=cfg, class_names=CLASS_NAMES,
                            command="test", metrics={})
    yield from serve(root / "cache", data_dir=fmnist_dir, diffusion=(str(folder),), gans=())


def test_diffusion_panel_moves_a_layout_item_and_samples_again(browser_page, layout_url):
    page = browser_page
    page.goto(layout_url + "#diffusion?steps=3&seed=2")
    page.wait_for_function("window.__diffusion && window.__diffusion.done > 0", timeout=30_000)
    markers = page.locator("#dif-stage .item")
    assert markers.count() == 2 and markers.first.inner_text().startswith("Sneaker")
    image = "() => document.querySelector('#dif-layout-image').toDataURL()"
    before = page.evaluate(image)
    stage = page.locator("#dif-stage").bounding_box()
    start = markers.first.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(stage["x"] + 0.8 * stage["width"], stage["y"] + 0.25 * stage["height"], steps=8)
    page.mouse.up()
    page.wait_for_function("window.__diffusion.done > 1", timeout=30_000)
    assert page.evaluate(image) != before  # the same seed drew the moved layout
    assert re.search(r"[?&]l=7(?::|%3A)0\.8", page.url)
