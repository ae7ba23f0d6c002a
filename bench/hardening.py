"""Hardening re-run (issue 29): the bad inputs the issue lists, run as a new user would, one real process each.

Unlike tests/cli/test_cli_contract.py (in-process, validate-only), every case here runs the installed CLI end to
end in a fresh scratch folder, so a check that fires only after work has started, a traceback from deep in a
loader or a file written outside ``--out`` shows up. Each case expects either

- ``error``: exit code 2, nothing on stdout, exactly one line on stderr, no traceback, nothing written; or
- ``ok``: exit code 0 and a check of the output (files confined to ``--out``, the package untouched, strict JSON).

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/hardening.py     # -> bench/results/hardening.json
"""

import argparse
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from common import environment, write_json

SCHEMA = 1
TIMEOUT_S = 300


@dataclass
class Case:
    id: str
    kind: str  # the heading: outputs, shipped, images, numbers, files, runs, fallbacks
    argv: list[str]
    expect: str = "error"  # error | ok
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Path, subprocess.CompletedProcess, set[Path]], str | None] | None = None  # "ok" cases: None = fine
    slow_factor: float | None = None  # wall time at most this many times a bare `genlens --help` (+10 s)


def _package_weights() -> Path:
    import genlens.models.weights as w

    return Path(w.__file__).parent if getattr(w, "__file__", None) else Path(next(iter(w.__path__)))


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _bomb_png(path: Path, side: int) -> None:
    """A tiny PNG whose header claims side x side pixels (the decompression-bomb case)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


def _setup(work: Path) -> dict[str, Path]:
    """Files the cases point at, all inside the scratch folder ``work``."""
    from PIL import Image

    p = {"file": work / "a-file.txt", "ro": work / "readonly", "png": work / "shirt.png", "bomb": work / "bomb.png",
         "big": work / "big.png", "empty": work / "empty", "model": work / "model"}
    p["file"].write_text("not a folder")
    p["ro"].mkdir()
    p["ro"].chmod(stat.S_IRUSR | stat.S_IXUSR)
    Image.new("L", (28, 28), 128).save(p["png"])
    _bomb_png(p["bomb"], 30000)
    Image.new("L", (8000, 8000)).save(p["big"])
    p["empty"].mkdir()
    shutil.copytree(_package_weights() / "fmnist-cnn", p["model"])
    return p


def _corrupt_model(work: Path, name: str, edit: Callable[[Path], None]) -> Path:
    dst = work / name
    shutil.copytree(work / "model", dst)
    edit(dst)
    return dst


def _edit_json(file: str, fn: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        obj = json.loads((folder / file).read_text())
        fn(obj)
        (folder / file).write_text(json.dumps(obj))
    return edit


def _confined(out: str) -> Callable[[Path, subprocess.CompletedProcess, set[Path]], str | None]:
    def check(work: Path, proc: subprocess.CompletedProcess, before: set[Path]) -> str | None:
        root = (work / out).resolve()
        stray = [str(q.relative_to(work)) for q in set(work.rglob("*")) - before
                 if q.is_file() and root not in q.resolve().parents and q.relative_to(work).parts[0] != "HOME"]
        bad = [q.name for q in root.rglob("*") if any(ord(c) < 32 for c in q.name)]
        return f"written outside --out: {stray[:3]}" if stray else (f"control characters: {bad}" if bad else None)
    return check


def _strict_json(work: Path, proc: subprocess.CompletedProcess, before: set[Path]) -> str | None:
    lines = proc.stdout.strip().splitlines()
    if len(lines) != 1:
        return f"{len(lines)} stdout lines"
    try:
        json.loads(lines[0], parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except ValueError as exc:
        return f"not strict JSON: {exc}"
    return None


def cases(p: dict[str, Path], work: Path) -> list[Case]:
    cpu = ["--device", "cpu"]
    bad_json = _corrupt_model(work, "m-badjson", lambda f: (f / "config.json").write_text("{not json"))
    bad_manifest = _corrupt_model(work, "m-badmanifest", lambda f: (f / "manifest.json").write_text("[1,"))
    no_sha = _corrupt_model(work, "m-nosha", _edit_json("manifest.json", lambda m: m.update(sha256={})))
    missing_key = _corrupt_model(work, "m-nokey", _edit_json("config.json", lambda c: c.pop("name")))
    truncated = _corrupt_model(work, "m-trunc", lambda f: (f / "model.safetensors").write_bytes(
        (f / "model.safetensors").read_bytes()[:1000]))
    pickled = _corrupt_model(work, "m-pickle", lambda f: (f / "model.safetensors").write_bytes(
        b"\x80\x04\x95" + b"\0" * 64))
    return [
        # --- output paths
        Case("cam-out-is-file", "outputs", ["cam", "fmnist-cnn", str(p["png"]), "--out", str(p["file"]), *cpu]),
        Case("gan-sample-out-devnull", "outputs", ["gan", "sample", "fmnist-eqgan", "--n", "2", "--out", "/dev/null",
                                                   *cpu]),
        Case("tour-out-readonly", "outputs", ["tour", "--quick", "--out", str(p["ro"] / "tour"), *cpu]),
        Case("diffusion-train-out-readonly", "outputs", ["diffusion", "train", "--steps", "2", "--out",
                                                         str(p["ro"] / "run"), *cpu]),
        Case("diffusion-sample-prompt-dotdot", "outputs", ["diffusion", "sample", "fmnist-ddpm-text", "--prompt", "..",
                                                           "--anchors", "0", "--n", "1", "--steps", "2", "--out",
                                                           "o/d", *cpu], "ok", check=_confined("o/d")),
        Case("invert-clip-prompt-dotdot", "outputs", ["invert", "clip", "--prompt", "..", "--steps-scale", "0.01",
                                                      "--out", "o/c", *cpu], "ok", check=_confined("o/c")),
        Case("invert-clip-prompt-control-chars", "outputs", ["invert", "clip", "--prompt", "red\x1b[31m\x07shoe",
                                                             "--steps-scale", "0.01", "--out", "o/cc", *cpu]),
        # --- shipped models
        Case("gan-train-into-shipped", "shipped", ["gan", "train", "--tiny", "--steps", "1", "--batch", "8",
                                                   "--limit", "64", "--out", str(_package_weights() / "fmnist-eqgan"),
                                                   *cpu]),
        Case("zoo-train-into-shipped", "shipped", ["zoo", "train", "fmnist-cnn", "--epochs", "1", "--out",
                                                   str(_package_weights() / "fmnist-cnn"), *cpu]),
        # --- images
        Case("cam-decompression-bomb", "images", ["cam", "fmnist-cnn", str(p["bomb"]), "--out", "o/b", *cpu]),
        Case("cam-8000px", "images", ["cam", "fmnist-cnn", str(p["big"]), "--out", "o/big", *cpu], slow_factor=3),
        # --- numbers
        *[Case(f"diffusion-sample-guidance-{v}", "numbers", ["diffusion", "sample", "fmnist-ddpm", "--class", "0",
                                                             "--guidance", v, "--n", "1", "--out", "o/g", *cpu])
          for v in ("nan", "inf", "1e9")],
        Case("diffusion-sample-steps-0", "numbers", ["diffusion", "sample", "fmnist-ddpm", "--steps", "0", "--out",
                                                     "o/s", *cpu]),
        Case("zoo-train-epochs-0", "numbers", ["zoo", "train", "fmnist-cnn", "--epochs", "0", "--out", "o/z", *cpu]),
        Case("dead-threshold-nan", "numbers", ["dead", "fmnist-cnn", "--threshold", "nan", *cpu]),
        Case("dead-limit-0", "numbers", ["dead", "fmnist-cnn", "--limit", "0", *cpu]),
        Case("dead-limit-negative", "numbers", ["dead", "fmnist-cnn", "--limit", "-5", *cpu]),
        Case("data-show-n-negative", "numbers", ["data", "show", "--n", "-3", "--out", "o/data.png"]),
        Case("diffusion-train-lr-nan", "numbers", ["diffusion", "train", "--lr", "nan", "--out", "o/t", *cpu]),
        Case("diffusion-train-lr-negative", "numbers", ["diffusion", "train", "--lr", "-1", "--out", "o/t", *cpu]),
        Case("gan-sample-n-0", "numbers", ["gan", "sample", "fmnist-eqgan", "--n", "0", "--out", "o/n", *cpu]),
        Case("cam-alpha-2", "numbers", ["cam", "fmnist-cnn", str(p["png"]), "--alpha", "2", "--out", "o/a", *cpu]),
        # --- files genlens reads
        Case("model-config-invalid-json", "files", ["zoo", "eval", str(bad_json), "--limit", "64", *cpu]),
        Case("model-manifest-invalid-json", "files", ["zoo", "eval", str(bad_manifest), "--limit", "64", *cpu]),
        Case("model-manifest-empty-sha256", "files", ["zoo", "eval", str(no_sha), "--limit", "64", *cpu]),
        Case("model-config-missing-key", "files", ["zoo", "eval", str(missing_key), "--limit", "64", *cpu]),
        Case("model-weights-truncated", "files", ["zoo", "eval", str(truncated), "--limit", "64", *cpu]),
        Case("model-weights-pickle", "files", ["zoo", "eval", str(pickled), "--limit", "64", *cpu]),
        # --- quiet fallbacks and stray output
        Case("data-dir-empty", "fallbacks", ["data", "info", "--data-dir", str(p["empty"])]),
        Case("genlens-data-env-missing", "fallbacks", ["data", "info"], env={"GENLENS_DATA": str(work / "nowhere")}),
        Case("invert-timm-no-weights", "fallbacks", ["invert", "timm:resnet18", "--class", "0", "--steps-scale",
                                                     "0.01", "--out", "o/t", *cpu], slow_factor=3),
        Case("json-strict", "fallbacks", ["zoo", "eval", "fmnist-cnn", "--limit", "64", "--json", *cpu], "ok",
             check=_strict_json),
    ]


def run_case(case: Case, work: Path, env: dict[str, str], baseline: float) -> dict:
    before = {q for q in work.rglob("*")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "genlens.cli.main", *case.argv], cwd=work, env={**env, **case.env},
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    seconds = time.perf_counter() - t0
    err_lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    traceback = "Traceback (most recent call last)" in proc.stderr
    problems = []
    if traceback:
        problems.append("traceback")
    if case.expect == "error":
        if proc.returncode != 2:
            problems.append(f"exit {proc.returncode}")
        if len(err_lines) != 1:
            problems.append(f"{len(err_lines)} stderr lines")
        if proc.stdout.strip():
            problems.append("stdout not empty")
        new = sorted(str(q.relative_to(work)) for q in set(work.rglob("*")) - before
                     if q.is_file() and q.relative_to(work).parts[0] != "HOME")
        if new:
            problems.append(f"wrote {new[:3]}")
    else:
        if proc.returncode != 0:
            problems.append(f"exit {proc.returncode}: {err_lines[-1] if err_lines else ''}")
        elif case.check is not None and (why := case.check(work, proc, before)):
            problems.append(why)
    if case.slow_factor is not None and seconds > (limit := case.slow_factor * baseline + 10):
        problems.append(f"took {seconds:.1f} s (limit {limit:.1f} s: {case.slow_factor}x the start-up time + 10 s)")
    return {"id": case.id, "kind": case.kind, "argv": case.argv, "expect": case.expect, "exit": proc.returncode,
            "stderr": err_lines[:3], "stderr_lines": len(err_lines), "traceback": traceback,
            "seconds": round(seconds, 2), "problems": problems, "pass": not problems}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hardening.json")
    ap.add_argument("--only", default=None, help="Run only the cases whose id contains this text.")
    args = ap.parse_args()
    shipped_before = _tree_digest(_package_weights())
    results = []
    with tempfile.TemporaryDirectory(prefix="genlens-hardening-") as tmp:
        work = Path(tmp)
        places = _setup(work)
        (work / "HOME").mkdir()
        env = {**os.environ, "HOME": str(work / "HOME"), "NO_COLOR": "1", "COLUMNS": "200",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1] / "src"),
                                                           os.environ.get("PYTHONPATH")]))}
        env.pop("GENLENS_DATA", None)
        try:
            for case in cases(places, work):
                if args.only and args.only not in case.id:
                    continue
                t0 = time.perf_counter()  # start-up cost on this machine now (load varies), for slow_factor
                if case.slow_factor is not None:
                    subprocess.run([sys.executable, "-m", "genlens.cli.main", "--help"], cwd=work, env=env,
                                   capture_output=True, check=True)
                r = run_case(case, work, env, time.perf_counter() - t0)
                results.append(r)
                print(f"{'ok  ' if r['pass'] else 'FAIL'} {r['id']:40s} exit {r['exit']} {r['seconds']:6.1f} s "
                      f"{'; '.join(r['problems'])}", file=sys.stderr, flush=True)
        finally:
            places["ro"].chmod(stat.S_IRWXU)
    shipped_same = _tree_digest(_package_weights()) == shipped_before
    summary = {"cases": len(results), "passed": sum(r["pass"] for r in results),
               "tracebacks": sum(r["traceback"] for r in results),
               "silent_wrong": sum(r["expect"] == "error" and r["exit"] == 0 for r in results)
               + sum(r["expect"] == "ok" and not r["pass"] for r in results),
               "shipped_models_unchanged": shipped_same}
    write_json(args.out, {"benchmark": "hardening", "schema": SCHEMA, "environment": environment(torch.device("cpu")),
                          "summary": summary, "cases": results})
    print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    main()


def table(result: dict) -> str:
    """Markdown summary for bench/README.md."""
    s = result["summary"]
    rows = ["| case | heading | expected | exit | stderr lines | result |", "|---|---|---|---:|---:|---|"]
    for c in result["cases"]:
        rows.append(f"| `{c['id']}` | {c['kind']} | {c['expect']} | {c['exit']} | {c['stderr_lines']} | "
                    f"{'pass' if c['pass'] else 'FAIL: ' + '; '.join(c['problems'])} |")
    return (f"{s['passed']} of {s['cases']} cases pass; tracebacks {s['tracebacks']}, silent wrong results "
            f"{s['silent_wrong']}, shipped models unchanged: {s['shipped_models_unchanged']}. Each case is a real "
            "process in a scratch folder (the in-process walk over every option is tests/cli/test_cli_contract.py)."
            "\n\n" + "\n".join(rows))
