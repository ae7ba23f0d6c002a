"""fashion-scenes: determinism, geometry constraints, ground truth consistent with pixels, the colour variant,
disjoint item pools and the on-disk cache."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import genlens.data.scenes as scenes_mod
from genlens.data.base import ImageData
from genlens.data.registry import DATASETS
from genlens.data.scene_render import item_size_range, mask_boxes, pairwise_max_iou
from genlens.data.scenes import SceneConfig, cache_paths, content_sha256, generate_scenes, load_scenes
from genlens.errors import GenlensError


@pytest.fixture(scope="module")
def scenes(fmnist_test):
    return generate_scenes(SceneConfig(split="test", count=400), fmnist_test)


def test_same_seed_same_hash_other_seed_differs(fmnist_test, scenes):
    again = generate_scenes(SceneConfig(split="test", count=400), fmnist_test)
    other = generate_scenes(SceneConfig(split="test", count=400, seed=1), fmnist_test)
    assert content_sha256(again) == content_sha256(scenes)
    assert content_sha256(other) != content_sha256(scenes)


def test_counts_and_boxes_respect_overlap_limit(scenes):
    assert set(scenes.counts.tolist()) == {1, 2, 3}
    present = scenes.classes >= 0
    assert pairwise_max_iou(scenes.boxes, present).max() <= 0.1 + 1e-6
    b = scenes.boxes[present]
    assert (b[:, :2] >= 0).all() and (b[:, 2:] <= scenes.canvas).all() and (b[:, 2:] > b[:, :2]).all()


@pytest.mark.parametrize("canvas", [32, 64])
def test_item_sizes_shrink_with_count(fmnist_test, canvas):
    data = generate_scenes(SceneConfig(split="test", count=300, canvas=canvas), fmnist_test)
    b = data.boxes
    longest = torch.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])
    for count in (1, 2, 3):
        sel = (data.counts == count)[:, None] & (data.classes >= 0)
        lo, hi = item_size_range(count)
        # the rescaled rectangle's longest side is round(f * canvas); a faint edge row may vanish (1 px)
        assert longest[sel].min() >= round(lo * canvas) - 1
        assert longest[sel].max() <= round(hi * canvas)
    assert data.image_shape == (1, canvas, canvas)


def test_masks_boxes_and_centres_match_pixels(scenes):
    masks = scenes.masks()  # (N, K, H, W)
    present = scenes.classes >= 0
    assert not masks[~present].any()
    assert torch.equal(mask_boxes(masks[present]), scenes.boxes[present])
    # grey scenes: max compositing on black, so a pixel is lit exactly where some item's mask is
    assert torch.equal(scenes.images[:, 0] > 0, masks.any(1))
    c = scenes.centres_px[present]
    b = scenes.boxes[present].float()
    assert torch.equal(c, (b[:, :2] + b[:, 2:]) / 2)
    assert torch.allclose(scenes.centres, scenes.centres_px / scenes.canvas)
    assert torch.equal(scenes.labels, scenes.classes[:, 0])
    area = (scenes.boxes[..., 2] - scenes.boxes[..., 0]) * (scenes.boxes[..., 3] - scenes.boxes[..., 1])
    assert (area[:, :-1] >= area[:, 1:]).all()  # slot 0 is the largest item


def test_subset_keeps_ground_truth(scenes):
    part = scenes.subset(torch.tensor([3, 1]))
    assert torch.equal(part.boxes, scenes.boxes[[3, 1]]) and torch.equal(part.images, scenes.images[[3, 1]])
    assert torch.equal(part.masks(), scenes.masks(torch.tensor([3, 1])))


def test_items_come_from_the_given_pool_only():
    pool = ImageData(torch.full((5, 1, 28, 28), 200, dtype=torch.uint8), torch.full((5,), 4), tuple("abcdefghij"))
    data = generate_scenes(SceneConfig(count=50), pool)
    assert set(data.classes[data.classes >= 0].tolist()) == {4}


@pytest.mark.parametrize("split", ["train", "test"])
def test_each_split_draws_from_its_own_items(split, tmp_path, monkeypatch, fmnist_test):
    asked = []

    def fake_load(s, *, data_dir=None):
        asked.append(s)
        return fmnist_test

    monkeypatch.setattr(scenes_mod, "load_fashion_mnist", fake_load)
    load_scenes(SceneConfig(split=split, count=20), cache=tmp_path)
    assert asked == [split]


def test_rgb_variant_tints_items_on_a_dark_background(fmnist_test, scenes):
    rgb = generate_scenes(SceneConfig(split="test", count=400, rgb=True), fmnist_test)
    assert rgb.image_shape == (3, 32, 32)
    assert torch.equal(rgb.boxes, scenes.boxes) and torch.equal(rgb.mask_bits, scenes.mask_bits)
    background = ~rgb.masks().any(1)  # (N, H, W)
    px = rgb.images.permute(0, 2, 3, 1)[background]
    assert px.max() <= round(0.2 * 255)
    # items are tinted: their brightest pixel differs between channels (not grey) in most scenes
    lit = rgb.images.float().amax((2, 3))
    assert ((lit.amax(1) - lit.amin(1)) > 20).float().mean() > 0.8


def test_bad_config_is_one_line_error():
    for kw in ({"canvas": 8}, {"max_items": 9}, {"split": "val"}, {"count": 0}):
        with pytest.raises(GenlensError) as err:
            SceneConfig(**kw)
        assert "\n" not in str(err.value)


def test_cache_is_reused_and_rebuilt_when_corrupt(tmp_path, monkeypatch):
    config = SceneConfig(split="test", count=30)
    first = load_scenes(config, cache=tmp_path)
    tensors, meta = cache_paths(config, tmp_path)
    record = json.loads(meta.read_text())
    assert record["content_sha256"] == content_sha256(first)
    load_scenes(config, cache=tmp_path / "elsewhere")  # the same seed writes a byte-identical file
    assert json.loads(cache_paths(config, tmp_path / "elsewhere")[1].read_text())["sha256"] == record["sha256"]

    real_generate = scenes_mod.generate_scenes
    monkeypatch.setattr(scenes_mod, "generate_scenes", lambda *a, **k: pytest.fail("cache was not reused"))
    cached = load_scenes(config, cache=tmp_path)
    assert content_sha256(cached) == content_sha256(first) and cached.config == config

    calls = []
    monkeypatch.setattr(scenes_mod, "generate_scenes", lambda *a, **k: calls.append(1) or real_generate(*a, **k))
    blob = bytearray(tensors.read_bytes())
    blob[-10] ^= 0xFF
    tensors.write_bytes(bytes(blob))
    assert content_sha256(load_scenes(config, cache=tmp_path)) == content_sha256(first)
    meta.write_text("{not json")
    assert content_sha256(load_scenes(config, cache=tmp_path)) == content_sha256(first)
    assert len(calls) == 2
    # another config is another file, not a stale hit
    other = dataclasses.replace(config, seed=5)
    assert cache_paths(other, tmp_path)[0] != tensors


def test_registered_like_other_data_sets():
    assert "fashion-scenes" in DATASETS and "fashion-scenes-rgb" in DATASETS


def test_cache_is_keyed_by_the_fashion_mnist_files_it_was_built_from(tiny_fmnist, tmp_path):
    """Two --data-dir folders with other files never share cached scenes; the same files elsewhere do."""
    import shutil

    from genlens.data.fashion_mnist import load_fashion_mnist

    config, cache = SceneConfig(split="test", count=12), tmp_path / "cache"
    first, second = tiny_fmnist(n_test=8, folder=tmp_path / "a"), tiny_fmnist(n_test=9, folder=tmp_path / "b")
    from_first = load_scenes(config, data_dir=first, cache=cache)
    from_second = load_scenes(config, data_dir=second, cache=cache)
    want = generate_scenes(config, load_fashion_mnist("test", data_dir=second))
    assert content_sha256(from_second) == content_sha256(want) != content_sha256(from_first)
    assert cache_paths(config, cache, data_dir=first) != cache_paths(config, cache, data_dir=second)
    assert len(list(cache.glob("*.safetensors"))) == 2

    copy = shutil.copytree(first, tmp_path / "copy")
    assert cache_paths(config, cache, data_dir=copy) == cache_paths(config, cache, data_dir=first)
