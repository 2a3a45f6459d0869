"""Regression records of the benchmark set: run, record, compare.

`bench/run.sh` calls this (standard library only). It runs the
`bench_regress` example once per model and round, the models interleaved
so that a passing disturbance of the machine spreads over all of them,
pools each figure's runs, writes a JSON record into `bench/history/` and
compares it with the newest committed record of the same machine.

All figures are lower-is-better (real-time factor, time to first audio,
peak RSS). Each process (a round) gives its best run; a record's figure is
the median over rounds of those bests. On a shared or virtual machine the
slow runs are the noise (another tenant, a migrated vCPU) and whole
processes can land in a slow state, so the best of a round and the median
of rounds are what stay put. A figure regresses when it is above the
baseline's by more than the noise of the two records allows:

    allowed = max(FLOOR, 3 * sqrt(noise_base**2 + noise_now**2))

where a record's noise of a figure is the standard error of that median
(1.2533 * 1.4826 * MAD / sqrt(rounds)) relative to it. The exit status is
1 when a figure regresses, 0 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "bench" / "history"
FLOOR = 0.05
MODELS = ["piper", "f5", "qwen3"]
SCHEMA = 1


def machine() -> dict:
    """What makes records comparable: the CPU model, its core count and
    the widest vector unit the kernels use."""
    cpu, flags = platform.processor() or "unknown", ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
        cpu = m.group(1).strip() if m else cpu
        m = re.search(r"^flags\s*:\s*(.+)$", info, re.M)
        flags = m.group(1) if m else ""
    except OSError:
        pass
    simd = "avx512" if " avx512f" in f" {flags}" else "avx2" if " avx2" in f" {flags}" else "scalar"
    cores = os.cpu_count() or 0
    key = re.sub(r"[^a-z0-9]+", "-", f"{cpu} {cores}c {simd}".lower()).strip("-")
    return {"cpu": cpu, "cores": cores, "simd": simd, "device": "cpu", "key": key}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def summarize(rounds: list[list[float]]) -> dict:
    """A figure over rounds: the median of each round's best, and its
    relative noise."""
    bests = [min(r) for r in rounds]
    value = statistics.median(bests)
    mad = statistics.median(abs(b - value) for b in bests)
    se = 1.2533 * 1.4826 * mad / math.sqrt(len(bests))
    noise = se / value if value > 0 else 0.0
    return {"value": value, "noise": noise, "round_bests": bests, "runs": rounds}


def run_models(binary: Path, models: list[str], rounds: int, runs: int, slowdown: float) -> dict:
    raw: dict[str, dict] = {m: {"figures": {}} for m in models}
    for r in range(rounds):
        for m in models:
            cmd = [str(binary), "--model", m, "--runs", str(runs), "--inject-slowdown", str(slowdown)]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"error: {' '.join(cmd)} failed:\n{out.stderr[-4000:]}")
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            raw[m]["audio_s"] = rec["audio_s"]
            for name, values in rec["figures"].items():
                raw[m]["figures"].setdefault(name, []).append(values)
            rtf = min(rec["figures"]["rtf"])
            print(f"  round {r + 1}/{rounds} {m:6} best RTF {rtf:.4f}", file=sys.stderr)
    return {
        m: {"audio_s": v["audio_s"], "figures": {n: summarize(rs) for n, rs in v["figures"].items()}}
        for m, v in raw.items()
    }


def baseline_for(key: str, exclude: Path | None) -> Path | None:
    """The newest committed record of this machine."""
    tracked = git("ls-files", "bench/history").splitlines()
    candidates = []
    for rel in tracked:
        path = ROOT / rel
        if exclude and path.resolve() == exclude.resolve():
            continue
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("machine", {}).get("key") == key and not rec.get("inject_slowdown"):
            candidates.append((rec.get("date", ""), path))
    return max(candidates)[1] if candidates else None


def compare(base: dict, now: dict) -> list[str]:
    """Prints the comparison; returns the figures that regressed."""
    worse = []
    print(f"\n{'model':7}{'figure':14}{'baseline':>12}{'now':>12}{'ratio':>8}{'allowed':>9}  verdict")
    for model, rec in now["models"].items():
        base_model = base["models"].get(model)
        if base_model is None:
            print(f"{model:7}(not in the baseline)")
            continue
        for name, fig in rec["figures"].items():
            b = base_model["figures"].get(name)
            if b is None or not b["value"] or math.isnan(b["value"]):
                continue
            ratio = fig["value"] / b["value"]
            allowed = max(FLOOR, 3 * math.hypot(b["noise"], fig["noise"]))
            verdict = "WORSE" if ratio > 1 + allowed else "better" if ratio < 1 - allowed else "same"
            if verdict == "WORSE":
                worse.append(f"{model} {name}")
            print(
                f"{model:7}{name:14}{b['value']:>12.4f}{fig['value']:>12.4f}"
                f"{ratio:>8.3f}{'±' + format(allowed * 100, '.1f') + '%':>9}  {verdict}"
            )
    return worse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", type=Path, required=True, help="the built bench_regress example")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=5, help="processes per model, interleaved")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per process")
    ap.add_argument("--inject-slowdown", type=float, default=0.0, help="make every run slower by this fraction")
    ap.add_argument("--baseline", type=Path, help="compare with this record, not the newest committed one")
    ap.add_argument("--out", type=Path, help="write the record here (default: bench/history/…)")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(MODELS)
    if unknown or args.rounds < 1 or args.runs < 1:
        ap.error(f"models are {MODELS}; rounds and runs at least 1")

    mach = machine()
    commit = git("rev-parse", "--short=12", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    print(f"machine {mach['key']}, commit {commit}{' (uncommitted changes)' if dirty else ''}", file=sys.stderr)
    record = {
        "schema": SCHEMA,
        "date": now.isoformat(),
        "commit": commit,
        "dirty": dirty,
        "machine": mach,
        "rounds": args.rounds,
        "runs": args.runs,
        "inject_slowdown": args.inject_slowdown,
        "models": run_models(args.binary, models, args.rounds, args.runs, args.inject_slowdown),
    }
    if args.out:
        out = args.out
    elif args.inject_slowdown:
        # a record of a slowed-down run is never a baseline
        out = ROOT / "target" / "bench_regress" / "injected.json"
    else:
        out = HISTORY / f"{now.strftime('%Y-%m-%dT%H%M%SZ')}_{commit}_{mach['key']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"record: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")

    base_path = args.baseline or baseline_for(mach["key"], out)
    if base_path is None:
        print("no committed record of this machine to compare with: commit this one as the baseline")
        return
    base = json.loads(base_path.read_text())
    print(f"baseline: {base_path.relative_to(ROOT) if base_path.is_relative_to(ROOT) else base_path}"
          f" (commit {base['commit']}, {base['date']})")
    worse = compare(base, record)
    if worse:
        print(f"\nREGRESSION: {', '.join(worse)} worse than the baseline allows")
        sys.exit(1)
    print("\nno regression")


if __name__ == "__main__":
    main()
