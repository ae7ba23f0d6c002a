"""The shipped denoisers: hashed, made by our own command, loadable, and they draw the class they are asked for."""
from __future__ import annotations

import json
import re

import pytest

from genlens.diffusion.io import SHIPPED, TRAIN_HINTS, load_diffusion, shipped_diffusion_folder
from genlens.utils.io import sha256_file


@pytest.mark.parametrize("cond", sorted(SHIPPED))
def test_manifest_and_config(cond):
    folder = shipped_diffusion_folder(cond)
    if not folder.is_dir() and SHIPPED[cond] in TRAIN_HINTS:
        pytest.skip(f"{SHIPPED[cond]} is not trained yet ({TRAIN_HINTS[SHIPPED[cond]]})")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sha256"]["model.safetensors"] == sha256_file(folder / "model.safetensors")
    # made by our own training command, or a weight average (`diffusion average`) of models that were
    sources = manifest.get("soup") or [manifest]
    assert all(src["command"].startswith("genlens diffusion train ") and f" --cond {cond} " in src["command"]
               for src in sources)
    if "soup" in manifest:
        assert manifest["command"].startswith("genlens diffusion average ") and len(sources) >= 2
        assert all(re.fullmatch(r"[0-9a-f]{64}", src["sha256"]) for src in sources)
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    assert (folder / "model.safetensors").stat().st_size < 10 * 1024 * 1024
    bundle = load_diffusion(folder)  # verifies the sha256 again
    assert bundle.model.cond_kind == cond and len(bundle.class_names) == 10


@pytest.mark.slow
def test_shipped_class_model_draws_the_requested_classes():
    """A few guided DDIM samples per class are recognised by the zoo CNN (a smoke check of the trained
    weights; the real measurement is `genlens diffusion eval` with 2,000 samples)."""
    from genlens.diffusion.evaluate import generate_class_samples
    from genlens.diffusion.pipeline import DiffusionPipeline
    from genlens.models.load import load_model

    pipe = DiffusionPipeline.from_folder("fmnist-ddpm", steps=10)  # with its recommended guide, interval, spacing
    images, labels = generate_class_samples(pipe, 20, seed=0)
    pred = load_model("fmnist-cnn").predict(images).argmax(1)
    assert (pred == labels).float().mean() >= 0.75


def test_recommended_guidance_intervals():
    """The class model ships with a measured guidance interval (the note says where); the text model ships
    without one, because the same interval costs held-out prompt accuracy (README, "Guidance interval")."""
    cls, txt = (load_diffusion(shipped_diffusion_folder(c), verify=False) for c in ("class", "text"))
    assert cls.sampling["guidance_interval"] is not None and "2,000 samples" in cls.note
    assert cls.sampling["guide_model"] == "fmnist-ddpm-guide" and cls.sampling["guide_weight"] > 1
    assert "autoguidance.json" in cls.note and cls.sampling["timestep_spacing"] == "power:1.5"
    assert txt.sampling == {}


def test_shipped_text_model_is_round_1_through_the_migration():
    """fmnist-ddpm-text was trained before caption rounds existed: its config.json names no round (and is never
    rewritten), so it loads as round 1, the captions it was trained on."""
    folder = shipped_diffusion_folder("text")
    assert "caption_round" not in json.loads((folder / "config.json").read_text())["train"]
    assert load_diffusion(folder, verify=False).caption_round == 1
