"""The evaluator genlens-eval: its own architecture and augmentation, trained by the zoo trainer, loaded as an
extractor and a judge from its weights folder (missing or tampered weights: one line)."""
from __future__ import annotations

import pytest
import torch

import genlens
import genlens.models.load as load_mod
from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.metrics import extractor_for, judge
from genlens.models.weights_io import save_model_folder
from genlens.models.zoo import EVALUATORS, ZOO, get_spec
from genlens.models.zoo.specs import TrainConfig, build
from genlens.models.zoo.train import train_zoo_model
from genlens.models.zoo.wrn import RandomErasing, WideResNet

NAME = "genlens-eval"


def test_evaluator_is_kept_apart_from_the_zoo() -> None:
    assert EVALUATORS.available() == [NAME]
    assert NAME not in ZOO and NAME not in genlens.zoo_names()
    spec = get_spec(NAME)
    assert spec.arch not in {get_spec(n).arch for n in ZOO.available()}
    assert not spec.train.hflip and spec.train.seed not in {get_spec(n).train.seed for n in ZOO.available()}


def test_builds_maps_shapes_and_exposes_features() -> None:
    torch.manual_seed(0)
    model = build(NAME).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
        logits = model(x)
    assert feats.shape == (3, model.num_features) and logits.shape == (3, 10)
    assert torch.equal(model.head(feats), logits)
    assert sum(p.numel() for p in model.parameters()) < 2_500_000  # fp16 well under 10 MB


def test_wrn_depth_must_be_6n_plus_4() -> None:
    with pytest.raises(ValueError, match="6n \\+ 4"):
        WideResNet(depth=12)
    deeper = WideResNet(depth=16, widen=1)
    assert len(deeper.blocks) == 6 and deeper.num_features == 64


def test_random_erasing_only_in_training() -> None:
    x = torch.randn(64, 1, 28, 28) + 5  # never 0 by chance
    erase = RandomErasing(p=1.0)
    assert torch.equal(erase.eval()(x), x)
    torch.manual_seed(0)
    out = erase.train()(x)
    zeros = (out == 0).flatten(1).sum(1).float() / (28 * 28)  # erased fraction per image
    # a rounded rectangle of 2 %..25 % of the area, clipped to the image: never empty, never whole
    assert (zeros > 0).all() and (zeros < 0.5).all()
    assert torch.equal(out[out != 0], x[out != 0])
    torch.manual_seed(0)
    assert torch.equal(erase(x), out)  # the trainer's seed fixes it
    assert torch.equal(RandomErasing(p=0.0).train()(x), x)


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory) -> object:
    """genlens-eval trained for 2 batches of 16 random images by the zoo trainer, saved like `zoo train`."""
    g = torch.Generator().manual_seed(0)
    data = ImageData(images=torch.randint(0, 256, (48, 1, 28, 28), dtype=torch.uint8, generator=g),
                     labels=torch.arange(48) % 10, class_names=get_spec(NAME).class_names)
    cfg = TrainConfig(epochs=1, batch_size=16, hflip=False, seed=30)
    result = train_zoo_model(NAME, data, device=torch.device("cpu"), config=cfg, limit_batches=2)
    assert len(result.history) == 1 and result.history[0]["loss"] > 0
    folder = tmp_path_factory.mktemp("weights") / NAME
    save_model_folder(folder, result.handle.model, config={"kind": "classifier", "name": NAME}, command="test",
                      metrics={})
    return folder


def test_extractor_and_judge_load_the_weights_folder(trained_folder, monkeypatch) -> None:
    monkeypatch.setattr(load_mod, "WEIGHTS_ROOT", trained_folder.parent)
    ext = extractor_for(NAME)
    x = torch.rand(5, 1, 28, 28)
    assert ext.name == NAME and ext.features(x).shape == (5, ext.dim) and ext.logits(x).shape == (5, 10)
    assert ext.handle.arch == "wrn" and not ext.handle.model.training
    report = judge(genlens.load_model(NAME), x, [0, 1, 2, 3, 4])
    assert report.judge == NAME and report.n == 5


def test_missing_weights_say_how_to_train(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(load_mod, "WEIGHTS_ROOT", tmp_path)
    with pytest.raises(GenlensError) as err:
        extractor_for(NAME)
    msg = str(err.value)
    assert "\n" not in msg and f"genlens zoo train {NAME} --seed 30 --out DIR" in msg


def test_tampered_weights_are_one_line(trained_folder, tmp_path, monkeypatch) -> None:
    import shutil

    folder = tmp_path / NAME
    shutil.copytree(trained_folder, folder)
    blob = bytearray((folder / "model.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(blob))
    monkeypatch.setattr(load_mod, "WEIGHTS_ROOT", tmp_path)
    with pytest.raises(GenlensError) as err:
        extractor_for(NAME)
    assert "\n" not in str(err.value) and "sha256" in str(err.value)
