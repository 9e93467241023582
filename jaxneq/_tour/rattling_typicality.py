r"""Typicality of the rattling law, measured: thousands of random driven rings in one call.

Units: k_B = 1. Random rings of wells (`jaxneq.models.random_driven_ring`: Gaussian well
depths of spread 1, Gaussian barrier heights of spread $\sigma_B$, a uniform drive $f$ per
jump) are swept over a grid of $(\sigma_B, f)$, many chains per point, as ONE vmapped
computation: exact stationary law (`jaxneq.markov.stationary`), rattling $\log\lambda$
(`jaxneq.rattling.from_rates`) and the fit $\pi \approx e^{-\gamma R}/Z$
(`jaxneq.rattling.fit_gamma`). At $\sigma_B = 0$ the law is exact ($\gamma = 1$) for any
drive; barriers spread against well depths break it, and a strong drive restores it (the
embedded jump chain becomes a one-way, doubly stochastic walk).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

NAME = "rattling_typicality"
TITLE = "Rattling typicality: gamma and fit quality over thousands of random driven chains"

SEED = 0


def run(out_dir: pathlib.Path, quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jaxneq as jn

    n_states = 12 if quick else 32
    n_chains = 24 if quick else 256
    barrier_spreads = np.array([0.0, 0.5, 1.0, 2.0]) if quick else np.linspace(0.0, 3.0, 7)
    drives = np.array([0.0, 2.0, 6.0]) if quick else np.array([0.0, 1.0, 2.0, 4.0, 6.0, 10.0])
    keys = jr.split(jr.key(SEED), n_chains)

    def one(key, barrier_spread, drive):
        rates = jn.models.random_driven_ring(
            key, n_states, well_spread=1.0, barrier_spread=barrier_spread, drive=drive
        )
        p = jn.markov.stationary(rates, method="lu")  # fast to compile; GTH for extreme chains
        fit = jn.rattling.fit_gamma(p, jn.rattling.from_rates(rates))
        return fit.gamma, fit.r_squared, fit.kl

    # chains x drives x spreads: one compiled call
    sweep = jax.vmap(jax.vmap(jax.vmap(one, (0, None, None)), (None, None, 0)), (None, 0, None))
    dtype = jnp.result_type(float)
    gamma, r2, kl = jax.jit(sweep)(
        keys, jnp.asarray(barrier_spreads, dtype), jnp.asarray(drives, dtype)
    )
    gamma, r2, kl = (np.asarray(a) for a in (gamma, r2, kl))  # [spread, drive, chain]
    n_systems = gamma.size

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for k, f in enumerate(drives):
        for ax, a, label in zip(axes, (gamma, r2, kl), ("gamma", "R^2", "KL (nats)"), strict=True):
            m = a[:, k].mean(-1)
            se = a[:, k].std(-1, ddof=1) / np.sqrt(n_chains)
            ax.errorbar(barrier_spreads, m, se, fmt="o-", label=f"drive f = {f:g}")
            ax.set_xlabel("barrier spread / well-depth spread")
            ax.set_ylabel(f"mean {label}")
    axes[0].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[0].legend()
    axes[1].set_title(f"{n_systems} random driven rings of {n_states} states, one vmapped call")
    fig.savefig(out_dir / f"{NAME}.png", dpi=120)
    plt.close(fig)

    return {
        "seed": SEED,
        "n_states": n_states,
        "n_chains_per_point": n_chains,
        "n_systems": int(n_systems),
        "barrier_spreads": barrier_spreads.tolist(),
        "drives": drives.tolist(),
        "dtype": str(gamma.dtype),
        "gamma_mean": gamma.mean(-1).tolist(),
        "gamma_stderr": (gamma.std(-1, ddof=1) / np.sqrt(n_chains)).tolist(),
        "r_squared_mean": r2.mean(-1).tolist(),
        "kl_mean": kl.mean(-1).tolist(),
    }
