"""A model folder's recommended guidance interval: stored in config.json, used by sample/eval unless the flag
overrides it, recorded in the results, and never breaking the folder's sha256 check."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from genlens.diffusion.io import load_diffusion, read_sampling
from genlens.diffusion.pipeline import DiffusionPipeline, settings_from_flags
from genlens.errors import GenlensError


def test_recommendation_flags_and_precedence(model_folder, tmp_path):
    from genlens.diffusion.io import write_sampling

    folder = tmp_path / "m"
    shutil.copytree(model_folder("class"), folder)
    write_sampling(folder, {"guidance_interval": (150, 600)}, "fid 0.6")
    assert read_sampling({"guidance_interval": [150, 600], "note": "fid 0.6"}, where="x") == (
        {"guidance_interval": (150, 600)}, "fid 0.6")
    assert read_sampling(None, where="x") == ({}, "")
    pipe = DiffusionPipeline.from_folder(folder)
    assert pipe.config.guidance_interval == (150, 600) and pipe.sources["guidance_interval"] == "model"
    assert pipe.sources["guidance"] == "default" and pipe.bundle.note == "fid 0.6"
    for text, want in (("100,800", (100, 800)), ("none", None), ("OFF", None)):
        flags = settings_from_flags(guidance_interval=text)
        pipe = DiffusionPipeline.from_folder(folder, **flags)  # the flag can switch the model's interval off
        assert (pipe.config.guidance_interval, pipe.sources["guidance_interval"]) == (want, "user")
    assert settings_from_flags(guidance_interval="") == {}
    assert DiffusionPipeline.from_folder(model_folder("class")).sources["guidance_interval"] == "default"


@pytest.mark.parametrize("raw", [{"guidance_interval": [600, 150]}, {"guidance_interval": [1, 2, 3]},
                                 {"guidance_interval": "150,600"}, [150, 600], {"guidance_interval": [0, 1000]},
                                 {"guide_interval": [150, 600]}])
def test_bad_config_block_is_one_line_error(raw):
    with pytest.raises(GenlensError) as e:
        read_sampling(raw, where="config.json sampling")
    assert "\n" not in str(e.value)


def test_old_block_with_a_null_guide_interval_loads():
    """fmnist-ddpm's block still names guide_interval (null): the removed option loads at its old default."""
    assert read_sampling({"guide_interval": None, "guide_model": "g", "note": ""}, where="x")[0] == {"guide_model": "g"}


@pytest.fixture
def own_folder(model_folder, tmp_path):
    """A private copy of the shared tiny class model (the defaults command rewrites config.json)."""
    folder = tmp_path / "model"
    shutil.copytree(model_folder("class"), folder)
    return folder


def test_defaults_command_sets_what_sample_uses(run, own_folder, sample_bar):
    code, stdout, err = run(["defaults", own_folder, "--json"])
    assert code == 0, err
    assert json.loads(stdout).get("guidance_interval") is None
    code, stdout, err = run(["defaults", own_folder, "--guidance-interval", "150,600", "--note", "seed 1, n=2000",
                             "--json"])
    assert code == 0, err
    assert json.loads(stdout) == {"model": str(own_folder), "guidance_interval": [150, 600], "note": "seed 1, n=2000"}
    bundle = load_diffusion(own_folder)  # the manifest still verifies: only config.json changed
    assert bundle.sampling["guidance_interval"] == (150, 600)

    by_model, img_model = sample_bar(own_folder, "model")
    by_flag, img_flag = sample_bar(own_folder, "flag", "--guidance-interval", "150,600")
    plain, img_plain = sample_bar(own_folder, "plain", "--guidance-interval", "none")
    assert (by_model["guidance_interval"], by_model["sources"]["guidance_interval"]) == ([150, 600], "model")
    assert (by_flag["guidance_interval"], by_flag["sources"]["guidance_interval"]) == ([150, 600], "user")
    assert (plain["guidance_interval"], plain["sources"]["guidance_interval"]) == (None, "user")
    np.testing.assert_array_equal(img_model, img_flag)  # the model default is exactly the flag
    assert not np.array_equal(img_model, img_plain)  # and 'none' really guides every step
    # A note alone keeps the interval; 'none' clears it.
    code, stdout, _ = run(["defaults", own_folder, "--note", "re-measured", "--json"])
    assert json.loads(stdout)["guidance_interval"] == [150, 600]
    code, stdout, _ = run(["defaults", own_folder, "--guidance-interval", "none", "--json"])
    assert code == 0 and json.loads(stdout)["guidance_interval"] is None
    assert load_diffusion(own_folder).sampling["guidance_interval"] is None


def test_defaults_command_sets_the_guidance_scale(run, own_folder, sample_bar):
    code, stdout, err = run(["defaults", own_folder, "--guidance", "1", "--note", "dev sweep", "--json"])
    assert code == 0, err
    assert json.loads(stdout) == {"model": str(own_folder), "guidance": 1.0, "note": "dev sweep"}
    by_model, img_model = sample_bar(own_folder, "model")
    by_flag, img_flag = sample_bar(own_folder, "flag", "--guidance", "1")
    louder, img_louder = sample_bar(own_folder, "louder", "--guidance", "3")
    assert (by_model["guidance"], by_model["sources"]["guidance"]) == (1.0, "model")
    assert (louder["guidance"], louder["sources"]["guidance"]) == (3.0, "user")
    np.testing.assert_array_equal(img_model, img_flag)  # the recommendation is exactly the flag
    assert not np.array_equal(img_model, img_louder)
    code, _, err = run(["defaults", own_folder, "--guidance", "-1"])
    assert code != 0 and len(err.strip().splitlines()) == 1


def test_defaults_command_bad_inputs(run, model_folder, own_folder, tmp_path):
    code, _, err = run(["defaults", own_folder, "--guidance-interval", "700,100"])
    assert code != 0 and "lo <= hi" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["defaults", model_folder("none"), "--guidance-interval", "150,600"])
    assert code != 0 and "unconditional" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["defaults", tmp_path / "missing", "--guidance-interval", "150,600"])
    assert code != 0 and "does not exist" in err
    other = tmp_path / "gan"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"kind": "gan"}))
    code, _, err = run(["defaults", other, "--guidance-interval", "150,600"])
    assert code != 0 and "diffusion" in err and len(err.strip().splitlines()) == 1
    config = json.loads((own_folder / "config.json").read_text())
    config["sampling"] = {"guidance_interval": [5]}
    (own_folder / "config.json").write_text(json.dumps(config))
    code, _, err = run(["sample", own_folder, "--class", "Bar", "--n", "1", "--steps", "2", "--out", tmp_path / "x"])
    assert code != 0 and "guidance_interval" in err and len(err.strip().splitlines()) == 1
