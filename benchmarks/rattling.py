"""Rattling benchmark: `from_trajectories` against NumPy, and a vmapped typicality sweep
against a Python loop over SciPy.

- `trajectories_*`: the windowed-covariance estimator (2D, window 10, `--samples` samples =
  frames x members, 20 x 20 bins) by `jaxneq.rattling.from_trajectories` (compiled before
  timing) against a vectorised NumPy implementation of the same estimator
  (`numpy.lib.stride_tricks.sliding_window_view`, chunked, `numpy.histogramdd`) on the same
  float64 array; the two results are compared bin by bin. Key `trajectories_over_numpy`:
  throughput ratio (target >= 3).
- `sweep_*`: 4096 random 32-state chains (dense rates, uniform on (0, 1)): stationary
  distribution + rattling (log exit rates) + `fit_gamma`, as one `jax.jit(jax.vmap(...))`
  call, against a Python loop that solves each chain with `scipy.linalg.solve` and fits with
  `numpy.polyfit`. Key `sweep_speedup_4096x32` (target >= 20).

Each case reports the best of `--repeats` wall times after a warm-up, timed round-robin.

    python benchmarks/rattling.py --quick     # CPU, about a minute; ONE JSON object on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
from _timing import best_round_robin as _best_round_robin, log as _log  # noqa: E402

import jaxneq as jn  # noqa: E402


def numpy_rattling_field(x, dt, window, edges, chunk=2000):
    """The estimator of `from_trajectories` (centred, anchor = window mean) in NumPy."""
    n, b, d = x.shape
    n_windows = n - window + 1
    shape = tuple(len(e) - 1 for e in edges)
    s1, n_win = np.zeros(shape), np.zeros(shape)
    scale = 1 / np.sqrt(np.arange(1, window) * dt)
    for start in range(0, n_windows, chunk):
        stop = min(start + chunk, n_windows)
        block = x[start : stop + window - 1]
        win = np.lib.stride_tricks.sliding_window_view(block, window, axis=0)  # [c, b, d, w]
        y = (win[..., 1:] - win[..., :1]) * scale
        y = y - y.mean(-1, keepdims=True)
        cov = np.einsum("cbik,cbjk->cbij", y, y) / (window - 2)
        r = 0.5 * np.linalg.slogdet(cov)[1]
        where = win.mean(-1).reshape(-1, d)
        s, _ = np.histogramdd(where, bins=edges, weights=r.ravel())
        c, _ = np.histogramdd(where, bins=edges)
        s1 += s
        n_win += c
    counts, _ = np.histogramdd(x.reshape(-1, d), bins=edges)
    with np.errstate(invalid="ignore"):
        return s1 / n_win, counts


def scipy_fit(rates):
    """Stationary law (LAPACK solve of Q^T p = 0 with one row replaced by sum p = 1),
    R = log exit rate, and the least-squares fit of log p on R with its KL divergence."""
    q = rates - np.diag(rates.sum(1))
    a = q.T.copy()
    a[-1] = 1.0
    rhs = np.zeros(len(rates))
    rhs[-1] = 1.0
    p = scipy.linalg.solve(a, rhs)
    R = np.log(rates.sum(1))
    slope, intercept = np.polyfit(R, np.log(p), 1)
    logq = slope * R
    logq -= np.log(np.exp(logq).sum())
    return -slope, np.sum(p * (np.log(p) - logq))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the sizes of the issue's keys")
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--chains", type=int, default=4096)
    parser.add_argument("--states", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    out = {"device": jax.devices()[0].platform, "jax": jax.__version__}
    out["machine"] = {  # the ratios move with other work on the machine
        "name": f"{os.cpu_count()}-core {platform.machine()} CPU",
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_before": os.getloadavg()[0],
    }

    # ---- from_trajectories against NumPy
    b = args.members
    n = args.samples // b
    window, dt = 10, 1e-3
    rng = np.random.default_rng(0)
    x = np.cumsum(np.sqrt(2 * dt) * rng.normal(size=(n, b, 2)), axis=0)
    x -= x.mean(axis=(0, 1))
    lim = float(np.abs(x).max()) * 0.5
    edges = [np.linspace(-lim, lim, 21)] * 2
    xj, edges_j = jnp.asarray(x), [jnp.asarray(e) for e in edges]
    run_jax = jax.jit(lambda y: jn.rattling.from_trajectories(y, dt, window, edges=edges_j))
    t = time.perf_counter()
    jax.block_until_ready(run_jax(xj))
    out["trajectories_first_call_s"] = time.perf_counter() - t
    _log("from_trajectories compiled")
    (t_jax, t_np), (field, ref) = _best_round_robin(
        [
            lambda: jax.block_until_ready(run_jax(xj)),
            lambda: numpy_rattling_field(x, dt, window, edges),
        ],
        args.repeats,
    )
    seen = np.asarray(field.window_counts) > 0
    out["trajectories_samples"] = n * b
    out["trajectories_jax_s"] = t_jax
    out["trajectories_numpy_s"] = t_np
    out["trajectories_samples_per_s"] = n * b / t_jax
    out["trajectories_numpy_samples_per_s"] = n * b / t_np
    out["trajectories_max_abs_diff"] = float(
        np.max(np.abs(np.asarray(field.rattling)[seen] - ref[0][seen]))
    )
    out["trajectories_over_numpy"] = t_np / t_jax
    _log("trajectories done")

    # ---- vmapped typicality sweep against a scipy loop
    rates = rng.uniform(size=(args.chains, args.states, args.states))
    rates *= 1 - np.eye(args.states)

    def one(r):
        fit = jn.rattling.fit_gamma(jn.markov.stationary(r), jn.rattling.from_rates(r))
        return fit.gamma, fit.kl

    sweep = jax.jit(jax.vmap(one))
    rj = jnp.asarray(rates)
    t = time.perf_counter()
    jax.block_until_ready(sweep(rj))
    out["sweep_first_call_s"] = time.perf_counter() - t
    _log("sweep compiled")
    (t_sweep, t_loop), (res, loop) = _best_round_robin(
        [
            lambda: jax.block_until_ready(sweep(rj)),
            lambda: np.array([scipy_fit(r) for r in rates]),
        ],
        args.repeats,
    )
    out["sweep_jax_s"] = t_sweep
    out["sweep_scipy_loop_s"] = t_loop
    out["sweep_max_abs_diff_gamma"] = float(np.max(np.abs(np.asarray(res[0]) - loop[:, 0])))
    out["sweep_speedup_4096x32"] = t_loop / t_sweep
    out["machine"]["load_average_1min_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
