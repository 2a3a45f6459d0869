"""Deterministic synthetic weights, Python side: mirrors src/models/synthetic.rs.

Element i (row-major) of tensor `name` is `f32(offset + scale * u)`, with
`u = (mix(key + (i+1)*GOLDEN) >> 40) / 2^24 * 2 - 1` in [-1, 1) and
`key = mix(seed ^ fnv1a64(name))`, `mix` the SplitMix64 finalizer, all
arithmetic on wrapping 64-bit integers and the last step in f64. A change
here must be made in src/models/synthetic.rs too (and the fixtures
regenerated): the committed manifests only hold names, shapes, scales and
offsets.

Shared by scripts/f5_fixtures.py (the parity fixtures) and
scripts/bench_f5_reference.py (the benchmark, which must run where only
torch and numpy are installed), so it needs numpy and nothing else.
"""

import numpy as np

MASK = 2**64 - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _mix_vec(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def synth_values(name: str, shape, seed: int, scale: float, offset: float) -> np.ndarray:
    """float32 array of `shape`: element i = f32(offset + scale * u_i)."""
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    key = mix(seed ^ fnv1a64(name.encode("utf-8")))
    out = np.empty(n, dtype=np.float32)
    chunk = 1 << 22
    with np.errstate(over="ignore"):
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            i1 = np.arange(start + 1, stop + 1, dtype=np.uint64)  # i + 1
            z = np.uint64(key) + i1 * np.uint64(GOLDEN)  # wrapping uint64 arithmetic
            z = _mix_vec(z)
            u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24) * 2.0 - 1.0
            out[start:stop] = (offset + scale * u).astype(np.float32)
    return out.reshape(shape)


def self_test() -> None:
    """Raises AssertionError unless the generator is the documented one."""
    # The vectorised path equals the scalar definition.
    name, seed = "selftest.weight", 7
    key = mix(seed ^ fnv1a64(name.encode()))
    ref = []
    for i in range(5):
        z = mix((key + (i + 1) * GOLDEN) & MASK)
        u = float(z >> 40) / 2**24 * 2.0 - 1.0
        ref.append(np.float32(0.5 + 0.25 * u))
    got = synth_values(name, [5], seed, 0.25, 0.5)
    assert np.array_equal(np.array(ref, dtype=np.float32), got), (ref, got)
    # The values src/models/synthetic.rs checks for seed 0, tensor "w".
    want = np.array([-0.7990215, 0.7363733, -0.14242136, -0.81241477], dtype=np.float32)
    got = synth_values("w", [4], 0, 1.0, 0.0)
    assert np.allclose(got, want, atol=1e-7, rtol=0), got


if __name__ == "__main__":
    self_test()
    print("synthetic_weights: self-test passed")
