"""The tour builds from the shipped models and data, in quick mode, with real numbers in it."""
from __future__ import annotations

import json

import pytest

from genlens.errors import GenlensError
from genlens.report.tour import SECTIONS, build_tour


def test_a_results_folder_that_is_not_there_is_a_one_line_error(tmp_path):
    with pytest.raises(GenlensError, match="--results"):
        build_tour(tmp_path / "out", results=tmp_path / "no-such-folder")
    assert not (tmp_path / "out").exists()  # refused before writing anything


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~135 s on 2 shared cores (every section runs live, quick sizes); headroom for load
def test_quick_tour_writes_page_pngs_and_numbers(tmp_path):
    index = build_tour(tmp_path, quick=True, device="cpu")
    html = index.read_text()
    for anchor, _title, _ in SECTIONS:
        assert f'id="{anchor}"' in html
    assert (tmp_path / "data" / "grid.png").stat().st_size > 1000
    numbers = json.loads((tmp_path / "tour.json").read_text())["numbers"]
    assert set(numbers["zoo"]) == {"fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"}
    for name, r in numbers["zoo"].items():
        assert r["top1"] > 0.85, name
        assert (tmp_path / "zoo" / f"{name}-confusion.png").is_file()
        assert f"{100 * r['top1']:.2f}%" in html  # the page shows what was measured
    # Two halves of the real test set are close; noise moves them apart.
    m = numbers["metrics"]
    assert m["fid_real_halves"]["value"] < m["fid_noisy"]["value"]
    assert m["fid_real_halves"]["extractor"] == "genlens-fmnist"
