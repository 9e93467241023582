r"""Landauer's blowtorch in Markov form: p_1/p_2 of a four-state ring moves with r_34.

The seed's chain (`jaxneq.models.four_state_chain`, exact values from
`jaxneq.models.four_state_stationary`): ring 1-2-3-4-1, unit rates both ways
except the jump 3 -> 4. No rate into or out of states 1 and 2 depends on $r_{34}$, yet
$p_1/p_2 = 2(r_{34}+1)/(r_{34}+3)$ (tree theorem) sweeps from 2/3 to 2. The sweep is one
compiled `vmap` of `jax.value_and_grad` through `jn.markov.stationary` (implicit adjoint).

A third panel shows Landauer's original picture with Arrhenius kinetics: a ring of states in
a double-well landscape (wells A and B, barriers between them on both sides), with one slope
of one barrier heated (a blowtorch, via `jn.markov.arrhenius_edge_rates` with per-edge
temperatures; the model is `jaxneq.models.blowtorch_ring`). The energies never change,
yet the population ratio of the wells moves away from its Boltzmann value. Units: k_B = 1.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp

NAME = "blowtorch_chain"
TITLE = "Landauer's blowtorch in a four-state Markov chain"


def _four_state_sweep(r34):
    import jaxneq as jn

    def ratio(r):
        p = jn.markov.stationary(jn.models.four_state_chain(r))
        return p[0] / p[1]

    def exact_ratio(r):
        p = jn.models.four_state_stationary(r)
        return p[0] / p[1]

    sweep = jax.jit(jax.vmap(jax.value_and_grad(ratio)))
    exact = jax.jit(jax.vmap(jax.value_and_grad(exact_ratio)))
    return sweep(r34), exact(r34)


def _ring_sweep(t_hot, n):
    import jaxneq as jn

    a, b = n // 4, 3 * n // 4

    def ratio(t):
        p = jn.markov.stationary(jn.models.blowtorch_ring(t, n))
        return p[a] / p[b]

    energy = jn.models.blowtorch_ring_energies(n)
    boltzmann = jnp.exp(-(energy[a] - energy[b]))  # the ratio at one temperature
    return jax.jit(jax.vmap(jax.value_and_grad(ratio)))(t_hot), boltzmann


def run(out_dir: pathlib.Path, quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtype = jnp.result_type(float)
    r34 = jnp.logspace(-2, 2, 41 if quick else 401, dtype=dtype)
    (ratio, grad), (exact_ratio, exact_grad) = _four_state_sweep(r34)

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
        "ring_rel_err_cold_vs_boltzmann": float(abs(ring_ratio[0] / boltzmann_ratio - 1)),
        "ring_states": n_ring,
        "ring_pA_over_pB_hottest": float(ring_ratio[-1]),
        "ring_dratio_dT_at_T1": float(ring_grad[0]),
    }
