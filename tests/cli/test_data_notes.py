"""Every command that reads ``--data folder:`` says the folder loader's notes (here: a grey image among colour
ones, converted) once on stderr, through the one CLI helper (``genlens.cli.common.say_data_notes``)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    """Two classes of four 32x32 PNGs, one of them grey (mode L) among colour ones."""
    root = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(0)
    for c in range(2):
        (root / f"class_{c}").mkdir()
        for i in range(4):
            img = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
            (img.convert("L") if (c, i) == (0, 0) else img).save(root / f"class_{c}" / f"{i}.png")
    return root


COMMANDS = {
    "data show": lambda f, out: ["data", "show", "--data", f, "--channels", "3", "--n", "1", "--out", out / "g.png"],
    "diffusion train": lambda f, out: ["diffusion", "train", "--data", f, "--channels", "3", "--tiny", "--steps", "1",
                                       "--batch", "4", "--out", out, "--device", "cpu", "--json"],
    "gan train": lambda f, out: ["gan", "train", "--arch", "stylegan2", "--tiny", "--data", f, "--channels", "3",
                                 "--steps", "1", "--batch", "4", "--run-dir", out / "run", "--out", out / "model",
                                 "--device", "cpu", "--json"],
    "zoo train": lambda f, out: ["zoo", "train", "cnn", "--data", f, "--channels", "3", "--epochs", "1", "--batch", "4",
                                 "--out", out, "--json"],
    "metrics fid": lambda f, out: ["metrics", "fid", f, f, "--features", "genlens-fmnist", "--device", "cpu", "--json"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_folder_notes_are_said_once(cli, mixed_folder, tmp_path, command):
    code, _, err = cli(COMMANDS[command](f"folder:{mixed_folder}", tmp_path / "out"))
    assert code == 0, err
    said = [line for line in err.splitlines() if line.startswith("genlens: note: converted")]
    assert len(said) == 1, err


def test_evaluators_of_a_trained_folder_say_the_notes_once(cli, mixed_folder, tmp_path):
    data = f"folder:{mixed_folder}"
    for train in ("zoo train", "diffusion train"):
        code, _, err = cli(COMMANDS[train](data, tmp_path / train.split()[0]))
        assert code == 0, err
    for args in (["zoo", "eval", tmp_path / "zoo", "--data", data, "--json"],
                 ["dead", tmp_path / "zoo", "--data", data, "--out", tmp_path / "dead", "--json"],
                 ["diffusion", "eval", tmp_path / "diffusion", "--data", data, "--features", tmp_path / "zoo",
                  "--n", "2", "--steps", "1", "--out", tmp_path / "eval", "--json"]):
        code, _, err = cli(args)
        assert code == 0, err
        assert sum(line.startswith("genlens: note: converted") for line in err.splitlines()) == 1, (args, err)
