"""bench/gan.py --quick in-process on a tiny synthetic Fashion-MNIST: result file, table, PNGs, resume."""
from __future__ import annotations

import json

import pytest

from genlens.errors import GenlensError


@pytest.fixture(scope="module")
def bench(script):
    return script("bench/gan")


def test_boundaries_and_kimg_choice(bench):
    assert bench._boundaries(1.0, 64, 4) == (16, [4, 8, 12, 16])
    args = bench.parse_args(["--quick", "--fid-n", "100", "--final-fid-n", "100", "--coverage-n", "100"])
    calib = [{"images_per_s": 1000.0, "eval_s": 1.0}, {"images_per_s": 500.0, "eval_s": 2.0}]
    kimg, info = bench.choose_kimg(calib, args, seconds_left=100.0, waves=1)
    assert info["slowest_images_per_s"] == 500.0
    # 100 s - 2 evals x (2 + 2 s overhead) - final (4 x 2 + 10 s) = 74 s of training at 500 img/s, 10 % margin
    assert kimg == pytest.approx(0.9 * 74 * 500 / 1000, abs=1e-3)


@pytest.mark.slow
def test_quick_run_writes_results_table_and_pngs(bench, tiny_fmnist, tmp_path):
    data = tiny_fmnist(64, 40)
    out = tmp_path / "gan.json"
    argv = ["--quick", "--archs", "stylegan2", "eqgan-sa", "--seeds", "0", "1", "--kimg", "0.032", "--evals", "2",
            "--fid-n", "16", "--final-fid-n", "24", "--coverage-n", "20", "--di-n", "8", "--edits", "4", "--curve-edits", "4",
            "--render-repeats", "2", "--data-dir", str(data), "--run-root", str(tmp_path / "runs"),
            "--out", str(out), "--png-dir", str(tmp_path / "png")]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["benchmark"] == "gan" and result["config"]["quick"] is True
    assert result["command"].startswith("python3 bench/gan.py --quick") and result["config"]["variant"] == "shipped"
    assert set(result["summary"]) == {"stylegan2", "eqgan-sa"} and len(result["runs"]) == 4
    eq = result["summary"]["eqgan-sa"]
    assert eq["fid"]["per_seed"] and len(eq["fid"]["per_seed"]) == 2 and eq["extractor"] == "genlens-fmnist"
    assert result["summary"]["stylegan2"]["locator_editing_slope"] is None
    assert all(r["final"]["locator_editing"]["edits"] == 4 for r in result["runs"] if r["arch"] == "eqgan-sa")
    assert result["curves"]["eqgan-sa"]["kimg"] == [0.016, 0.032] and result["compare_kimg"] == 0.032
    # the locator's editing slope at every evaluation point for heatmap generators only, averaged over seeds
    eq_curve, base_curve = result["curves"]["eqgan-sa"], result["curves"]["stylegan2"]
    assert "locator_editing_slope_mean" not in base_curve and all(
        p["locator_editing_slope"] is None for r in result["runs"] if r["arch"] == "stylegan2" for p in r["curve"])
    per_seed = [eq_curve["per_seed"][s]["locator_editing_slope"] for s in ("0", "1")]
    assert eq_curve["locator_editing_slope_mean"] == pytest.approx(
        [(a + b) / 2 for a, b in zip(*per_seed, strict=True)], nan_ok=True)
    assert set(result["targets"]) == {"fid_eqgan_below_baseline", "di_eqgan_below_baseline",
                                      "coverage_all_classes_4pct", "locator_editing_slope_0.9_1.1", "render_10ms"}
    assert result["config"]["locator"] == "scenes-locator"
    assert "| eqgan-sa | 0.032 |" in bench.gan_table(result)
    for name in ("fid_vs_kimg.png", "di_vs_kimg.png", "locator_editing_slope_vs_kimg.png", "samples_eqgan-sa.png"):
        assert (tmp_path / "png" / name).is_file()


@pytest.mark.slow
def test_pause_and_resume_give_the_uninterrupted_curve(bench, tiny_fmnist, tmp_path, monkeypatch):
    """--pause-after-s stops at an evaluation point without results; --resume finishes the same curve."""
    data = tiny_fmnist(64, 40)

    def argv(root: str, out: str, *extra: str) -> list[str]:
        return ["--quick", "--archs", "eqgan-sa", "--seeds", "0", "--kimg", "0.032", "--evals", "2", "--fid-n", "16",
                "--final-fid-n", "24", "--coverage-n", "20", "--di-n", "8", "--edits", "4", "--curve-edits", "4",
                "--render-repeats", "2", "--data-dir", str(data), "--run-root", str(tmp_path / root),
                "--out", str(tmp_path / out), *extra]

    assert bench.main(argv("whole", "whole.json")) == 0
    clock = iter([0.0, 0.0])  # run start, first chunk: before the pause; every later check: after it
    monkeypatch.setattr(bench.gan_runs, "_wall", lambda: next(clock, 100.0))
    assert bench.main(argv("split", "split.json", "--pause-after-s", "50")) == 0
    assert not (tmp_path / "split.json").exists()  # paused: no result yet
    progress = json.loads((tmp_path / "split" / "eqgan-sa-s0" / bench.PROGRESS_FILE).read_text())
    assert progress["step"] == 2 and len(progress["curve"]) == 1
    with pytest.raises(GenlensError, match="batch"):  # other settings: refuse, say which
        bench.main(argv("split", "x.json", "--resume", "--batch", "4"))
    other = bench.Variant(name="other")
    with pytest.raises(GenlensError, match="variant"):  # another injected variant: refuse, say so
        bench.main(argv("split", "x.json", "--resume"), variant=other)
    monkeypatch.setattr(bench.gan_runs, "_wall", lambda: 0.0)
    assert bench.main(argv("split", "split.json", "--resume")) == 0
    whole, split = (json.loads((tmp_path / f).read_text())["runs"][0] for f in ("whole.json", "split.json"))
    assert [p["fid"] for p in split["curve"]] == [p["fid"] for p in whole["curve"]]
    assert [p["di"] for p in split["curve"]] == [p["di"] for p in whole["curve"]]
    assert split["final"]["fid"]["value"] == whole["final"]["fid"]["value"] and split["steps"] == 4
    # killed after the last chunk's checkpoint but before its curve point: --resume evaluates that point
    path = tmp_path / "whole" / "eqgan-sa-s0" / bench.PROGRESS_FILE
    progress = json.loads(path.read_text())
    progress.update(step=2, curve=progress["curve"][:1])
    path.write_text(json.dumps(progress))
    assert bench.main(argv("whole", "again.json", "--resume")) == 0
    again = json.loads((tmp_path / "again.json").read_text())["runs"][0]
    assert [(p["fid"], p["di"]) for p in again["curve"]] == [(p["fid"], p["di"]) for p in whole["curve"]]


@pytest.mark.slow
def test_resume_with_more_kimg_extends_the_curve(bench, tiny_fmnist, tmp_path):
    """--resume with twice the kimg and evals continues a finished run: same curve as one long run."""
    data = tiny_fmnist(64, 40)

    def argv(root: str, out: str, kimg: str, evals: str, *extra: str) -> list[str]:
        return ["--quick", "--archs", "sel-only", "--seeds", "0", "--kimg", kimg, "--evals", evals, "--fid-n", "16",
                "--final-fid-n", "24", "--coverage-n", "20", "--di-n", "8", "--edits", "4", "--curve-edits", "4",
                "--render-repeats", "2", "--data-dir", str(data), "--run-root", str(tmp_path / root),
                "--out", str(tmp_path / out), *extra]

    assert bench.main(argv("whole", "whole.json", "0.032", "2")) == 0
    assert bench.main(argv("grown", "short.json", "0.016", "1")) == 0
    with pytest.raises(GenlensError, match="boundaries"):  # another chunk size would move the earlier points
        bench.main(argv("grown", "x.json", "0.032", "1", "--resume"))
    assert bench.main(argv("grown", "grown.json", "0.032", "2", "--resume")) == 0
    whole, short, grown = (json.loads((tmp_path / f).read_text())["runs"][0]
                           for f in ("whole.json", "short.json", "grown.json"))
    assert short["steps"] == 2 and grown["steps"] == whole["steps"] == 4
    assert [(p["fid"], p["di"]) for p in grown["curve"]] == [(p["fid"], p["di"]) for p in whole["curve"]]
    assert grown["final"]["fid"]["value"] == whole["final"]["fid"]["value"]


@pytest.mark.slow
def test_resume_of_a_finished_run_reuses_its_final_metrics(bench, tiny_fmnist, tmp_path, monkeypatch):
    """Re-running a finished command with --resume skips the final evaluation (same step and settings);
    other final settings or --recompute-final evaluate again."""
    import genlens.gan.evaluate as gan_eval

    data = tiny_fmnist(64, 40)

    def argv(out: str, *extra: str) -> list[str]:
        return ["--quick", "--archs", "sel-only", "--seeds", "0", "--kimg", "0.016", "--evals", "1", "--fid-n", "16",
                "--final-fid-n", "24", "--coverage-n", "20", "--di-n", "8", "--edits", "4", "--curve-edits", "4",
                "--render-repeats", "2", "--data-dir", str(data), "--run-root", str(tmp_path / "runs"),
                "--out", str(tmp_path / out), *extra]

    assert bench.main(argv("first.json")) == 0
    real_fid_kid, calls = gan_eval.fid_kid, []

    def counting(*a, **k):
        calls.append(a[1])  # the sample count: 16 for curve points, 24 for the final FID/KID
        return real_fid_kid(*a, **k)

    monkeypatch.setattr(gan_eval, "fid_kid", counting)
    assert bench.main(argv("again.json", "--resume")) == 0
    assert calls == []
    first, again = (json.loads((tmp_path / f).read_text())["runs"][0] for f in ("first.json", "again.json"))
    assert again["final"] == first["final"]
    assert bench.main(argv("more.json", "--resume", "--final-fid-n", "20")) == 0
    assert calls == [20]
    assert bench.main(argv("forced.json", "--resume", "--final-fid-n", "20", "--recompute-final")) == 0
    assert calls == [20, 20]
    forced = json.loads((tmp_path / "forced.json").read_text())["runs"][0]
    assert forced["final"]["fid"]["n_fake"] == 20
