"""Behaviour preserved: the shipped diffusion models give the stored samples for the stored seeds.

References: tests/diffusion/data/shipped_refs.safetensors, written by make_refs.py beside it (DDIM 5 steps, the
class model with its recommended guide, guidance interval and timestep spacing; the text model on a prompt).
Checked through the command line (its PNGs, within one grey level) and through the library call it makes
(floats, within 1e-4: thread counts may reorder float sums). A change that alters them must say why and
rewrite the references in the same commit.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def refs():
    from safetensors.torch import load_file

    spec = importlib.util.spec_from_file_location("make_refs", DATA / "make_refs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, load_file(str(DATA / "shipped_refs.safetensors"))


@pytest.mark.parametrize("kind", ["class", "text"])
def test_cli_samples_match_the_references(kind, refs, cli, tmp_path):
    make, stored = refs
    code, _, err = cli(make.cli_args(kind, tmp_path))
    assert code == 0, err
    got = make.read_pngs(tmp_path).int()
    assert got.shape == stored[f"{kind}_png"].shape
    assert (got - stored[f"{kind}_png"].int()).abs().max() <= 1


@pytest.mark.parametrize("kind", ["class", "text"])
def test_library_samples_match_the_references(kind, refs):
    make, stored = refs
    got = make.library_samples(kind)
    torch.testing.assert_close(got, stored[kind], atol=1e-4, rtol=0)
    # the CLI wrote exactly these images
    assert ((stored[kind][:, 0] * 255).round().int() - stored[f"{kind}_png"].int()).abs().max() <= 1
