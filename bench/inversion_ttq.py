"""Inversion compared at equal quality (issue 30 item 4): accuracy against CPU-seconds for every method.

    OMP_NUM_THREADS=1 .venv/bin/python bench/inversion.py --time-to-quality           # the full, pre-registered run
    OMP_NUM_THREADS=1 .venv/bin/python bench/inversion.py --time-to-quality --smoke --out /tmp/ttq.json

Every method runs as shipped (its own preset, ensemble and augmentations; the peers at their library defaults,
``bench/peers/``) at each step budget of :data:`CONFIG` on every zoo architecture, every class (n = 1) and
every seed; ``pii-literal`` also at its own full budget (7 x 400 steps). A run is one (method, architecture,
seed, budget): the images of all classes in one batch, timed by ``time.process_time`` on one torch thread
(OMP 1), so CPU-seconds are comparable across methods whatever else the machine runs. Each run's images are
judged by the evaluator ``genlens-eval`` (the headline: nothing was tuned on it) and by the zoo judges (the
other three zoo models; development numbers: they chose ``pii-tuned``).

Per method and budget the curve holds the mean CPU-seconds per run and the accuracies pooled over the runs'
images (evaluator top-1 with a bootstrap 95 % interval over images; zoo cross-model top-1). From the curves:
the best peer is the peer (``CONFIG["peers"]``, every method that is not PII, run on every architecture) with
the highest evaluator accuracy at any budget; each method's CPU-seconds to reach that accuracy and to reach
``CONFIG["target_accuracy"]`` are read off its curve, linearly interpolated between the two budgets that
bracket the first crossing (the first budget's CPU-seconds when the first point already clears it; null when
no budget reaches it). ``ratio_to_best_peer`` = pii-tuned's CPU-seconds over the best peer's; the target is
at most 0.5. Both targets (the ratio, and pii-tuned reaching ``target_accuracy``) get their word -- met, at the
bar, missed -- from a bootstrap interval over images (:func:`target_intervals`), not from the point estimate.
The plot (accuracy against CPU-seconds, evaluator and zoo judges) goes beside the result file.

The result goes under the key ``time_to_quality`` of the ``--out`` file; other keys (the equal-steps
comparison) are kept. The file is rewritten (atomically) after every finished run, so Ctrl-C or ``kill`` loses
at most the runs in flight; runs already in the file under the same config are reused, so rerunning the same
command resumes. Until every run is in, the block says ``"complete": false`` with ``runs_done`` of
``runs_total``, its summary covers only the runs there (methods without runs are absent) and there is no plot.
``--methods M [M ...]`` runs only those methods' runs (the config and the file stay the full ones; the other
methods' runs are kept), so a run too long for one session is spread deliberately:

    OMP_NUM_THREADS=1 .venv/bin/python bench/inversion.py --time-to-quality --methods pii-tuned deepdream \
        deepinversion lucent torch-dreams       # the cheap 1.8 CPU-hours first
    OMP_NUM_THREADS=1 .venv/bin/python bench/inversion.py --time-to-quality --methods pii-literal   # repeat per session
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import Runner, environment, load_average, stop_on_sigterm, write_json
from peers import INSTALL, PEERS, installed, preload

ZOO = ["fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"]
EVALUATOR = "genlens-eval"

# Pre-registered before the run (issue 30 item 2): copied into the result file; changing it starts a new run.
CONFIG: dict[str, Any] = {
    "methods": ["pii-tuned", "pii-literal", "deepdream", "deepinversion", "lucent", "torch-dreams"],
    "pii": "pii-tuned",  # PII as shipped: the method the target is about
    "peers": ["deepdream", "deepinversion", "lucent", "torch-dreams"],
    "budgets": [75, 150, 300, 600, 1200],  # optimisation steps per run
    "full_budget": {"pii-literal": 2800},  # also run at the method's own full budget
    "archs": ZOO,
    "classes": list(range(10)),  # n = 1 image per class per run
    "seeds": [0, 1, 2],
    "threads": 1,
    "evaluator": EVALUATOR,
    "zoo_judges": ZOO,
    "target_accuracy": 0.8,
    "target_ratio": 0.5,  # pii-tuned within half the best peer's CPU-seconds
    "bootstrap_resamples": 10_000,
}
# The --smoke run: the same pipeline at toy size, to prove it end to end (never a reported number).
SMOKE: dict[str, Any] = {**CONFIG, "budgets": [2, 4], "full_budget": {"pii-literal": 7}, "archs": ["fmnist-cnn"],
                         "classes": [9], "seeds": [0], "bootstrap_resamples": 200}


# --- one run ----------------------------------------------------------------------------------------
def plan(method: str, budget: int) -> tuple[str, Any, float]:
    """(registry method, config, steps_scale) that runs ``method`` as shipped for about ``budget`` steps."""
    if method in PEERS:
        return method, dataclasses.replace(PEERS[method].config, steps=budget), 1.0
    from inversion import native_steps

    from genlens.inversion.api import resolve_method

    name, config = resolve_method(method, None)
    return name, config, budget / native_steps(name, config)


def run_one(method: str, handle, budget: int, seed: int, labels: torch.Tensor,
            judges: dict[str, Any]) -> dict[str, Any]:
    """Invert ``labels`` on ``handle`` at ``budget``; CPU-seconds of the inversion alone; every judge's top-1."""
    from inversion import generate

    from genlens.inversion.hooks import batchnorm_layers

    row: dict[str, Any] = {"method": method, "arch": handle.name, "seed": seed, "budget": budget}
    if method == "deepinversion" and not batchnorm_layers(handle.model):
        return {**row, "status": "n/a", "reason": f"{handle.name} has no BatchNorm layers"}
    cpu0, t0 = time.process_time(), time.perf_counter()
    images, steps = generate(handle, labels, plan(method, budget), seed=seed)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    correct = {}
    for name, judge in judges.items():
        correct[name] = (judge.predict(images).argmax(-1) == labels).int().tolist()  # one flag per image
    zoo = [j for j in CONFIG["zoo_judges"] if j != handle.name and j in correct]
    return {**row, "status": "ok", "steps": steps, "cpu_s": cpu, "wall_s": wall,
            "evaluator_correct": correct[EVALUATOR],
            "zoo_correct": {j: correct[j] for j in zoo}, "own_correct": correct.get(handle.name, [])}


# --- curves and times to quality -------------------------------------------------------------------
def curve(runs: list[dict[str, Any]], method: str, *, resamples: int) -> list[dict[str, Any]]:
    """Per budget (ascending): mean CPU-seconds per run, evaluator top-1 (bootstrap interval over images) and
    zoo cross-model top-1, pooled over the method's runs at that budget."""
    from genlens.metrics import bootstrap_interval

    points = []
    for budget in sorted({r["budget"] for r in runs if r["method"] == method and r["status"] == "ok"}):
        rs = [r for r in runs if r["method"] == method and r["budget"] == budget and r["status"] == "ok"]
        flags = [f for r in rs for f in r["evaluator_correct"]]
        zoo = [f for r in rs for v in r["zoo_correct"].values() for f in v]
        ci = bootstrap_interval([float(f) for f in flags], resamples=resamples) if len(flags) >= 2 else None
        points.append({"budget": budget, "runs": len(rs), "images": len(flags), "archs": sorted({r["arch"] for r in rs}),
                       "steps": sum(r["steps"] for r in rs) / len(rs), "cpu_s": sum(r["cpu_s"] for r in rs) / len(rs),
                       "evaluator_top1": sum(flags) / len(flags), "evaluator_interval": ci.to_dict() if ci else None,
                       "zoo_cross_top1": sum(zoo) / len(zoo) if zoo else None})
    return points


def cpu_to_reach(points: list[dict[str, Any]], accuracy: float, key: str = "evaluator_top1") -> float | None:
    """CPU-seconds at which the curve first reaches ``accuracy``, interpolated linearly between the two points
    that bracket the first crossing; the first point's CPU-seconds if it already reaches it; None if never."""
    prev = None
    for p in sorted(points, key=lambda q: q["cpu_s"]):
        if p[key] is not None and p[key] >= accuracy:
            if prev is None or prev[key] is None:
                return p["cpu_s"]
            frac = (accuracy - prev[key]) / (p[key] - prev[key])
            return prev["cpu_s"] + frac * (p["cpu_s"] - prev["cpu_s"])
        prev = p
    return None


def _best_peer(curves: dict[str, list[dict[str, Any]]], eligible: list[str]) -> tuple[str | None, float | None]:
    """The eligible peer with the highest evaluator top-1 at any budget, and that accuracy."""
    best = max(eligible, key=lambda p: max(q["evaluator_top1"] for q in curves[p]), default=None)
    return best, (max(q["evaluator_top1"] for q in curves[best]) if best else None)


def _ratio(curves: dict[str, list[dict[str, Any]]], eligible: list[str], pii: str) -> float | None:
    """pii's CPU-seconds to the best peer's best accuracy over the best peer's; inf when pii never reaches it,
    None when there is no eligible peer or no pii curve."""
    best, acc = _best_peer(curves, eligible)
    if best is None or acc is None or pii not in curves:
        return None
    mine, theirs = cpu_to_reach(curves[pii], acc), cpu_to_reach(curves[best], acc)
    if not theirs:  # a peer always reaches its own best; 0 CPU-seconds only in a broken file
        return None
    return math.inf if mine is None else mine / theirs


def target_intervals(runs: list[dict[str, Any]], curves: dict[str, list[dict[str, Any]]], eligible: list[str],
                     config: dict[str, Any]) -> dict[str, Any]:
    """95 % percentile-bootstrap intervals of the two targets' statistics and their verdicts (met / at the bar /
    missed, :func:`genlens.metrics.verdict`). Each resample redraws every curve point's images with replacement
    (each point independently: the points are separate runs), then recomputes the whole statistic -- the best
    peer is chosen again, the crossings interpolated again; the CPU-seconds stay at their means (one run's
    timing varies by a few per cent, an accuracy over 120 images by about 8 points). Statistics: ``ratio_to_best_peer``
    (inf in a resample where pii never reaches the best peer's best) and pii's best evaluator top-1 over the
    budgets (against ``target_accuracy``)."""
    from genlens.metrics import Interval, verdict

    pii, resamples = config["pii"], config["bootstrap_resamples"]
    if pii not in curves:
        return {}
    g = torch.Generator().manual_seed(0)
    used = [m for m in config["methods"] if m == pii or m in eligible]  # the methods the statistics read, in
    # config order: runs of other methods (pii-literal coming in) leave the draws, so the intervals, unchanged
    drawn: dict[str, list[torch.Tensor]] = {}  # method -> per point, (B,) resampled evaluator top-1
    for m in used:
        drawn[m] = []
        for p in curves[m]:
            rs = [r for r in runs if r["method"] == m and r["budget"] == p["budget"] and r["status"] == "ok"]
            flags = torch.tensor([f for r in rs for f in r["evaluator_correct"]], dtype=torch.float64)
            drawn[m].append(flags[torch.randint(0, len(flags), (resamples, len(flags)), generator=g)].mean(1))
    ratios, bests = [], []
    for b in range(resamples):
        cb = {m: [{**p, "evaluator_top1": float(drawn[m][i][b])} for i, p in enumerate(curves[m])] for m in used}
        ratios.append(_ratio(cb, eligible, pii))
        bests.append(max(q["evaluator_top1"] for q in cb[pii]))
    def interval(point: float, draws: list[float]) -> Interval:
        # "nearest": no interpolation between an infinite draw and a finite one
        lo, hi = torch.quantile(torch.tensor(draws, dtype=torch.float64),
                                torch.tensor([0.025, 0.975], dtype=torch.float64), interpolation="nearest").tolist()
        return Interval(estimate=point, low=lo, high=hi, level=0.95, method="bootstrap-percentile", n=resamples)

    def as_json(iv: Interval) -> dict[str, float | None]:
        return {k: None if math.isinf(v) else v for k, v in (("estimate", iv.estimate), ("low", iv.low),
                                                              ("high", iv.high))}

    out: dict[str, Any] = {"interval_method": f"bootstrap over images, {resamples} resamples, 95 %; CPU-seconds at "
                                              "their means; null = inf (pii never reaches it in the budgets)"}
    point = _ratio(curves, eligible, pii)
    if point is not None and all(r is not None for r in ratios):
        iv = interval(point, ratios)
        out["ratio_interval"] = as_json(iv)
        out["ratio"] = verdict(iv, config["target_ratio"], higher_is_better=False)
    iv = interval(max(q["evaluator_top1"] for q in curves[pii]), bests)
    out["pii_best_evaluator_top1"] = as_json(iv)
    out["accuracy"] = verdict(iv, config["target_accuracy"], higher_is_better=True)
    return out


def summarize(runs: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """Curves per method, the best peer, each method's CPU-seconds to quality and ``ratio_to_best_peer``."""
    curves = {m: curve(runs, m, resamples=config["bootstrap_resamples"]) for m in config["methods"]}
    curves = {m: c for m, c in curves.items() if c}
    n_archs = len(config["archs"])
    eligible = [p for p in config["peers"] if p in curves and all(len(q["archs"]) == n_archs for q in curves[p])]
    best_peer, best_acc = _best_peer(curves, eligible)
    methods = {}
    for m, c in curves.items():
        methods[m] = {"best_evaluator_top1": max(q["evaluator_top1"] for q in c),
                      "cpu_s_to_best_peer_best": cpu_to_reach(c, best_acc) if best_acc is not None else None,
                      "cpu_s_to_target": cpu_to_reach(c, config["target_accuracy"]),
                      "zoo_cpu_s_to_target": cpu_to_reach(c, config["target_accuracy"], key="zoo_cross_top1")}
    ratio = _ratio(curves, eligible, config["pii"])  # the file says null where pii never reaches it
    ratio = None if ratio is None or math.isinf(ratio) else ratio
    reaches = methods.get(config["pii"], {}).get("cpu_s_to_target") is not None
    return {"curves": curves, "methods": methods, "eligible_peers": eligible, "best_peer": best_peer,
            "best_peer_best_evaluator_top1": best_acc,
            "ratio_to_best_peer": ratio,
            "targets": {"ratio_at_most": config["target_ratio"], "accuracy_at_least": config["target_accuracy"],
                        "reaches_target_accuracy": reaches,
                        **target_intervals(runs, curves, eligible, config)},
            "judged_by": {"headline": EVALUATOR, "development": config["zoo_judges"]}}


def plot(summary: dict[str, Any], path: Path, *, title: str) -> Path:
    """Accuracy against CPU-seconds per run (log axis), one line per method: evaluator and zoo judges."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, name in ((axes[0], "evaluator_top1", f"evaluator {EVALUATOR}"),
                          (axes[1], "zoo_cross_top1", "zoo judges (cross-model)")):
        for m, c in summary["curves"].items():
            pts = [(p["cpu_s"], p[key]) for p in c if p[key] is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=m)
        if summary["best_peer_best_evaluator_top1"] is not None and key == "evaluator_top1":
            ax.axhline(summary["best_peer_best_evaluator_top1"], color="grey", ls=":", lw=1, label="best peer's best")
        ax.axhline(CONFIG["target_accuracy"], color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("CPU-seconds per run (one thread)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("top-1 on the intended class")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def table(result: dict[str, Any]) -> str:
    """The bench/README.md section: per method and budget, evaluator top-1 and CPU-seconds per run; the targets."""
    ttq = result.get("time_to_quality")
    if not ttq:
        return "_Not measured yet: `bench/inversion.py --time-to-quality` writes the key `time_to_quality`._"
    cfg = ttq["config"]
    budgets = sorted(set(cfg["budgets"]) | set(cfg["full_budget"].values()))

    def secs(x: float | None) -> str:
        return "never" if x is None else f"{x:.1f} s"

    rows = ["Evaluator top-1 % (`genlens-eval`) and mean CPU-seconds per run (one thread; a run = 10 classes, "
            "one image each) at each step budget, pooled over " + ", ".join(cfg["archs"]) + " and seeds "
            + ", ".join(map(str, cfg["seeds"])) + "; the last columns read the curve (linear between budgets).", "",
            "| method | " + " | ".join(map(str, budgets)) + " | best zoo cross top-1 | CPU-s to best peer's best "
            "| CPU-s to " + f"{100 * cfg['target_accuracy']:.0f} % |", "|---|" + "---:|" * (len(budgets) + 3)]
    for m, c in ttq["curves"].items():
        at = {p["budget"]: p for p in c}
        cells = [f"{100 * at[b]['evaluator_top1']:.0f} % · {at[b]['cpu_s']:.1f} s" if b in at else "" for b in budgets]
        zoo = [p["zoo_cross_top1"] for p in c if p["zoo_cross_top1"] is not None]
        best_zoo = f"{100 * max(zoo):.0f} %" if zoo else "n/a"
        s = ttq["methods"][m]
        archs = " (not all archs)" if m in cfg["peers"] and m not in ttq["eligible_peers"] else ""
        rows.append(f"| {m}{archs} | " + " | ".join(cells) + f" | {best_zoo} | "
                    f"{secs(s['cpu_s_to_best_peer_best'])} | {secs(s['cpu_s_to_target'])} |")
    top = max(cfg["budgets"])
    rows += ["", f"Per architecture at {top} steps (evaluator top-1 % · CPU-seconds per run, over the seeds):", "",
             "| method | " + " | ".join(cfg["archs"]) + " |", "|---|" + "---:|" * len(cfg["archs"])]
    for m in ttq["curves"]:
        cells = []
        for a in cfg["archs"]:
            rs = [r for r in ttq["runs"] if (r["method"], r["arch"], r["budget"], r["status"]) == (m, a, top, "ok")]
            flags = [f for r in rs for f in r["evaluator_correct"]]
            cells.append(f"{100 * sum(flags) / len(flags):.0f} % · {sum(r['cpu_s'] for r in rs) / len(rs):.1f} s"
                         if rs else "n/a")
        rows.append(f"| {m} | " + " | ".join(cells) + " |")
    t = ttq["targets"]
    rows.append("")
    if ttq["best_peer"]:
        rows.append(f"Best peer: {ttq['best_peer']} ({100 * ttq['best_peer_best_evaluator_top1']:.1f} % at best).")
    if "ratio" in t:
        iv = t["ratio_interval"]

        def r(x: float | None) -> str:
            return "inf" if x is None else f"{x:.2f}"

        rows.append(f"`{cfg['pii']}` CPU-seconds over the best peer's to reach that: {r(iv['estimate'])} "
                    f"[{r(iv['low'])}, {r(iv['high'])}] (target at most {t['ratio_at_most']}): **{t['ratio']}**.")
    if "accuracy" in t:
        a = t["pii_best_evaluator_top1"]
        rows.append(f"`{cfg['pii']}` best evaluator top-1 {100 * a['estimate']:.1f} % [{100 * a['low']:.1f}, "
                    f"{100 * a['high']:.1f}] (target {100 * t['accuracy_at_least']:.0f} %): **{t['accuracy']}**.")
    rows.append(f"Intervals: {t.get('interval_method', 'n/a')}.")
    if not ttq["complete"]:
        have = {m: sum(r["method"] == m for r in ttq["runs"]) for m in cfg["methods"]}
        want = {m: sum(j[0] == m for j in jobs(cfg)) for m in cfg["methods"]}
        short = [f"{m} {have[m]} of {want[m]}" for m in cfg["methods"] if have[m] < want[m]]
        rows.append(f"**Partial: {ttq['runs_done']} of {ttq['runs_total']} runs** ({', '.join(short)}); the "
                    "summary covers the runs present and the pre-registered run resumes with `--methods`.")
    return "\n".join(rows)


# --- the run ----------------------------------------------------------------------------------------
def jobs(config: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """(method, arch, seed, budget) in run order and in the order of the saved runs: method-major (a session
    finishes one method's runs before the next's), then architecture, seed and budget."""
    out = []
    for m in config["methods"]:
        budgets = sorted(set(config["budgets"]) | {config["full_budget"].get(m, config["budgets"][0])})
        out += [(m, a, s, b) for a in config["archs"] for s in config["seeds"] for b in budgets]
    return out


_JUDGES: dict[str, Any] = {}  # per process: the judges, loaded once
_WARM: set[tuple[str, str]] = set()  # per process: (method, arch) pairs already run once untimed


def job(task: tuple[str, str, int, int, list[int], list[str], int]) -> dict[str, Any]:
    """One run, in this process or a spawned worker: (method, arch, seed, budget, classes, judges, threads)."""
    from genlens import load_model

    method, arch, seed, budget, classes, judge_names, threads = task
    torch.set_num_threads(threads)
    for name in judge_names:
        if name not in _JUDGES:
            _JUDGES[name] = load_model(name)
    if method in PEERS:
        preload(method)  # import time is not the peer's inversion time
    judges = {name: _JUDGES[name] for name in judge_names}
    from inversion import generate

    from genlens.inversion.hooks import batchnorm_layers

    runs_here = method != "deepinversion" or bool(batchnorm_layers(judges[arch].model))
    if (method, arch) not in _WARM and runs_here:  # first calls pay one-off costs (lazy imports): not timed
        generate(judges[arch], torch.tensor(classes[:1]), plan(method, 1), seed=seed)
        _WARM.add((method, arch))
    return run_one(method, judges[arch], budget, seed, torch.tensor(classes), judges)


def run(config: dict[str, Any], out: Path, *, smoke: bool, workers: int = 1, methods: list[str] | None = None,
        progress=lambda _m: None) -> dict[str, Any]:
    """Every job of ``config`` (``workers`` processes of one thread each), or only those of ``methods``; the
    file is rewritten after every finished run, so a stop loses at most the runs in flight."""
    torch.set_num_threads(config["threads"])
    previous = json.loads(out.read_text()) if out.is_file() else {}
    block = previous.get("time_to_quality", {})
    plan_jobs = jobs(config)
    # runs are keyed by (method, arch, seed, budget): those in the file under the same config are reused
    done = {(r["method"], r["arch"], r["seed"], r["budget"]): r for r in block.get("runs", [])
            if block.get("config") == config}
    done = {j: done[j] for j in plan_jobs if j in done}
    result = {"benchmark": "inversion", "schema": previous.get("schema", 2), **previous}
    env = environment(torch.device("cpu"))
    env.update(omp_num_threads=os.environ.get("OMP_NUM_THREADS"), workers=workers)
    t0 = time.perf_counter()
    judge_names = [*config["zoo_judges"], EVALUATOR]
    selected = config["methods"] if methods is None else methods

    def save() -> dict[str, Any]:
        runs = [done[j] for j in plan_jobs if j in done]  # jobs() order, whatever order they finished in
        env["load_average_end"] = load_average()
        result["time_to_quality"] = {"config": config, "smoke": smoke, "env": env,
                                     "complete": len(runs) == len(plan_jobs),
                                     "runs_done": len(runs), "runs_total": len(plan_jobs), "runs": runs,
                                     "wall_seconds": time.perf_counter() - t0, **summarize(runs, config)}
        write_json(out, result)
        return result["time_to_quality"]

    pending = [j for j in plan_jobs if j[0] in selected and j not in done]
    for m in selected:  # method order kept; a --methods subset leaves the other methods' runs as they are
        todo = [j for j in plan_jobs if j[0] == m]
        progress(f"{m}: {sum(j in pending for j in todo)} runs ({sum(j in done for j in todo)} reused)")
    with Runner(job, workers) as runner:
        tasks = [(*j, config["classes"], judge_names, config["threads"]) for j in pending]
        for task, row in runner.imap_unordered(tasks):
            done[tuple(task[:4])] = row
            save()
            progress(f"{len(done)}/{len(plan_jobs)} runs: {task[0]} {task[1]} seed {task[2]} budget {task[3]}")
    ttq = save()
    if ttq["complete"]:  # the plot only once every run is in
        png = plot(ttq, out.parent / "inversion" / "time_to_quality.png",
                   title=("SMOKE (toy budgets) " if smoke else "") + "inversion: accuracy against CPU-seconds")
        ttq["plot"] = str(png)
        write_json(out, result)
    return result


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--time-to-quality", action="store_true", required=True)
    p.add_argument("--smoke", action="store_true", help="toy budgets, one class, one architecture, one seed")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "inversion.json")
    p.add_argument("--workers", type=int, default=1,
                   help="runs in parallel, one spawned process of one thread each (one per idle core)")
    p.add_argument("--methods", nargs="+", metavar="M",
                   help="run only these methods' runs this time (the config and the file stay the full ones: the "
                        "other methods' runs are kept from the file), e.g. the cheap ones first")
    args = p.parse_args(argv)
    config = dict(SMOKE if args.smoke else CONFIG)
    unknown = [m for m in args.methods or [] if m not in config["methods"]]
    if unknown:
        p.error(f"--methods: unknown method {', '.join(unknown)}; choose from {', '.join(config['methods'])}")
    selected = args.methods or config["methods"]
    missing = [m for m in config["methods"] if m in PEERS and not installed(m)]
    if missing and not args.smoke and any(m in missing for m in selected):
        p.error(f"peer {', '.join(m for m in missing if m in selected)} is not installed; install with: {INSTALL}")
    if missing and args.smoke:  # a smoke run proves the pipeline with what is installed, and says what it left out
        print(f"[ttq] smoke run without {', '.join(missing)} (not installed)", file=sys.stderr)
        config["methods"] = [m for m in config["methods"] if m not in missing]
        config["peers"] = [m for m in config["peers"] if m not in missing]
        selected = [m for m in selected if m not in missing]
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("[ttq] note: set OMP_NUM_THREADS=1 so CPU-seconds are one thread's", file=sys.stderr)
    stop_on_sigterm()  # kill unwinds like Ctrl-C: the workers stop, the finished runs are already saved
    t0 = time.perf_counter()
    try:
        result = run(config, args.out, smoke=args.smoke, workers=args.workers, methods=selected,
                     progress=lambda msg: print(f"[ttq] {msg}", file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print(f"[ttq] stopped after {time.perf_counter() - t0:.0f} s; every finished run is in {args.out}: "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    ttq = result["time_to_quality"]
    print(json.dumps({k: ttq.get(k) for k in ("complete", "runs_done", "runs_total", "best_peer",
                                              "best_peer_best_evaluator_top1", "ratio_to_best_peer", "methods",
                                              "targets", "plot")}, indent=2))
    if not ttq["complete"]:
        print(f"[ttq] {ttq['runs_done']} of {ttq['runs_total']} runs in: the summary covers only those "
              "(no plot yet); run the remaining methods to complete it", file=sys.stderr)
    print(f"wrote {args.out} in {ttq['wall_seconds']:.0f} s", file=sys.stderr)
    return 0
