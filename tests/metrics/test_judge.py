import json

import pytest
import torch

from genlens.errors import GenlensError
from genlens.metrics import judge


def ranked_image(order: list[int]) -> torch.Tensor:
    """A 28x28 image that PixelReader scores in this class order (first = highest logit)."""
    x = torch.zeros(1, 28, 28)
    for rank, c in enumerate(order):
        x[0, 0, c] = 1.0 - 0.05 * rank
    return x


def test_known_outputs(pixel_handle) -> None:
    images = torch.stack(
        [
            ranked_image([0, 1, 2, 3, 4]),  # intended a: top-1 hit
            ranked_image([3, 1, 2, 4, 5]),  # intended b: top-1 miss, top-5 hit
            ranked_image([2, 4, 5, 6, 7, 1]),  # intended b: sixth, top-5 miss
            ranked_image([2, 0, 1]),  # intended c (by name): top-1 hit
        ]
    )
    rep = judge(pixel_handle, images, [0, 1, "b", "c"])
    assert rep.judge == "pixel" and rep.n == 4 and rep.k == 5
    assert rep.top1 == pytest.approx(0.5) and rep.top5 == pytest.approx(0.75)
    assert rep.per_class == {
        "a": {"top1": 1.0, "top5": 1.0, "n": 1},
        "b": {"top1": 0.0, "top5": 0.5, "n": 2},
        "c": {"top1": 1.0, "top5": 1.0, "n": 1},
    }
    hist = rep.predicted_histogram
    assert list(hist) == list(pixel_handle.class_names)
    assert hist["a"] == 1 and hist["c"] == 2 and hist["d"] == 1 and sum(hist.values()) == 4
    assert json.loads(json.dumps(rep.to_dict()))["per_class"]["b"]["n"] == 2


def test_tensor_labels_rgb_and_other_sizes(pixel_handle, tiny_handle) -> None:
    images = torch.stack([ranked_image([c]) for c in range(10)])
    rep = judge(pixel_handle, images.expand(-1, 3, -1, -1), torch.arange(10))  # RGB -> gray
    assert rep.top1 == 1.0 and len(rep.per_class) == 10
    assert judge(tiny_handle, torch.rand(3, 1, 32, 32), torch.tensor([0, 1, 2])).n == 3  # resized


@pytest.mark.parametrize(
    ("images", "labels", "msg"),
    [
        (torch.rand(2, 1, 28, 28), [0], "2 images but 1"),
        (torch.rand(2, 1, 28, 28), torch.tensor([0, 10]), r"\[0, 9\]"),
        (torch.rand(2, 1, 28, 28), [0, 10], "out of range"),
        (torch.rand(2, 1, 28, 28), ["a", "no-such-class"], "no-such-class"),
        (torch.rand(0, 1, 28, 28), [], "at least 1"),
        (torch.rand(2, 1, 28, 28) * 2 - 1, [0, 1], r"\[0, 1\]"),
    ],
)
def test_bad_inputs(pixel_handle, images: torch.Tensor, labels: list, msg: str) -> None:
    with pytest.raises(GenlensError, match=msg):
        judge(pixel_handle, images, labels)
