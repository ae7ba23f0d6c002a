"""A model folder's recommended guidance interval: stored in config.json, used by sample/eval unless the flag
overrides it, recorded in the results, and never breaking the folder's sha256 check."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from genlens.diffusion.defaults import SamplingDefaults, parse_interval_flag, resolve_interval
from genlens.diffusion.io import load_diffusion
from genlens.errors import GenlensError


def test_defaults_round_trip_and_precedence():
    d = SamplingDefaults(guidance_interval=(150, 600), note="fid 0.6")
    assert SamplingDefaults.from_dict(d.to_dict()) == d
    assert SamplingDefaults.from_dict(None) == SamplingDefaults()
    assert resolve_interval(None, d) == ((150, 600), "model")
    assert resolve_interval("100,800", d) == ((100, 800), "flag")
    assert resolve_interval("none", d) == (None, "flag")  # the flag can switch the model's interval off
    assert resolve_interval("OFF", d) == (None, "flag")
    assert resolve_interval(None, SamplingDefaults()) == (None, "none")
    assert parse_interval_flag("") == (False, None)


@pytest.mark.parametrize("raw", [{"guidance_interval": [600, 150]}, {"guidance_interval": [1, 2, 3]},
                                 {"guidance_interval": "150,600"}, [150, 600], {"guidance_interval": [0, 1000]}])
def test_bad_config_block_is_one_line_error(raw):
    with pytest.raises(GenlensError) as e:
        SamplingDefaults.from_dict(raw)
    assert "\n" not in str(e.value)


@pytest.fixture
def own_folder(model_folder, tmp_path):
    """A private copy of the shared tiny class model (the defaults command rewrites config.json)."""
    folder = tmp_path / "model"
    shutil.copytree(model_folder("class"), folder)
    return folder


def test_defaults_command_sets_what_sample_uses(run, own_folder, sample_bar):
    code, stdout, err = run(["defaults", own_folder, "--json"])
    assert code == 0, err
    assert json.loads(stdout)["guidance_interval"] is None
    code, stdout, err = run(["defaults", own_folder, "--guidance-interval", "150,600", "--note", "seed 1, n=2000",
                             "--json"])
    assert code == 0, err
    assert json.loads(stdout) == {"model": str(own_folder), "guidance_interval": [150, 600], "note": "seed 1, n=2000"}
    bundle = load_diffusion(own_folder)  # the manifest still verifies: only config.json changed
    assert bundle.sampling.guidance_interval == (150, 600)

    by_model, img_model = sample_bar(own_folder, "model")
    by_flag, img_flag = sample_bar(own_folder, "flag", "--guidance-interval", "150,600")
    plain, img_plain = sample_bar(own_folder, "plain", "--guidance-interval", "none")
    assert (by_model["guidance_interval"], by_model["guidance_interval_source"]) == ([150, 600], "model")
    assert (by_flag["guidance_interval"], by_flag["guidance_interval_source"]) == ([150, 600], "flag")
    assert (plain["guidance_interval"], plain["guidance_interval_source"]) == (None, "flag")
    np.testing.assert_array_equal(img_model, img_flag)  # the model default is exactly the flag
    assert not np.array_equal(img_model, img_plain)  # and 'none' really guides every step
    # A note alone keeps the interval; 'none' clears it.
    code, stdout, _ = run(["defaults", own_folder, "--note", "re-measured", "--json"])
    assert json.loads(stdout)["guidance_interval"] == [150, 600]
    code, stdout, _ = run(["defaults", own_folder, "--guidance-interval", "none", "--json"])
    assert code == 0 and json.loads(stdout)["guidance_interval"] is None
    assert load_diffusion(own_folder).sampling.guidance_interval is None


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
    assert code != 0 and "genlens diffusion defaults" in err and len(err.strip().splitlines()) == 1
