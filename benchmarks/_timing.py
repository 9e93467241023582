"""Timing helpers shared by the benchmark scripts (run as `python benchmarks/NAME.py`, so
this folder is on `sys.path`)."""

import sys
import time

import numpy as np


def log(*args):
    """Progress to stderr, so stdout stays one JSON object."""
    print(*args, file=sys.stderr, flush=True)


def best_round_robin(fns, repeats):
    """Best wall time of each callable over `repeats` rounds, run in turn within each round
    (so load from other processes hits every contender alike); returns (times, outputs)."""
    best = [np.inf] * len(fns)
    outs = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best, outs
