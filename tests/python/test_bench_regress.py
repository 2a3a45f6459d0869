"""The regression comparator of bench/run.sh (bench/regress.py) on made-up
records: the same figures pass, a figure 20 % worse than a quiet baseline
fails, and noise widens the allowance."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("regress", ROOT / "bench" / "regress.py")
assert spec and spec.loader
regress = importlib.util.module_from_spec(spec)
sys.modules["regress"] = regress
spec.loader.exec_module(regress)


def record(rtf_rounds: list[list[float]]) -> dict:
    return {"models": {"piper": {"figures": {"rtf": regress.summarize(rtf_rounds)}}}}


QUIET = [[0.100, 0.104], [0.101, 0.103], [0.099, 0.105], [0.100, 0.102], [0.101, 0.101]]


def test_summary_is_the_median_of_round_bests() -> None:
    s = regress.summarize([[0.3, 0.1], [0.2, 0.5], [0.4, 0.4]])
    assert s["round_bests"] == [0.1, 0.2, 0.4]
    assert s["value"] == 0.2
    assert s["noise"] > 0


def test_same_figures_pass() -> None:
    assert regress.compare(record(QUIET), record(QUIET)) == []


def test_twenty_percent_slower_fails() -> None:
    slower = [[x * 1.2 for x in r] for r in QUIET]
    assert regress.compare(record(QUIET), record(slower)) == ["piper rtf"]


def test_faster_is_not_a_regression() -> None:
    faster = [[x * 0.8 for x in r] for r in QUIET]
    assert regress.compare(record(QUIET), record(faster)) == []


def test_noise_widens_the_allowance() -> None:
    noisy = [[0.08], [0.10], [0.13], [0.09], [0.12]]
    worse = [[x * 1.08 for x in r] for r in noisy]
    assert regress.compare(record(noisy), record(worse)) == []
    assert regress.compare(record(QUIET), record([[x * 1.08 for x in r] for r in QUIET])) == ["piper rtf"]
