"""Free-energy estimators benchmark: jaxneq.thermo BAR and MBAR against pymbar, same data.

Data (units: k_B = 1, reduced potentials): harmonic traps of stiffness k_i at T = 1, exact
equilibrium samples.

- `bar_*`: forward/reverse work of the stiffness change 1 -> 2, `--bar-n` samples each way;
  `jaxneq.thermo.bar` (jitted, compiled before timing) against
  `pymbar.other_estimators.bar` on the same arrays.
- `mbar_*`: K = 10 traps, `u_kn` of shape [10, N] with N = `--mbar-n` samples in total (N/10
  from each state, the pymbar convention); `jaxneq.thermo.mbar` against
  `pymbar.MBAR(u_kn, n_k).compute_free_energy_differences()` (construction included: that is
  where pymbar solves).
- `batch_*`: 1024 independent BAR problems of `--batch-n` samples each way: one
  `jax.vmap(jaxneq.thermo.bar)` call against a Python loop over pymbar.

Each case reports the best of `--repeats` wall times after a warm-up, the two timed
round-robin so that load from other processes hits them alike, and the largest difference
between the two results (values and standard errors). pymbar switches JAX to float64 when it
is imported; the whole benchmark therefore runs in float64 (as pymbar computes).

    python benchmarks/thermo.py --quick     # CPU, about a minute; ONE JSON object on stdout

Targets (issue 10): bar_speedup_vs_pymbar >= 1 and mbar_speedup_vs_pymbar >= 1 on a CPU,
batch_speedup_vs_pymbar_loop >= 20.
"""

from __future__ import annotations

import argparse
import json

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _timing import best_round_robin as _best_round_robin, log as _log  # noqa: E402

import jaxneq as jn  # noqa: E402


def _work(rng, n, k0=1.0, k1=2.0):
    x0 = rng.normal(0.0, 1 / np.sqrt(k0), n)
    x1 = rng.normal(0.0, 1 / np.sqrt(k1), n)
    return 0.5 * (k1 - k0) * x0**2, 0.5 * (k0 - k1) * x1**2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small repeats (CPU, ~1 min)")
    parser.add_argument("--bar-n", type=int, default=100_000)
    parser.add_argument("--mbar-n", type=int, default=100_000)
    parser.add_argument("--batch-n", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    import pymbar  # noqa: PLC0415  (switches JAX to float64, see the docstring)

    rng = np.random.default_rng(0)
    out = {"device": jax.devices()[0].platform, "repeats": repeats}

    # --- BAR
    w_f, w_r = _work(rng, args.bar_n)
    bar = jax.jit(jn.thermo.bar)
    jw_f, jw_r = jnp.asarray(w_f), jnp.asarray(w_r)
    jax.block_until_ready(bar(jw_f, jw_r))
    pymbar.other_estimators.bar(w_f, w_r)
    _log("timing BAR")
    (t_ours, t_ref), (ours, ref) = _best_round_robin(
        [
            lambda: jax.block_until_ready(bar(jw_f, jw_r)),
            lambda: pymbar.other_estimators.bar(w_f, w_r),
        ],
        repeats,
    )
    out.update(
        bar_n_per_direction=args.bar_n,
        bar_seconds=t_ours,
        bar_pymbar_seconds=t_ref,
        bar_speedup_vs_pymbar=t_ref / t_ours,
        bar_max_abs_diff=max(
            abs(float(ours.value) - ref["Delta_f"]), abs(float(ours.stderr) - ref["dDelta_f"])
        ),
    )

    # --- MBAR
    k = 10
    stiffness = np.linspace(1.0, 3.0, k)
    n_k = np.full(k, args.mbar_n // k)
    x = np.concatenate(
        [rng.normal(0, 1 / np.sqrt(s), n) for s, n in zip(stiffness, n_k, strict=True)]
    )
    u_kn = 0.5 * stiffness[:, None] * x[None, :] ** 2
    mbar = jax.jit(jn.thermo.mbar)
    ju, jn_k = jnp.asarray(u_kn), jnp.asarray(n_k)
    jax.block_until_ready(mbar(ju, jn_k))

    def ref_mbar():
        return pymbar.MBAR(u_kn, n_k).compute_free_energy_differences()

    ref_mbar()
    _log("timing MBAR")
    (t_ours, t_ref), (ours, ref) = _best_round_robin(
        [lambda: jax.block_until_ready(mbar(ju, jn_k)), ref_mbar], repeats
    )
    out.update(
        mbar_states=k,
        mbar_samples=int(n_k.sum()),
        mbar_seconds=t_ours,
        mbar_pymbar_seconds=t_ref,
        mbar_speedup_vs_pymbar=t_ref / t_ours,
        mbar_max_abs_diff=float(
            max(
                np.max(np.abs(np.asarray(ours.value) - ref["Delta_f"][0])),
                np.max(np.abs(np.asarray(ours.stderr) - ref["dDelta_f"][0])),
            )
        ),
    )

    # --- a batch of BAR problems
    pairs = [_work(rng, args.batch_n) for _ in range(args.batch)]
    bw_f = jnp.asarray(np.stack([p[0] for p in pairs]))
    bw_r = jnp.asarray(np.stack([p[1] for p in pairs]))
    batched = jax.jit(jax.vmap(jn.thermo.bar))
    jax.block_until_ready(batched(bw_f, bw_r))

    def loop():
        return [pymbar.other_estimators.bar(f, r) for f, r in pairs]

    _log("timing the batch")
    (t_ours, t_ref), (ours, ref) = _best_round_robin(
        [lambda: jax.block_until_ready(batched(bw_f, bw_r)), loop], max(1, repeats // 2)
    )
    ref_values = np.array([r["Delta_f"] for r in ref])
    out.update(
        batch_problems=args.batch,
        batch_n_per_direction=args.batch_n,
        batch_seconds=t_ours,
        batch_pymbar_loop_seconds=t_ref,
        batch_speedup_vs_pymbar_loop=t_ref / t_ours,
        batch_max_abs_diff=float(np.max(np.abs(np.asarray(ours.value) - ref_values))),
    )
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
