"""Stationary-solver benchmark: jaxneq against scipy/NumPy LAPACK (and deeptime if installed).

    python benchmarks/stationary.py --quick      # < 3 minutes on 2 CPU cores

Prints ONE JSON object. Times are best-of-k wall clock after a warm-up call (compilation
excluded), peers run in the same process on the same inputs, all in float64:

- `gth_over_lapack_n1024`: jaxneq GTH / scipy LU (lu_factor + lu_solve of the bordered
  system, build included) on a dense random chain of 1024 states.
- `vmap_speedup_4096x16`: a Python loop of scipy solves over 4096 chains of 16 states /
  one vmapped jaxneq call; the MEDIAN over ten runs (each: best of 10 vmapped calls, best
  of 3 loops), with the min and max in `details`.
- `grad_over_forward_n256`: jax.grad of a loss of the GTH stationary state / the forward
  solve alone, 256 states.
- `lu_grad_over_forward_n512`: the same for method="lu" at 512 states: the adjoint reuses
  the LU factors (one transposed solve, O(n^2)), so the ratio stays near 1 (a second
  factorisation would make it >= 2).
- `krylov_over_scipy_spsolve_n65536`: jaxneq Krylov / scipy spsolve (SuperLU, one state
  pinned, matrix assembly from the edge list included) on a 256 x 256 grid chain (driven
  double well, Scharfetter–Gummel rates). The Krylov solver gets its structure-only plan
  (`krylov_plan`, built once per graph on the host, timed separately as `plan_s`).
- `stiff_max_rel_err`: max entrywise relative error on a birth–death chain whose stationary
  probabilities span 1 to 1e-250, for jaxneq GTH and each peer, against the closed form.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_ROOT, "jaxneq")) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)  # run from a checkout without installing

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg as sl  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spl  # noqa: E402

import jaxneq as jn  # noqa: E402


def best_time(fn, repeats):
    """Best wall-clock time of fn() over `repeats` calls, after one warm-up call."""
    jax.block_until_ready(fn())
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def random_rates(rng, n, batch=None):
    shape = (n, n) if batch is None else (batch, n, n)
    r = rng.exponential(size=shape)
    idx = np.arange(n)
    r[..., idx, idx] = 0
    return r


def scipy_lu_stationary(rates):
    """Row-replacement LU route (as in deeptime/msmtools): [Q^T, last row = ones] p = e_n."""
    n = rates.shape[0]
    q = rates - np.diag(rates.sum(axis=1))
    a = q.T.copy()
    a[-1] = 1.0
    e = np.zeros(n)
    e[-1] = 1.0
    return sl.lu_solve(sl.lu_factor(a, check_finite=False), e, check_finite=False)


def numpy_eig_stationary(rates):
    q = rates - np.diag(rates.sum(axis=1))
    w, v = np.linalg.eig(q.T)
    p = np.real(v[:, np.argmin(np.abs(w))])
    return p / p.sum()


def scipy_spsolve_stationary(src, dst, rate, n):
    r = sp.csr_matrix((rate, (src, dst)), shape=(n, n))
    qt = (r - sp.diags(np.asarray(r.sum(axis=1)).ravel())).T.tocsr()
    a = qt[: n - 1, : n - 1].tocsc()
    b = -qt[: n - 1, n - 1].toarray().ravel()
    p = np.append(spl.spsolve(a, b), 1.0)
    return p / p.sum()


def bench_gth_vs_lapack(rng, repeats):
    rates = random_rates(rng, 1024)
    r = jnp.asarray(rates)
    solve = jax.jit(lambda r: jn.markov.stationary(r, method="gth"))
    t_gth = best_time(lambda: solve(r), repeats)
    t_lu = best_time(lambda: scipy_lu_stationary(rates), repeats)
    err = float(np.max(np.abs(np.asarray(solve(r)) - scipy_lu_stationary(rates))))
    return t_gth / t_lu, {"gth_s": t_gth, "scipy_lu_s": t_lu, "max_abs_diff": err}


def bench_vmap(rng, repeats, runs=10):
    """Median (and min/max) over `runs` runs of: scipy loop (best of 3) / vmap (best of 10).

    One call takes only ms here, so each run's ratio is at the mercy of scheduler noise:
    the key is the median of the runs, not the best.
    """
    rates = random_rates(rng, 16, batch=4096)
    r = jnp.asarray(rates)
    solve = jax.jit(jax.vmap(lambda r: jn.markov.stationary(r)))
    t_compile = time.perf_counter()
    jax.block_until_ready(solve(r))
    t_compile = time.perf_counter() - t_compile

    def loop():
        return [scipy_lu_stationary(rates[i]) for i in range(rates.shape[0])]

    ratios, t_vmaps, t_loops = [], [], []
    for _ in range(runs):
        t_vmap = best_time(lambda: solve(r), max(10, repeats))
        t_loop = best_time(loop, max(3, repeats // 2))
        ratios.append(t_loop / t_vmap)
        t_vmaps.append(t_vmap)
        t_loops.append(t_loop)
    err = float(np.max(np.abs(np.asarray(solve(r)) - np.stack(loop()))))
    return float(np.median(ratios)), {
        "runs": runs,
        "ratio_median": float(np.median(ratios)),
        "ratio_min": float(np.min(ratios)),
        "ratio_max": float(np.max(ratios)),
        "vmap_s_median": float(np.median(t_vmaps)),
        "scipy_loop_s_median": float(np.median(t_loops)),
        "first_call_s": t_compile,
        "max_abs_diff": err,
    }


def bench_grad(rng, repeats, method="gth", n=256):
    r = jnp.asarray(random_rates(rng, n))
    weights = jnp.asarray(rng.normal(size=n))

    def loss(r):
        return jnp.dot(weights, jn.markov.stationary(r, method=method))

    forward = jax.jit(loss)
    grad = jax.jit(jax.grad(loss))
    t_fwd = best_time(lambda: forward(r), repeats)
    t_grad = best_time(lambda: grad(r), repeats)
    return t_grad / t_fwd, {"forward_s": t_fwd, "grad_s": t_grad}


def grid_chain_256():
    x = np.linspace(-1.5, 1.5, 256)
    X, Y = np.meshgrid(x, x, indexing="ij")
    potential = 2.0 * ((X**2 - 1) ** 2 + (Y**2 - 1) ** 2 + 0.25 * X * Y)
    drive = np.stack([-Y, X], axis=-1)
    return jn.models.grid_chain(
        jnp.asarray(potential), spacing=x[1] - x[0], drive=jnp.asarray(drive)
    )


def bench_krylov(repeats):
    chain = grid_chain_256()
    n = chain.n_states
    src, dst, rate = (np.asarray(a) for a in (chain.src, chain.dst, chain.rate))

    from jaxneq.markov._krylov import krylov_plan, krylov_stationary

    t_plan = time.perf_counter()
    plan = krylov_plan(src, dst, n)  # structure only (host, once per graph)
    t_plan = time.perf_counter() - t_plan

    @jax.jit
    def solve(src, dst, rate):
        return krylov_stationary(jn.markov.EdgeRates(src, dst, rate, n), plan=plan)

    t_compile = time.perf_counter()
    jax.block_until_ready(solve(chain.src, chain.dst, chain.rate))
    t_compile = time.perf_counter() - t_compile
    t_krylov = best_time(lambda: solve(chain.src, chain.dst, chain.rate), repeats)
    t_scipy = best_time(lambda: scipy_spsolve_stationary(src, dst, rate, n), repeats)
    ref = scipy_spsolve_stationary(src, dst, rate, n)
    p = np.asarray(solve(chain.src, chain.dst, chain.rate))
    _, info = jax.jit(lambda c: krylov_stationary(c, plan=plan, return_info=True))(chain)
    return t_krylov / t_scipy, {
        "krylov_s": t_krylov,
        "scipy_spsolve_s": t_scipy,
        "first_call_s": t_compile,
        "plan_s": t_plan,
        "iterations": int(info.iterations),
        "max_rel_diff": float(np.max(np.abs(p - ref) / ref)),
        "p_min": float(ref.min()),
    }


def bench_stiff():
    """Birth–death chain, p_{i+1}/p_i = 10^(-250/(n-1)): p spans 1 to 1e-250."""
    n = 100
    log_ratio = -250.0 / (n - 1) * np.log(10.0)
    up = np.full(n - 1, 1.0)
    down = up * np.exp(-log_ratio)
    rates = np.zeros((n, n))
    rates[np.arange(n - 1), np.arange(1, n)] = up
    rates[np.arange(1, n), np.arange(n - 1)] = down
    log_p = log_ratio * np.arange(n)
    exact = np.exp(log_p - np.logaddexp.reduce(log_p))

    def max_rel(p):
        p = np.asarray(p, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(p - exact) / exact
        return float(np.nanmax(np.where(np.isfinite(rel), rel, np.inf)))

    errors = {
        "jaxneq_gth": max_rel(jn.markov.stationary(jnp.asarray(rates), method="gth")),
        "numpy_eig": max_rel(numpy_eig_stationary(rates)),
        "scipy_lu_row_replacement": max_rel(scipy_lu_stationary(rates)),
    }
    try:
        import deeptime.markov.tools.analysis as dta

        q = rates - np.diag(rates.sum(axis=1))
        errors["deeptime"] = max_rel(dta.stationary_distribution(q))
    except Exception:  # deeptime is optional; absent or failing -> not reported
        pass
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (< 3 minutes)")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()[0]  # the ratios move with other work on the machine
    t0 = time.perf_counter()
    gth_ratio, gth_info = bench_gth_vs_lapack(rng, repeats)
    vmap_ratio, vmap_info = bench_vmap(rng, repeats)
    grad_ratio, grad_info = bench_grad(rng, repeats)
    lu_grad_ratio, lu_grad_info = bench_grad(rng, max(3, repeats), method="lu", n=512)
    krylov_ratio, krylov_info = bench_krylov(repeats)
    result = {
        "gth_over_lapack_n1024": gth_ratio,
        "vmap_speedup_4096x16": vmap_ratio,
        "grad_over_forward_n256": grad_ratio,
        "lu_grad_over_forward_n512": lu_grad_ratio,
        "krylov_over_scipy_spsolve_n65536": krylov_ratio,
        "stiff_max_rel_err": bench_stiff(),
        "details": {
            "gth_n1024": gth_info,
            "vmap_4096x16": vmap_info,
            "grad_n256": grad_info,
            "lu_grad_n512": lu_grad_info,
            "krylov_n65536": krylov_info,
        },
        "machine": {
            "name": f"{os.cpu_count()}-core {platform.machine()} CPU",
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "jax_backend": jax.default_backend(),
            "jax": jax.__version__,
            "cpu_count": os.cpu_count(),
            "load_average_1min_before_after": [load_before, os.getloadavg()[0]],
        },
        "quick": args.quick,
        "total_s": time.perf_counter() - t0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
