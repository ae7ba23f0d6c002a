"""Layouts: parsing (names, indices, sizes), one-line errors, clamping with notes, rendering to conditioning
channels, and layouts read from scenes' ground truth."""
from __future__ import annotations

import pytest
import torch

from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.data.layout import Layout, LayoutItem, parse_layout, render_layout, scene_layouts, scene_mask_channels
from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.errors import GenlensError


def test_parse_names_indices_and_sizes():
    layout, notes = parse_layout("Sneaker@0.25,0.7; bag @ 0.7 , 0.3;ankle_boot@0.5,0.5,0.3;3@0,1", CLASS_NAMES)
    assert notes == []
    assert layout.items == (LayoutItem(7, 0.25, 0.7), LayoutItem(8, 0.7, 0.3), LayoutItem(9, 0.5, 0.5, 0.3),
                            LayoutItem(3, 0.0, 1.0))
    again, _ = parse_layout(layout.to_text(CLASS_NAMES), CLASS_NAMES)
    assert again == layout
    assert parse_layout("Ankle boot@0.1,0.2", CLASS_NAMES)[0].items[0].cls == 9


@pytest.mark.parametrize(("text", "needle"), [
    ("12@0.5,0.5", "out of range"),
    ("Hat@0.5,0.5", "Sneaker"),  # the message lists the names
    ("Sneaker 0.5,0.5", "CLASS@X,Y"),
    ("Sneaker@0.5", "CLASS@X,Y"),
    ("Sneaker@a,b", "CLASS@X,Y"),
    ("", "no items"),
    ("Bag@0.1,0.1;Bag@0.5,0.5;Bag@0.9,0.9;Bag@0.5,0.1", "at most 3"),
])
def test_bad_layouts_are_one_line_errors(text, needle):
    with pytest.raises(GenlensError) as err:
        parse_layout(text, CLASS_NAMES, max_items=3)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_centres_outside_the_canvas_are_clamped_and_noted():
    layout, notes = parse_layout("Bag@1.4,-0.2;Sneaker@0.5,0.5,3", CLASS_NAMES)
    assert (layout.items[0].x, layout.items[0].y) == (1.0, 0.0)
    assert layout.items[1].size == 1.0
    assert len(notes) == 2 and "clamped" in notes[0]


def test_blobs_peak_at_the_centre_with_sigma_from_size():
    canvas = 32
    layout = Layout((LayoutItem(2, 10.5 / canvas, 20.5 / canvas, 8 / canvas),))
    ch = render_layout([layout], num_classes=10, canvas=canvas)
    assert ch.shape == (1, 10, canvas, canvas)
    assert ch[0, 2, 20, 10] == 1.0 and ch[0, 2].argmax() == 20 * canvas + 10
    # sigma = size * canvas / 4 = 2 px: one sigma away the blob is exp(-1/2) (golden, fixed maths)
    assert ch[0, 2, 20, 12].item() == pytest.approx(torch.exp(torch.tensor(-0.5)).item(), rel=1e-6)
    assert ch[0, [0, 1, 3, 4, 5, 6, 7, 8, 9]].abs().max() == 0
    masks = render_layout([layout], num_classes=10, canvas=canvas, mode="masks")
    assert masks[0, 2].sum() == 8 * 8
    with pytest.raises(GenlensError):
        render_layout([layout], num_classes=10, canvas=canvas, mode="boxes")


def test_layout_from_scene_ground_truth(fmnist_test):
    scenes = generate_scenes(SceneConfig(split="test", count=20), fmnist_test)
    layouts = scene_layouts(scenes)
    assert [len(lay) for lay in layouts] == scenes.counts.tolist()
    first = layouts[0].items[0]
    assert (first.cls, first.x, first.y) == (int(scenes.classes[0, 0]), *scenes.centres[0, 0].tolist())
    blobs = render_layout(layouts, num_classes=10, canvas=scenes.canvas)
    masks = scene_mask_channels(scenes)
    assert blobs.shape == masks.shape == (20, 10, 32, 32)
    present = torch.zeros(20, 10, dtype=torch.bool)
    for i, lay in enumerate(layouts):
        for it in lay.items:
            present[i, it.cls] = True
    assert torch.equal(masks.amax((2, 3)) > 0, present) and torch.equal(blobs.amax((2, 3)) > 0.5, present)
