"""The object locator: CenterNet targets and focal loss (golden), decoding planted peaks, matching and scores
on hand-made detections, a tiny training run whose loss falls, save/load, and refusals of wrong inputs."""
from __future__ import annotations

import math

import pytest
import torch

from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.errors import GenlensError
from genlens.metrics.locator import Detection, LocatorConfig, build_locator, decode, load_locator, locate, save_locator
from genlens.metrics.locator_eval import evaluate_locator, match, score_detections
from genlens.metrics.locator_train import focal_loss, make_targets, train_locator

TINY = LocatorConfig(width=8)


@pytest.fixture(scope="module")
def scenes(fmnist_test):
    return generate_scenes(SceneConfig(split="test", count=300), fmnist_test)


def test_targets_put_a_unit_peak_and_the_offset_at_the_centre_cell():
    classes = torch.tensor([[7, 2, -1]])
    centres = torch.tensor([[[10.5, 20.0], [3.0, 4.5], [0.0, 0.0]]])
    heat, off, mask = make_targets(classes, centres, torch.tensor([[12.0, 6.0, 0.0]]), TINY)
    assert heat.shape == (1, 10, 32, 32) and mask.sum() == 2
    assert heat[0, 7, 20, 10] == 1.0 and heat[0, 2, 4, 3] == 1.0 and heat[0, 7].max() == 1.0
    assert off[0, :, 20, 10].tolist() == [0.5, 0.0] and off[0, :, 4, 3].tolist() == [0.0, 0.5]
    # sigma = max(1, 12 / 6) = 2 cells: one cell away the target is exp(-1 / 8)
    assert heat[0, 7, 20, 11].item() == pytest.approx(math.exp(-1 / 8), rel=1e-6)
    half, off2, _ = make_targets(classes, centres, torch.tensor([[12.0, 6.0, 0.0]]), LocatorConfig(width=8, stride=2))
    assert half.shape[-1] == 16 and half[0, 7, 10, 5] == 1.0 and off2[0, :, 10, 5].tolist() == [0.25, 0.0]


def test_focal_loss_golden():
    # p = 0.5 everywhere; one peak and three cells with target 0: -(0.25 log .5 + 3 * 0.25 log .5) / 1 = log 2
    target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert focal_loss(torch.zeros(1, 1, 2, 2), target).item() == pytest.approx(math.log(2), rel=1e-6)
    # near a peak the negative term is down-weighted by (1 - Y)^4
    soft = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    assert focal_loss(torch.zeros(1, 1, 2, 2), soft).item() == pytest.approx(math.log(2) * (1 + 0.0625 + 2) / 4, rel=1e-6)


def test_decode_finds_planted_peaks_exactly():
    heat = torch.zeros(2, 10, 32, 32)
    off = torch.zeros(2, 2, 32, 32)
    heat[0, 7, 20, 10] = 0.9
    heat[0, 7, 20, 11] = 0.8  # not a 3x3 maximum: suppressed
    off[0, :, 20, 10] = torch.tensor([0.5, 0.25])
    heat[0, 3, 5, 30] = 0.6
    heat[0, 1, 15, 15] = 0.2  # below the threshold
    heat[1, 0, 0, 0] = 0.5
    dets = decode(heat, off, stride=1, canvas=32, threshold=0.3)
    assert dets[0] == [Detection(7, 10.5 / 32, 20.25 / 32, pytest.approx(0.9)), Detection(3, 30 / 32, 5 / 32, pytest.approx(0.6))]
    assert dets[1] == [Detection(0, 0.0, 0.0, 0.5)]
    assert decode(heat, off, stride=2, canvas=64, threshold=0.3)[0][0].x == pytest.approx(21 / 64)
    # two classes firing on one place: one object of the likelier class, unless peaks are per class
    heat[1, 4, 1, 0] = 0.4
    assert [d.cls for d in decode(heat, off, stride=1, canvas=32)[1]] == [0]
    assert [d.cls for d in decode(heat, off, stride=1, canvas=32, per_class=True)[1]] == [0, 4]


def test_matching_and_scores_on_hand_made_detections():
    classes = torch.tensor([[7, 2, -1], [5, -1, -1]])
    centres = torch.tensor([[[10.0, 10.0], [20.0, 20.0], [0.0, 0.0]], [[16.0, 16.0], [0.0, 0.0], [0.0, 0.0]]])
    dets = [
        [Detection(7, 11 / 32, 10 / 32, 0.9), Detection(4, 20 / 32, 22 / 32, 0.8), Detection(1, 0.0, 0.0, 0.5)],
        [Detection(5, 30 / 32, 30 / 32, 0.9)],  # too far from the object: a miss and a false detection
    ]
    assert match(dets[0], [7, 2], [(10.0, 10.0), (20.0, 20.0)], canvas=32, radius=3.0) == [(0, 0, 1.0), (1, 1, 2.0)]
    s = score_detections(dets, classes, centres, canvas=32, radius=3.0)
    assert s["recall"] == pytest.approx(2 / 3) and s["precision"] == pytest.approx(2 / 4)
    assert s["class_accuracy"] == 0.5 and s["median_centre_error_px"] == 1.5
    assert s["count_accuracy"] == 0.5 and (s["objects"], s["detections"]) == (3, 4)
    assert s["by_count"] == {"1": {"objects": 1, "recall": 0.0, "class_accuracy": pytest.approx(math.nan, nan_ok=True)},
                             "2": {"objects": 2, "recall": 1.0, "class_accuracy": 0.5}}
    # Hungarian, not greedy: the nearest pair for detection 0 would leave object 1 unmatched
    crowd = [Detection(0, 10 / 32, 10 / 32, 0.9), Detection(0, 7 / 32, 10 / 32, 0.8)]
    pairs = match(crowd, [0, 0], [(8.0, 10.0), (11.5, 10.0)], canvas=32, radius=2.5)
    assert sorted((a, b) for a, b, _ in pairs) == [(0, 1), (1, 0)]


def test_tiny_training_lowers_the_loss_and_round_trips(scenes, tmp_path):
    log = []
    model = train_locator(TINY, scenes, steps=60, batch=32, lr=3e-3, generator=torch.Generator().manual_seed(0),
                          callback=log.append)
    first = sum(e["loss"] for e in log[:5]) / 5
    last = sum(e["loss"] for e in log[-5:]) / 5
    assert last < 0.85 * first
    metrics = evaluate_locator(model, scenes.take(50), threshold=0.1)
    assert set(metrics) >= {"median_centre_error_px", "class_accuracy", "recall", "precision"}
    folder = save_locator(tmp_path / "loc", model, command="test", metrics=metrics)
    again = load_locator(folder)
    x = scenes.images[:4]
    assert torch.allclose(model(x.float() / 255)[0], again(x.float() / 255)[0], atol=1e-6)
    assert locate(model, x, 0.1) == locate(again, x, 0.1)


def test_refuses_scenes_it_was_not_trained_for(scenes, fmnist_test, tmp_path):
    model = build_locator(TINY)
    with pytest.raises(GenlensError, match="trained on 32x32 scenes"):
        locate(model, torch.zeros(2, 1, 64, 64))
    with pytest.raises(GenlensError, match="1-channel"):
        locate(model, torch.zeros(2, 3, 32, 32))
    big = generate_scenes(SceneConfig(split="test", count=5, canvas=64), fmnist_test.take(10))
    with pytest.raises(GenlensError) as err:
        evaluate_locator(model, big)
    assert "\n" not in str(err.value)
    with pytest.raises(GenlensError, match="make them agree"):
        train_locator(LocatorConfig(width=8, canvas=64), scenes, steps=1)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text('{"kind": "gan"}')
    with pytest.raises(GenlensError, match="not an object locator"):
        load_locator(tmp_path / "x")


def test_global_batch_must_split_over_the_processes(scenes, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as accelerate launch --num_processes 2 sets it; refused before joining
    with pytest.raises(GenlensError, match="--batch 7 is not divisible by the 2 processes") as err:
        train_locator(TINY, scenes, steps=1, batch=7)
    assert "\n" not in str(err.value)


def test_training_depends_on_the_generator_only_not_the_global_rng(scenes):
    def run():
        return train_locator(TINY, scenes, steps=2, batch=8, generator=torch.Generator().manual_seed(3))

    torch.manual_seed(1)
    a = run()
    torch.manual_seed(2)
    b = run()
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
