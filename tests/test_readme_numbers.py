"""Every number in the README's status table is recomputed from the committed result file it comes from.

Each row names its sources below (file and key, never a scan); the printed number must equal the file's value
formatted as the README prints it, and a number in a row with no source here fails the test.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WEIGHTS = ROOT / "src" / "genlens" / "models" / "weights"


@cache
def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _get(path: Path, *keys: str) -> float:
    value = _json(path)
    for key in keys:
        value = value[key]
    return float(value)


def pct(digits: int) -> Callable[[float], str]:
    return lambda x: f"{100 * x:.{digits}f}"


def fixed(digits: int) -> Callable[[float], str]:
    return lambda x: f"{x:.{digits}f}"


ZOO = ("fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp")
CLASS_EVAL = RESULTS / "diffusion-eval" / "class" / "eval.json"
HALVES = (CLASS_EVAL, "reference", "fid_test_halves", "value")
INVERSION = RESULTS / "inversion.json"
INV_EVAL = RESULTS / "inversion_evaluator.json"
HEADLINES = RESULTS / "headlines.json"
GAN = RESULTS / "gan.json"
AUDIT = RESULTS / "audit.json"
LAYOUT_MODELS = ("scenes-gan-layout", "scenes-ddpm-layout")  # the spatial issue's layout-conditioned generators

# Row (the start of its first cell) -> [(value from a file, how the README prints it)], plus the constants the
# row may print besides (targets fixed by the issues, not measured).
SOURCES: dict[str, tuple[list[tuple[Callable[[], float], Callable[[float], str]]], set[str]]] = {
    "Model zoo": ([(lambda n=n, k=k: _get(HEADLINES, "parts", "zoo", "models", n, "top1", k), pct(2))
                   for n in ZOO for k in ("estimate", "low", "high")]
                  + [(lambda n=n: _get(WEIGHTS / n / "manifest.json", "metrics", "top1"), pct(2)) for n in ZOO],
                  {"95"}),  # the interval's level
    "Metrics": ([(lambda k=k: _get(RESULTS / "evaluator.json", "floors", "fid", "interval", k), fixed(3))
                 for k in ("estimate", "low", "high")], set()),
    "Inversion": ([(lambda k=k: _get(INV_EVAL, "methods", "pii", "seed_interval", k), pct(1))
                   for k in ("estimate", "low", "high")]
                  + [(lambda: _get(INV_EVAL, "methods", "lucent", "seed_interval", "estimate"), pct(1)),
                     (lambda: _get(INVERSION, "methods", "pii", "summary", "cross_top1_mean"), pct(0))],
                  {"70"}),  # the evaluator-judged target of the trust issue
    "Text": ([(lambda: _get(WEIGHTS / "fmnist-clip" / "manifest.json", "metrics", "zero_shot_top1"), pct(1))], set()),
    "Diffusion, class model": ([(lambda k=k: _get(HEADLINES, "parts", "diffusion", "stats", "fid", "interval", k), fixed(3))
                                for k in ("estimate", "low", "high")]
                               + [(lambda: _get(HEADLINES, "parts", "diffusion", "fid_bar"), fixed(3))]
                               + [(lambda k=k: _get(HEADLINES, "parts", "diffusion", "stats", "accuracy[genlens-eval]",
                                                    "interval", k), pct(1)) for k in ("estimate", "low", "high")],
                               {"3"}),  # the bar is 3 x the floor at the same n (trust issue)
    "Diffusion, text model": ([(lambda k=k: _get(RESULTS / "prompts_evaluator.json", "sets", "validation", "interval", k),
                                pct(1)) for k in ("estimate", "low", "high")]
                              + [(lambda k=k: _get(RESULTS / "prompts_evaluator.json", "sets", "validation",
                                                   "first_seed_bootstrap_over_prompts", k), pct(1)) for k in ("low", "high")]
                              + [(lambda: _get(RESULTS / "diffusion-eval" / "text" / "eval.json", "prompts", "accuracy"),
                                  pct(1))], set()),
    "Diffusion against": ([(lambda: _get(RESULTS / "diffusion.json", "parts", "peer", "fid_ratio_ours_over_peer"),
                            fixed(2))], set()),
    "GANs": ([(lambda a=a, k=k: _get(HEADLINES, "parts", "gan", "models", a, "fid", "interval", k), fixed(2))
              for a in ("fmnist-eqgan", "fmnist-gan", "fmnist-sel-only") for k in ("estimate", "low", "high")],
             set()),
    "Spatial control": ([(lambda: _get(RESULTS / "spatial.json", "locator", "test", "class_accuracy"), pct(1)),
                         (lambda: _get(RESULTS / "spatial.json", "locator", "test", "recall"), pct(1))]
                        + [(lambda g=g, k=k: _get(RESULTS / "spatial.json", "generators", g, "over_seeds", k, "mean"), fmt)
                           for g in LAYOUT_MODELS for k, fmt in (("slope", fixed(2)), ("r2", fixed(2)),
                                                                 ("median_error_px", fixed(2)),
                                                                 ("class_right", pct(0)), ("count_right", pct(0)))]
                        + [(lambda g=g, k=k: _get(RESULTS / "spatial.json", "sample_quality", "ratios", g, k), fixed(2))
                           for g in LAYOUT_MODELS for k in ("estimate", "low", "high")]
                        + [(lambda: _get(RESULTS / "spatial.json", "sample_quality", "target_ratio"), fixed(1))]
                        + [(lambda i=i, k=k: _eqgan_row(i)[k], fixed(2)) for i in range(4) for k in ("slope", "fid_vs_test")]
                        + [(lambda i=i, k=k: _json(RESULTS / "spatial.json")["eqgan_sa_comparison"]["slope_difference"][i][k],
                            fixed(2)) for i in (0, 1) for k in ("value", "low", "high")]
                        + [(lambda k=k: _get(RESULTS / "spatial_train.json", "runs", "scenes-ddpm-layout", k), fixed(0))
                           for k in ("steps_done", "steps")]
                        + [(lambda: _get(RESULTS / "spatial_train.json", "runs", "scenes-ddpm-layout", "cpu_hours"), fixed(2))]
                        + [(lambda: float(len(_json(RESULTS / "spatial.json")["eqgan_sa_comparison"]["slope_difference"])),
                            fixed(0))],
                        {"90", "95"}),  # the locator's class-accuracy target and the layout models' (spatial issue)
    "Your data": ([(lambda k=k: _get(RESULTS / "data.json", "verdict", k, "value"), fixed(2))
                   for k in ("ours_over_plain", "ours_over_ddpm")]
                  + [(lambda i=i: _json(RESULTS / "data.json")["verdict"]["ours_over_plain"]["ci95"][i], fixed(2))
                     for i in (0, 1)]
                  + [(lambda: _get(RESULTS / "data.json", "verdict", "loader_data_share", "value"), pct(1))]
                  + [(lambda: _get(RESULTS / "data.json", "config", "resolution"), fixed(0))],
                  {"0.95", "2", "5"}),  # the targets
    "Hardening": ([(lambda k=k: _get(RESULTS / "hardening.json", "summary", k), fixed(0))
                   for k in ("passed", "cases", "tracebacks")], set()),
    "Independent evaluator": ([(lambda: _get(WEIGHTS / "genlens-eval" / "manifest.json", "metrics", "top1"), pct(2)),
                               (lambda: _get(INVERSION, "time_to_quality", "best_peer_best_evaluator_top1"), pct(1))]
                              + [(lambda k=k: _get(INVERSION, "time_to_quality", "targets", "ratio_interval", k),
                                  fixed(2)) for k in ("estimate", "low", "high")]
                              + [(lambda k=k: _get(INVERSION, "time_to_quality", "targets", "pii_best_evaluator_top1",
                                                   k), pct(1)) for k in ("estimate", "low", "high")],
                              {"93", "95", "0.5", "80"}),  # targets of the trust issue, the intervals' level
    "Audits": ([(lambda s=s, k=k: _get(AUDIT, "backdoor", "summary", s, k), fixed(0))
                for s in ("l1", "log") for k in ("backdoored_target_flagged", "backdoored", "clean_flagged", "clean")]
               + [(lambda k=k: _get(RESULTS / "audit_confirm.json", "backdoor", "summary", "log", k), fixed(0))
                  for k in ("backdoored_target_flagged", "clean_flagged")]
               + [(lambda: _get(AUDIT, "backdoor", "audit_cpu_seconds_max"), fixed(0)),
                  (lambda: _get(AUDIT, "sweep", "cpu_hours"), fixed(1))]
               + [(lambda s=s: _get(AUDIT, "sweep", "mean_top1", s), pct(1)) for s in ("0.0", "0.3")]
               + [(lambda k=k: float(len(_json(AUDIT)["sweep"][k])), fixed(0)) for k in ("losing_classes",
                                                                                        "gaining_classes")]
               + [(lambda: -_get(AUDIT, "sweep", "change_first_to_last", "Pullover", "mean_change"), pct(1))]
               + [(lambda i=i: -_json(AUDIT)["sweep"]["change_first_to_last"]["Pullover"]["ci"][i], pct(1))
                  for i in (1, 0)],
               {"9", "10", "1", "120", "0", "0.3", "3"}),  # the audit issue's targets (>= 9/10 flagged, <= 1/10
    # clean, 2 CPU-minutes); the sweep's declared strengths and seeds
    "Explorer": ([(lambda k=k: _get(RESULTS / "explorer.json", k), fixed(0)) for k in ("p50", "p95")]
                 + [(lambda k=k: _get(RESULTS / "explorer.json", "targets", k), fixed(0)) for k in ("p50", "p95")]
                 + [(lambda: _get(RESULTS / "explorer.json", "config", "repeats"), fixed(0))]
                 + [(lambda k=k: _get(RESULTS / "explorer.json", "stress", k), fixed(0))
                    for k in ("clients", "seconds", "errors")],
                 set()),
}
def _eqgan_row(i: int) -> dict[str, float]:
    """Row i of the EqGAN-SA comparison (EqGAN-SA seeds 0, 1, then SEL-only seeds 0, 1)."""
    return _json(RESULTS / "spatial.json")["eqgan_sa_comparison"]["rows"][i]


NUMBER = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?")


def status_rows() -> dict[str, str]:
    """First cell -> headline cell of the README's status table."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Status", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] not in ("capability", "---"):
            rows[cells[0]] = cells[1]
    return rows


def _row(prefix: str) -> str:
    matches = [headline for cap, headline in status_rows().items() if cap.startswith(prefix)]
    assert len(matches) == 1, f"README status table: expected one row starting {prefix!r}, found {len(matches)}"
    return matches[0]


@pytest.mark.parametrize("prefix", list(SOURCES))
def test_status_numbers_are_the_result_files_numbers(prefix):
    sources, constants = SOURCES[prefix]
    headline = _row(prefix)
    expected = [fmt(value()) for value, fmt in sources]
    printed = NUMBER.findall(headline)
    for number in expected:
        assert number in printed, f"{prefix}: the file says {number}, the README says {headline!r}"
    stray = set(printed) - set(expected) - constants
    assert not stray, f"{prefix}: {sorted(stray)} in {headline!r} match no result file (they say {expected})"


def test_every_row_with_a_number_has_its_sources_named_here():
    for capability, headline in status_rows().items():
        if NUMBER.search(headline):
            assert any(capability.startswith(p) for p in SOURCES), f"no result file named for {capability!r}"
