r"""Inverse design with a blowtorch: move a hot spot until the left well holds 90 %.

A particle hops on a 1D lattice in a symmetric double well with Arrhenius rates, heated by a
Gaussian hot spot $T_i = 1 + a\, e^{-(x_i - c)^2 / 2w^2}$ (Landauer's blowtorch; the model is
`jaxneq.models.blowtorch_double_well_chain`). At $a = 0$ the stationary state is Boltzmann
and each well holds half the probability. The amplitude $a = \mathrm{softplus}(\rho) \ge 0$
and the position $c$ are fitted by gradient descent (optax Adam) through
`jn.markov.stationary`, whose gradient is one adjoint linear solve. This module only runs the
optimisation and plots it. Units: k_B = 1.

Reference: R. Landauer, Phys. Rev. A 12, 636 (1975).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp

NAME = "inverse_design"
TITLE = "Inverse design: place a blowtorch so that the left well holds 90 %"

TARGET = 0.9
WIDTH = 0.25


def left_population(params, x):
    """Stationary probability of the left well, $\\sum_{x_i < 0} p_i$, for
    `params = (raw_amplitude, centre)` (amplitude `softplus(raw_amplitude)`)."""
    import jaxneq as jn

    raw_amplitude, centre = params
    rates = jn.models.blowtorch_double_well_chain(
        x, jax.nn.softplus(raw_amplitude), centre, width=WIDTH
    )
    p = jn.markov.stationary(rates)
    return jnp.sum(jnp.where(x < 0, p, 0.0))


def design(x, n_steps: int, learning_rate: float = 0.1):
    """Adam on $(P_\\mathrm{left} - 0.9)^2$; returns the final params and the history of
    (loss, raw_amplitude, centre)."""
    import optax

    def loss(params):
        return (left_population(params, x) - TARGET) ** 2

    optimiser = optax.adam(learning_rate)

    @jax.jit
    def update(params, opt_state):
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    params = (jnp.asarray(0.0, x.dtype), jnp.asarray(0.2, x.dtype))  # a = log 2, right of 0
    opt_state = optimiser.init(params)
    history = []
    for _ in range(n_steps):
        params, opt_state, value = update(params, opt_state)
        history.append((float(value), float(params[0]), float(params[1])))
    return params, history


def run(out_dir: pathlib.Path, quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jaxneq as jn

    x = jnp.linspace(-1.6, 1.6, 41)
    params, history = design(x, n_steps=150 if quick else 400)
    amplitude, centre = jax.nn.softplus(params[0]), params[1]
    p_start = jn.markov.stationary(jn.models.blowtorch_double_well_chain(x, 0.0, 0.0))
    p_end = jn.markov.stationary(
        jn.models.blowtorch_double_well_chain(x, amplitude, centre, width=WIDTH)
    )
    temperature = jn.models.hot_spot_temperature(x, amplitude, centre, width=WIDTH)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.plot(x, p_start, "k--", label="uniform T (Boltzmann)")
    ax1.plot(x, p_end, "C3", label="with the fitted blowtorch")
    ax1.set_xlabel("x")
    ax1.set_ylabel("stationary probability")
    ax1.legend(fontsize=8)
    twin = ax1.twinx()
    twin.plot(x, temperature, "C1:", label="T(x)")
    twin.set_ylabel("temperature", color="C1")
    ax2.semilogy([h[0] for h in history])
    ax2.set_xlabel("Adam step")
    ax2.set_ylabel(r"$(P_\mathrm{left} - 0.9)^2$")
    fig.tight_layout()
    fig.savefig(out_dir / "inverse_design.png", dpi=120)
    plt.close(fig)

    return {
        "target_left_population": TARGET,
        "left_population_start": float(jnp.sum(jnp.where(x < 0, p_start, 0.0))),
        "left_population_fitted": float(jnp.sum(jnp.where(x < 0, p_end, 0.0))),
        "blowtorch_amplitude": float(amplitude),
        "blowtorch_centre": float(centre),
        "final_loss": history[-1][0],
        "adam_steps": len(history),
    }
