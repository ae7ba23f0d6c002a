"""bench/table_more.py: the spatial, spatial-training, audit and explorer sections of bench/README.md, each checked
on a small made-up result (golden rows), with every verdict word taken from the file."""
from __future__ import annotations

import json

import pytest

ENV = {"cpu": "Test CPU", "device": "cpu", "torch_threads": 2, "torch": "2.x", "date": "2026-01-02T03:04:05+00:00"}


@pytest.fixture(scope="module")
def more():
    from tests.conftest import load_script

    return load_script("bench/table_more")


def _stat(mean: float) -> dict:
    return {"mean": mean, "min": mean, "max": mean, "seeds": 2}


def spatial_result(comparison: dict | None = None) -> dict:
    gen = {"over_seeds": {"slope": _stat(0.98), "r2": _stat(0.92), "median_error_px": _stat(0.64),
                          "class_right": _stat(0.586), "count_right": _stat(0.8), "object_found": _stat(0.885),
                          "fid_edited_vs_unedited": _stat(0.00123), "shortened": 5},
           "targets_met": {"median_error_px": True, "slope": True, "r2": True, "class_right": False,
                           "count_right": None}}
    return {
        "benchmark": "spatial",
        "config": {"seeds": [0, 1], "n_edits": 100, "max_move": 1 / 3, "resamples": 50, "quick": False},
        "targets": {"median_error_px": "<= 1.5", "slope": "in (0.9, 1.1)"},
        "locator": {"folder": "loc", "threshold": 0.3, "test_scenes": 10,
                    "test": {"median_centre_error_px": 0.01, "p90_centre_error_px": 0.5, "radius_px": 3.2,
                             "precision": 0.99, "recall": 0.997, "class_accuracy": 0.839, "count_accuracy": 0.98,
                             "objects": 20, "by_count": {"1": {"objects": 20, "recall": 0.997,
                                                               "class_accuracy": 0.839}}}},
        "extractor": "feat", "layouts": "real layouts",
        "generators": {"lay": gen},
        "sample_quality": {"seeds": [0, 1], "n": 100, "baseline": "base", "target_ratio": 1.5, "extractor": "feat",
                           "sampling": "as drawn", "interval": "t over seeds",
                           "fid": {"lay": {"per_seed": {"0": 0.075, "1": 0.08}, "mean": 0.0775},
                                   "base": {"per_seed": {"0": 0.36, "1": 0.35}, "mean": 0.355}},
                           "ratios": {"lay": {"estimate": 0.224, "low": 1.18, "high": 1.64, "verdict": "at the bar"}}},
        "eqgan_sa_comparison": comparison,
        "env": ENV, "seconds": 12.0,
    }


def test_spatial_rows_and_verdicts_are_the_files(more):
    text = more.spatial_table(spatial_result())
    assert ("| lay | 0.98 | 0.92 | 0.64 | 58.6 % | 80.0 % | 88.5 % | 0.00123 | met: error, slope, R²; missed: class; "
            "n/a: count |") in text
    assert "| 1 | 20 | 99.7 % | 83.9 % |" in text  # the locator, by objects per scene
    # "at the bar" as the file says, though 0.224 is far below 1.5: the renderer never re-judges
    assert "| lay | 0.075 | 0.08 | 0.0775 | 0.224 [1.18, 1.64] | **at the bar** |" in text
    assert "| base | 0.36 | 0.35 | 0.355 | (baseline) |  |" in text
    assert "EqGAN-SA comparison: not run yet" in text and "--sa-plan ." in text
    assert "Test CPU (cpu), 2 torch threads, torch 2.x, 2026-01-02" in text


def test_spatial_eqgan_comparison_when_run(more):
    comparison = {"di_definition": "E[D(real)] - E[D(G(z))]", "table": "| role | run |\n|---|---|\n| eqgan-sa | r0 |",
                  "slope_difference": [{"training_seed": 0, "value": 0.3, "low": 0.1, "high": 0.5}],
                  "verdict": "the heatmap steers objects"}
    text = more.spatial_table(spatial_result(comparison))
    assert "| eqgan-sa | r0 |" in text and "training seed 0: 0.3 [0.1, 0.5]" in text
    assert "Verdict: **the heatmap steers objects**." in text and "not run yet" not in text


def test_spatial_train_rows_and_the_runs_not_started(more):
    run = {"kind": "gan", "arch": "stylegan2", "seed": 0, "steps": 1250, "batch": 64, "kimg": 80.0, "segments": [{}, {}],
           "cpu_hours": 0.5967, "wall_hours": 0.8803, "steps_done": 1250, "finished": True}
    result = {"benchmark": "spatial_train", "smoke": False, "threads": 1, "cpu_hours": "user + system / 3600",
              "runs": {"scenes-gan-s0": run, "scenes-eqgan-s0": {**run, "arch": "eqgan-sa", "steps_done": 300,
                                                                   "finished": False}}, "env": ENV}
    text = more.spatial_train_table(result)
    assert "| scenes-gan-s0 | gan | stylegan2 | 0 | 1,250 / 1,250 | 80 | 2 | 0.60 | 0.88 | yes |" in text
    assert "| scenes-eqgan-s0 | gan | eqgan-sa | 0 | 300 / 1,250 | 80 | 2 | 0.60 | 0.88 | no |" in text
    waiting = text.split("No segment recorded yet")[1].split("\n")[0]
    assert "scenes-ddpm-layout, scenes-gan-s1," in waiting and "scenes-gan-s0," not in waiting


def audit_result(sweep: dict | None) -> dict:
    summary = {"l1": {"backdoored_target_flagged": 2, "backdoored": 10, "clean_flagged": 0, "clean": 10},
               "log": {"backdoored_target_flagged": 9, "backdoored": 10, "clean_flagged": 1, "clean": 10}}
    return {"config": {"model": "fmnist-cnn", "planted": [{}] * 10, "clean_seeds": list(range(10)),
                       "cleanse_steps": 150, "cleanse_images": 200,
                       "sweep": {"aug": "random-crop", "model": "fmnist-cnn", "strengths": [0.0, 0.3], "seeds": [0, 1],
                                 "epochs": 3}},
            "backdoor": {"summary": summary, "complete": True, "audit_cpu_seconds_median": 29.9,
                         "audit_cpu_seconds_max": 38.2, "cpu_hours": 0.73},
            "sweep": sweep, "class_names": ["Coat", "Bag"], "environment": ENV, "cpu_hours": 2.19, "smoke": False}


def test_audit_backdoor_rows_and_the_sweep(more):
    sweep = {"complete": True, "cpu_hours": 1.46, "runs": [{}] * 4, "mean_top1": {"0.0": 0.8925, "0.3": 0.8748},
             "change_first_to_last": {"Coat": {"mean_change": -0.0263, "ci": [-0.0524, -0.0002]},
                                      "Bag": {"mean_change": -0.0063, "ci": [-0.0188, 0.0062]}},
             "summary": {"Coat": [{"mean": 0.848}, {"mean": 0.822}], "Bag": [{"mean": 0.976}, {"mean": 0.969}]},
             "losing_classes": ["Coat"], "gaining_classes": []}
    text = more.audit_table(audit_result(sweep))
    # exact counts against the 9/10 and 1/10: the boundary counts are met, one short is missed
    assert "| l1 | 2 / 10 (missed) | 0 / 10 (met) |" in text and "| log | 9 / 10 (met) | 1 / 10 (met) |" in text
    assert "median 29.9, max 38.2 (target < 120: met)" in text
    assert "Mean top-1 per strength: 0.0: 89.25 %, 0.3: 87.48 %." in text
    assert "| Coat | 84.8 % | 82.2 % | -2.63 [-5.24, -0.02] | loses |" in text
    assert "| Bag | 97.6 % | 96.9 % | -0.63 [-1.88, +0.62] |  |" in text


def test_audit_verdicts_miss_one_over_the_bar_and_wait_for_an_incomplete_run(more):
    result = audit_result(None)
    result["backdoor"]["summary"]["log"].update(backdoored_target_flagged=8, clean_flagged=2)
    result["backdoor"]["audit_cpu_seconds_max"] = 120.0
    text = more.audit_table(result)
    assert "| log | 8 / 10 (missed) | 2 / 10 (missed) |" in text and "(target < 120: missed)" in text
    result["backdoor"]["complete"] = False
    text = more.audit_table(result)
    assert "| log | 8 / 10 (pending) | 2 / 10 (pending) |" in text and "Incomplete" in text


def test_audit_confirmation_file_has_no_sweep_and_an_incomplete_sweep_says_so(more):
    assert "Class sweep" not in more.audit_table(audit_result(None))
    text = more.audit_table(audit_result({"complete": False, "cpu_hours": 0.1, "runs": [{}]}))
    assert "**Incomplete: 1 of 4 points.**" in text


def explorer_result(**blocks) -> dict:
    return {"benchmark": "explorer", "what": "drag latency (ms)", "model": "fmnist-eqgan", "p50": 17.8, "p95": 21.0,
            "server_render_ms_p50": 7.52, "server_ms_p50": 8.03, "frame_arrived_ms_p50": 17.6,
            "page_load_to_first_frame_ms": {"cold": 279, "models_loaded": 148.7}, "frames": 2400, "requests": 2400,
            "stale_dropped": 0, "repeats": [{"p50": 9.7, "p95": 19.5, "frames": 1200, "requests": 1200}],
            "targets": {"p50": 25.0, "p95": 50.0},
            "config": {"seconds": 20.0, "warmup": 2.0, "rate": 60.0, "repeats": 2, "browser": "chromium headless"},
            "env": ENV, **blocks}


def test_explorer_drag_rows_stress_and_diffusion(more):
    stress = {"clients": 50, "rate": 30.0, "seconds": 60.0, "errors": 0, "p50": 299.1, "p95": 365.3,
              "drop_ratio": 0.883, "requests": 90000, "rss_ratio": 1.005, "rss_start_mb": 729.5, "rss_end_mb": 733.0,
              "targets": {"rss_ratio_below": 1.5}, "met": {"errors": True, "memory": False}, "env": ENV}
    diffusion = {"model": "fmnist-ddpm", "class": "Sneaker", "steps": 20, "runs": 8, "first_frame_ms_p50": 42.9,
                 "first_frame_ms_max": 44.4, "final_ms_p50": 386.7, "final_ms_max": 400.8,
                 "targets": {"first_frame_ms": 300.0, "final_ms": 2000.0}, "env": ENV}
    text = more.explorer_table(explorer_result(stress=stress, diffusion=diffusion))
    assert "| **pooled** | **17.8** | **21.0** | 2,400 | 2,400 |" in text and "| repeat 1 | 9.7 | 19.5 |" in text
    assert "| target | 25 | 50 | | |" in text
    assert "88.3 % of 90,000 requests dropped as stale" in text and "Verdicts: errors met, memory missed." in text
    assert "first frame p50 42.9 ms (max 44.4; target 300), final p50 386.7 ms (max 400.8; target 2000)" in text


def test_explorer_blocks_not_run_yet_say_which_command(more):
    text = more.explorer_table(explorer_result())
    assert "Load test: not run yet (`bench/explorer.py --stress`)." in text
    assert "Diffusion panel: not run yet (`bench/explorer.py --diffusion 5`)." in text


def test_missing_files_leave_the_note_and_keyless_audit_files_load(bench_script, tmp_path):
    table = bench_script("table")
    page = table.render_all(tmp_path)
    for script, name in (("bench/spatial_train.py", "spatial_train.json"), ("bench/spatial.py", "spatial.json"),
                         ("bench/audit.py --confirm", "audit_confirm.json"), ("bench/explorer.py", "explorer.json")):
        assert f"_Not measured yet: `{script}` writes `bench/results/{name}`._" in page
    (tmp_path / "audit.json").write_text(json.dumps(audit_result(None)))  # bench/audit.py writes no "benchmark" key
    assert "| log | 9 / 10 (met) | 1 / 10 (met) |" in table.render_all(tmp_path)


def test_spatial_words_and_seed_intervals_pass_through(more):
    result = spatial_result()
    gen = result["generators"]["lay"]
    gen["over_seeds"]["slope"].update(low=0.97, high=0.99, interval="t over seeds")
    gen["targets_met"] = {"slope": "met", "r2": "at the bar", "class_right": "missed"}
    text = more.spatial_table(result)
    assert "met: slope; at the bar: R²; missed: class |" in text
    assert "judged on the 95 % t interval over seeds" in text and "against the mean" not in text
