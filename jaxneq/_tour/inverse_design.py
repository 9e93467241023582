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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import _figures

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
    params, (values, raw_amplitudes, centres) = _adam(x, n_steps, learning_rate)
    history = np.stack([values, raw_amplitudes, centres], -1).tolist()
    return params, [tuple(h) for h in history]


@eqx.filter_jit
def _adam(x, n_steps, learning_rate):
    """The Adam steps as one compiled scan."""
    import optax

    def loss(params):
        return (left_population(params, x) - TARGET) ** 2

    optimiser = optax.adam(learning_rate)

    def update(carry, _):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), (value, *params)

    params = (jnp.asarray(0.0, x.dtype), jnp.asarray(0.2, x.dtype))  # a = log 2, right of 0
    carry, history = jax.lax.scan(update, (params, optimiser.init(params)), None, length=n_steps)
    return carry[0], history


@jax.jit
def _fitted(x, params):
    """Amplitude, centre, stationary laws before and after, the fitted temperature and
    Boltzmann's law (one compiled call)."""
    import jaxneq as jn

    amplitude, centre = jax.nn.softplus(params[0]), params[1]
    p_start = jn.markov.stationary(jn.models.blowtorch_double_well_chain(x, 0.0, 0.0))
    p_end = jn.markov.stationary(
        jn.models.blowtorch_double_well_chain(x, amplitude, centre, width=WIDTH)
    )
    temperature = jn.models.hot_spot_temperature(x, amplitude, centre, width=WIDTH)
    # Boltzmann at uniform T = 1 with the chain's energies E = 4 (x^2 - 1)^2 (its docstring)
    boltzmann = jax.nn.softmax(-4.0 * (x**2 - 1.0) ** 2)
    left = [jnp.sum(jnp.where(x < 0, p, 0.0)) for p in (p_start, p_end, boltzmann)]
    return amplitude, centre, p_start, p_end, temperature, boltzmann, left


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:

    from ._table import size, stage

    say = stage(progress)
    x = jnp.linspace(-1.6, 1.6, 41)
    n_steps = size(quick, full, 150, 400, 400)
    say(0.0, f"Adam through the stationary solver: {n_steps} steps")
    params, history = design(x, n_steps=n_steps)
    fitted = _fitted(x, params)
    amplitude, centre, p_start, p_end, temperature, boltzmann, left = fitted
    left_start, left_end, left_boltzmann = (float(v) for v in left)

    r = {
        "x": x,
        "p_start": p_start,
        "p_end": p_end,
        "temperature": temperature,
        "boltzmann": boltzmann,
        "history": history,
        "left_end": left_end,
        "amplitude": amplitude,
        "centre": centre,
        "left_start": left_start,
        "left_boltzmann": left_boltzmann,
    }
    say(0.9, "figure")
    _figure(out_dir, r)
    say(1.0, "done")
    return _numbers(r)


def _figure(out_dir, r):
    """The optimisation trace and the designed steady state."""
    from jaxneq import plot

    x, p_start, p_end, temperature = r["x"], r["p_start"], r["p_end"], r["temperature"]
    boltzmann, history, left_end = r["boltzmann"], r["history"], r["left_end"]
    amplitude, centre = r["amplitude"], r["centre"]
    edges = jnp.concatenate([x - 0.04, x[-1:] + 0.04])  # lattice sites as cells of width 0.08
    fig, axes = plot.panels(
        3,
        title=(
            f"Adam places a hot spot: the left well holds {left_end:.3f} (target {TARGET}); "
            "without it the solver gives Boltzmann"
        ),
    )
    plot.estimates(
        x,
        p_start,
        exact=boltzmann,
        ax=axes[0],
        label="stationary, uniform T",
        exact_label="Boltzmann",
        xlabel="lattice site x (length)",
        ylabel="stationary probability",
        fmt=".",
    )
    plot.density_map(
        p_end,
        edges=edges,
        ax=axes[0],
        label="stationary, fitted blowtorch",
        xlabel="lattice site x (length)",
        ylabel="stationary probability",
    )
    plot.density_map(
        temperature,
        edges=edges,
        ax=axes[1],
        label="fitted T(x)",
        xlabel="lattice site x (length)",
        ylabel="temperature T (energy units)",
        title=f"hot spot: amplitude {float(amplitude):.2f} at x = {float(centre):.2f}",
    )
    plot.optimisation_trace(
        [h[0] for h in history],
        ax=axes[2],
        log=True,
        xlabel="Adam step",
        ylabel=r"loss $(P_\mathrm{left} - 0.9)^2$",
    )
    _figures.save(fig, out_dir / f"{NAME}.png")


def _numbers(r) -> dict:
    """The flat numbers the tests check and the table."""
    from ._table import row

    left_start, left_end, left_boltzmann = r["left_start"], r["left_end"], r["left_boltzmann"]
    amplitude, centre, history = r["amplitude"], r["centre"], r["history"]

    table = [
        row(
            "left well, uniform T",
            left_start,
            None,
            left_boltzmann,
            "Boltzmann exp(-E/T)",
        ),
        row("left well, fitted blowtorch", left_end, None, TARGET, "design target"),
        row("blowtorch amplitude", amplitude, None, None, "fitted", "energy"),
        row("blowtorch centre", centre, None, None, "fitted", "length"),
    ]
    return {
        "target_left_population": TARGET,
        "left_population_start": left_start,
        "left_population_fitted": left_end,
        "blowtorch_amplitude": float(amplitude),
        "blowtorch_centre": float(centre),
        "final_loss": history[-1][0],
        "adam_steps": len(history),
        "table": table,
    }
