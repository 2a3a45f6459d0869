"""Load test of a speech HTTP service: N concurrent clients for D seconds,
each posting a chat-sized text (one or two sentences, unique, so no cache
answers) and reading the whole answer. Reports time to first byte
(p50/p95/p99), requests per second and errors (429 counted apart: a full
queue is the service saying so, not failing).

    python bench/load_serve.py --target ishowtts --url http://127.0.0.1:8080
    python bench/load_serve.py --target piper --url http://127.0.0.1:5000

Bounded: every request has a timeout, the run stops at its duration (the
requests in flight then finish or time out), loopback only by default.
Used by scripts/bench_serve.sh, which runs both peers in one go.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time

import httpx

SENTENCES = [
    "Thanks for the follow, welcome to the stream!",
    "That was an amazing play, how did you even do that?",
    "Can you show the settings you use for the game?",
    "I have been watching since the start and it keeps getting better.",
    "What time is the next stream going to start tomorrow?",
    "The music today is great, please share the playlist.",
    "Hello from the other side of the world, it is late here.",
    "Good luck on the next round, everyone is cheering for you.",
]


def text_for(i: int, rng: random.Random) -> str:
    n = rng.choice([1, 1, 2])
    return " ".join(rng.sample(SENTENCES, n)) + f" Message {i}."


def request_for(target: str, text: str) -> tuple[str, dict]:
    if target == "ishowtts":
        return "/v1/audio/speech", {"model": "tts-1", "voice": "default", "input": text, "response_format": "pcm"}
    return "/synthesize", {"text": text}


async def client(target: str, http: httpx.AsyncClient, stop_at: float, seed: int, out: dict) -> None:
    rng = random.Random(seed)
    i = seed * 100_000
    while time.monotonic() < stop_at:
        i += 1
        path, body = request_for(target, text_for(i, rng))
        t0 = time.monotonic()
        try:
            async with http.stream("POST", path, json=body) as r:
                first = None
                size = 0
                async for piece in r.aiter_bytes():
                    if first is None and piece:
                        first = time.monotonic() - t0
                    size += len(piece)
                if r.status_code == 429:
                    out["rejected"] += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                elif r.status_code != 200 or first is None or size < 1000:
                    out["errors"] += 1
                else:
                    out["ttfb"].append(first)
                    out["total"].append(time.monotonic() - t0)
                    out["bytes"] += size
        except httpx.HTTPError as e:
            out["errors"] += 1
            out["error_kinds"].add(type(e).__name__)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


async def run(target: str, label: str, url: str, clients: int, seconds: float, warmup: int) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as http:
        for i in range(warmup):  # model load, allocator warm
            path, body = request_for(target, text_for(i, random.Random(i)))
            (await http.post(path, json=body)).raise_for_status()
        out = {"ttfb": [], "total": [], "bytes": 0, "errors": 0, "rejected": 0, "error_kinds": set()}
        start = time.monotonic()
        stop_at = start + seconds
        await asyncio.gather(*(client(target, http, stop_at, s + 1, out) for s in range(clients)))
        wall = time.monotonic() - start
    ok = len(out["ttfb"])
    return {
        "target": label,
        "clients": clients,
        "seconds": round(wall, 1),
        "requests_ok": ok,
        "requests_per_s": round(ok / wall, 2),
        "rejected_429": out["rejected"],
        "errors": out["errors"],
        "error_kinds": sorted(out["error_kinds"]),
        "ttfb_p50_ms": round(pct(out["ttfb"], 50) * 1000, 1),
        "ttfb_p95_ms": round(pct(out["ttfb"], 95) * 1000, 1),
        "ttfb_p99_ms": round(pct(out["ttfb"], 99) * 1000, 1),
        "total_p50_ms": round(pct(out["total"], 50) * 1000, 1),
        "mean_response_kb": round(out["bytes"] / max(ok, 1) / 1024, 1),
        "ttfb_mean_ms": round(statistics.fmean(out["ttfb"]) * 1000, 1) if ok else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=["ishowtts", "piper"], required=True)
    ap.add_argument("--label", help="name of this run in the result (default: the target)")
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", help="append the result as one JSON line to this file")
    args = ap.parse_args()
    label = args.label or args.target
    result = asyncio.run(run(args.target, label, args.url, args.clients, args.seconds, args.warmup))
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
