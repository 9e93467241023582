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
import numpy as np

from . import _figures

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
        # LU: a 16-64-state ring is well conditioned, and LU compiles in a few seconds under
        # vmap(value_and_grad) where GTH takes ~30 s (measured at n = 16)
        p = jn.markov.stationary(jn.models.blowtorch_ring(t, n), method="lu")
        return p[a] / p[b]

    energy = jn.models.blowtorch_ring_energies(n)
    boltzmann = jnp.exp(-(energy[a] - energy[b]))  # the ratio at one temperature
    return jax.jit(jax.vmap(jax.value_and_grad(ratio)))(t_hot), boltzmann


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:

    from ._table import concurrently, size, stage

    say = stage(progress)
    dtype = jnp.result_type(float)
    r34 = jnp.logspace(-2, 2, size(quick, full, 41, 401, 4001), dtype=dtype)
    n_ring = size(quick, full, 16, 32, 64)
    t_hot = jnp.linspace(1.0, 6.0, size(quick, full, 11, 51, 201), dtype=dtype)
    say(
        0.0,
        "at once: four-state ring and Arrhenius ring with a heated slope, "
        "vmap of value_and_grad through stationary",
    )
    ((ratio, grad), (exact_ratio, exact_grad)), ((ring_ratio, ring_grad), boltzmann_ratio) = (
        concurrently(lambda: _four_state_sweep(r34), lambda: _ring_sweep(t_hot, n_ring))
    )
    # NumPy from here on: eager JAX would compile every small operation
    r34, ratio, grad, exact_ratio, exact_grad, t_hot, ring_ratio, ring_grad = (
        np.asarray(a)
        for a in (r34, ratio, grad, exact_ratio, exact_grad, t_hot, ring_ratio, ring_grad)
    )
    boltzmann_ratio = np.asarray(boltzmann_ratio)
    err_ratio = float(np.max(np.abs(ratio / exact_ratio - 1)))
    err_grad = float(np.max(np.abs(grad / exact_grad - 1)))

    r = {
        "dtype": dtype,
        "r34": r34,
        "ratio": ratio,
        "grad": grad,
        "exact_ratio": exact_ratio,
        "exact_grad": exact_grad,
        "t_hot": t_hot,
        "ring_ratio": ring_ratio,
        "ring_grad": ring_grad,
        "boltzmann_ratio": boltzmann_ratio,
        "err_ratio": err_ratio,
        "err_grad": err_grad,
        "n_ring": n_ring,
    }
    say(0.8, "figure")
    _figure(out_dir, r)
    say(1.0, "done")
    return _numbers(r)


def _figure(out_dir, r):
    """Solver and autodiff against the tree theorem; the heated ring against Boltzmann."""
    from jaxneq import plot

    dtype, r34, ratio, grad = r["dtype"], r["r34"], r["ratio"], r["grad"]
    exact_ratio, exact_grad, t_hot = r["exact_ratio"], r["exact_grad"], r["t_hot"]
    ring_ratio, boltzmann_ratio = r["ring_ratio"], r["boltzmann_ratio"]
    err_ratio, err_grad, n_ring = r["err_ratio"], r["err_grad"], r["n_ring"]
    fig, axes = plot.panels(
        3,
        title=(
            f"Solver and autodiff slope agree with the tree theorem (largest relative error "
            f"{max(err_ratio, err_grad):.0e}, {jnp.dtype(dtype)}); heating one slope of a ring "
            "moves $p_A/p_B$ off Boltzmann"
        ),
    )
    plot.estimates(
        r34,
        ratio,
        exact=(r34, exact_ratio),
        ax=axes[0],
        label="jaxneq.markov.stationary",
        exact_label=r"tree theorem $2(r+1)/(r+3)$",
        xlabel=r"rate $r_{34}$ (1 / time)",
        ylabel=r"$p_1/p_2$",
        xscale="log",
        fmt=".",
        title="four-state ring",
    )
    plot.estimates(
        r34,
        grad,
        exact=(r34, exact_grad),
        ax=axes[1],
        label="autodiff (implicit adjoint)",
        exact_label=r"tree theorem $4/(r+3)^2$",
        xlabel=r"rate $r_{34}$ (1 / time)",
        ylabel=r"$d(p_1/p_2)/dr_{34}$ (time)",
        xscale="log",
        yscale="log",
        fmt=".",
        title="its gradient",
    )
    plot.estimates(
        t_hot,
        ring_ratio,
        exact=(t_hot, np.full_like(t_hot, boltzmann_ratio)),
        ax=axes[2],
        label="heated slope",
        exact_label="Boltzmann (no torch)",
        xlabel=r"temperature of the heated slope ($k_B = 1$, energy units)",
        ylabel=r"$p_A/p_B$",
        fmt=".-",
        title=f"Arrhenius ring of {n_ring} states",
    )
    _figures.save(fig, out_dir / f"{NAME}.png")


def _numbers(r) -> dict:
    """The flat numbers the tests check and the table."""
    from ._table import row

    dtype, r34, ratio, grad = r["dtype"], r["r34"], r["ratio"], r["grad"]
    exact_ratio, exact_grad, t_hot = r["exact_ratio"], r["exact_grad"], r["t_hot"]
    ring_ratio, ring_grad, boltzmann_ratio = r["ring_ratio"], r["ring_grad"], r["boltzmann_ratio"]
    err_ratio, err_grad, n_ring = r["err_ratio"], r["err_grad"], r["n_ring"]

    at_one = int(np.argmin(np.abs(r34 - 1.0)))
    tree = "tree theorem (closed form)"
    table = [
        row("p1/p2 at r34 = 0.01", ratio[0], None, exact_ratio[0], tree),
        row("p1/p2 at r34 = 100", ratio[-1], None, exact_ratio[-1], tree),
        row("d(p1/p2)/dr34 at r34 = 1", grad[at_one], None, exact_grad[at_one], tree, "time"),
        row(
            f"ring p_A/p_B, T = {float(t_hot[0]):g} everywhere",
            ring_ratio[0],
            None,
            boltzmann_ratio,
            "Boltzmann exp(-(E_A - E_B))",
        ),
        row(
            f"ring p_A/p_B, heated slope T = {float(t_hot[-1]):g}",
            ring_ratio[-1],
            None,
            boltzmann_ratio,
            "Boltzmann (no torch): the torch moves it",
        ),
        row("ring d(p_A/p_B)/dT at T = 1", ring_grad[0], None, None, "autodiff", "1 / energy"),
    ]
    return {
        "dtype": str(jnp.dtype(dtype)),
        "p1_over_p2_at_r34_0.01": float(ratio[0]),
        "p1_over_p2_at_r34_1": float(ratio[at_one]),
        "p1_over_p2_at_r34_100": float(ratio[-1]),
        "dratio_dr34_at_r34_1": float(grad[at_one]),
        "max_rel_err_ratio_vs_tree_theorem": err_ratio,
        "max_rel_err_grad_vs_tree_theorem": err_grad,
        "ring_pA_over_pB_cold": float(ring_ratio[0]),
        "ring_pA_over_pB_boltzmann": float(boltzmann_ratio),
        "ring_rel_err_cold_vs_boltzmann": float(abs(ring_ratio[0] / boltzmann_ratio - 1)),
        "ring_states": n_ring,
        "ring_pA_over_pB_hottest": float(ring_ratio[-1]),
        "ring_dratio_dT_at_T1": float(ring_grad[0]),
        "table": table,
    }
