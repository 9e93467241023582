r"""Landauer's blowtorch in Markov form: p_1/p_2 of a four-state ring moves with r_34.

The seed's chain (`jaxneq.models.four_state_chain`): ring 1-2-3-4-1, unit rates both ways
except the jump 3 -> 4. No rate into or out of states 1 and 2 depends on $r_{34}$, yet
$p_1/p_2 = 2(r_{34}+1)/(r_{34}+3)$ (tree theorem) sweeps from 2/3 to 2. The sweep is one
compiled `vmap` of `jax.value_and_grad` through `jn.markov.stationary` (implicit adjoint).

A third panel shows Landauer's original picture with Arrhenius kinetics: a ring of states in
a double-well landscape (wells A and B, barriers between them on both sides), with one slope
of one barrier heated (a blowtorch, via `jn.markov.arrhenius_edge_rates` with per-edge
temperatures). The energies never change, yet the population ratio of the wells moves away
from its Boltzmann value. Units: k_B = 1.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

NAME = "blowtorch_chain"
TITLE = "Landauer's blowtorch in a four-state Markov chain"


def _four_state_sweep(r34):
    from ..markov import stationary
    from ..models import four_state_chain

    def ratio(r):
        p = stationary(four_state_chain(r))
        return p[0] / p[1]

    return jax.jit(jax.vmap(jax.value_and_grad(ratio)))(r34)


def _ring_landscape(n):
    """A double well on a ring of n states: wells at n/4 and 3n/4, barriers at 0 and n/2."""
    x = 2 * np.pi * np.arange(n) / n
    energy = 2.0 * np.cos(2 * x) + 0.3 * np.sin(x)  # slightly tilted so the wells differ
    i = np.arange(n)
    src = np.concatenate([i, (i + 1) % n])
    dst = np.concatenate([(i + 1) % n, i])
    barrier = np.maximum(energy[src], energy[dst]) + 0.5
    # link k joins states k and k+1 (mod n); heat the slope from the far barrier top (state
    # 0) down to well A (state n/4): links 0 .. n/4 - 1. Nothing next to A's or B's well
    # bottom (other than this slope) changes.
    link = np.minimum(src, dst) + (np.abs(src - dst) > 1) * (n - 1)
    hot = link < n // 4
    return energy, src, dst, barrier, hot


def _ring_sweep(t_hot, n):
    from ..markov import arrhenius_edge_rates, stationary

    energy, src, dst, barrier, hot = _ring_landscape(n)
    a, b = n // 4, 3 * n // 4

    def ratio(t):
        temperature = jnp.where(jnp.asarray(hot), t, jnp.ones((), t.dtype))
        p = stationary(arrhenius_edge_rates(src, dst, energy, barrier, temperature))
        return p[a] / p[b]

    return jax.jit(jax.vmap(jax.value_and_grad(ratio)))(t_hot), np.exp(-(energy[a] - energy[b]))


def run(out_dir: pathlib.Path, quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtype = jnp.result_type(float)
    r34 = jnp.logspace(-2, 2, 41 if quick else 401, dtype=dtype)
    ratio, grad = _four_state_sweep(r34)
    exact_ratio = 2 * (r34 + 1) / (r34 + 3)
    exact_grad = 4 / (r34 + 3) ** 2

    n_ring = 16 if quick else 32
    t_hot = jnp.linspace(1.0, 6.0, 11 if quick else 51, dtype=dtype)
    (ring_ratio, ring_grad), boltzmann_ratio = _ring_sweep(t_hot, n_ring)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    ax.semilogx(r34, ratio, lw=2, label="jaxneq stationary")
    ax.semilogx(r34[::4], exact_ratio[::4], "k.", label=r"tree theorem $2(r+1)/(r+3)$")
    ax.axhline(1.0, color="gray", lw=0.5)
    ax.set(xlabel=r"$r_{34}$", ylabel=r"$p_1/p_2$", title="four-state ring: ratio")
    ax.legend()
    ax = axes[1]
    ax.loglog(r34, grad, lw=2, label="autodiff (implicit adjoint)")
    ax.loglog(r34[::4], exact_grad[::4], "k.", label=r"$4/(r+3)^2$")
    ax.set(xlabel=r"$r_{34}$", ylabel=r"$d(p_1/p_2)/dr_{34}$", title="its gradient")
    ax.legend()
    ax = axes[2]
    ax.plot(t_hot, ring_ratio, lw=2, label="heated slope")
    ax.axhline(boltzmann_ratio, color="gray", ls="--", label="Boltzmann (no torch)")
    ax.set(
        xlabel=r"$T$ of the heated slope",
        ylabel=r"$p_A/p_B$",
        title=f"Arrhenius ring, {n_ring} states",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "blowtorch_chain.png", dpi=120)
    plt.close(fig)

    at_one = int(jnp.argmin(jnp.abs(r34 - 1.0)))
    return {
        "dtype": str(jnp.dtype(dtype)),
        "p1_over_p2_at_r34_0.01": float(ratio[0]),
        "p1_over_p2_at_r34_1": float(ratio[at_one]),
        "p1_over_p2_at_r34_100": float(ratio[-1]),
        "dratio_dr34_at_r34_1": float(grad[at_one]),
        "max_rel_err_ratio_vs_tree_theorem": float(jnp.max(jnp.abs(ratio / exact_ratio - 1))),
        "max_rel_err_grad_vs_tree_theorem": float(jnp.max(jnp.abs(grad / exact_grad - 1))),
        "ring_pA_over_pB_cold": float(ring_ratio[0]),
        "ring_pA_over_pB_boltzmann": float(boltzmann_ratio),
        "ring_pA_over_pB_hottest": float(ring_ratio[-1]),
        "ring_dratio_dT_at_T1": float(ring_grad[0]),
    }
