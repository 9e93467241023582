r"""Design with rattling: drive a ring so that a chosen state becomes the low-rattling one.

Units: k_B = 1. A ring of wells and barriers (`jaxneq.models.driven_ring`) with a drive
$f_i$ on each link. The rattling law predicts $q = e^{-\gamma R}/Z$, with $R = \log\lambda$
(`jaxneq.rattling.from_rates`) and $\gamma$ fitted to the exact stationary law
(`jaxneq.rattling.fit_gamma` on `jaxneq.markov.stationary`, differentiable through the
implicit adjoint). Adam (optax) tunes the drives to maximise the predicted probability of a
target state, the least probable state at equilibrium; the prediction is then checked
against the exact steady state of the designed chain.
"""

from __future__ import annotations

import functools
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from . import _figures

NAME = "rattling_design"
TITLE = "Design with rattling: tune drives so that a chosen state becomes the most probable"

ENERGIES = (0.0, -0.6, 0.3, -1.0, 0.2, 0.9)
BARRIERS = (1.0, 0.4, 1.5, 0.6, 1.2, 0.8)
TARGET = 5  # the highest well: least probable at equilibrium
REGULARISATION = 1e-3  # keeps the drives finite: loss += REGULARISATION * sum(f^2)
GAMMA_MIN = 0.5  # the design must keep gamma > 0: low rattling = most probable


def _rates(drives, dtype):
    import jaxneq as jn

    return jn.models.driven_ring(jnp.asarray(ENERGIES, dtype), jnp.asarray(BARRIERS, dtype), drives)


def predicted(drives):
    """The rattling prediction $q = e^{-\\gamma R}/Z$ (gamma fitted to the exact steady
    state), the fit, and the exact steady state, for the given drives."""
    import jaxneq as jn

    rates = _rates(drives, drives.dtype)
    p = jn.markov.stationary(rates, method="lu")
    R = jn.rattling.from_rates(rates)
    fit = jn.rattling.fit_gamma(p, R)
    return jax.nn.softmax(-fit.gamma * R), fit, p


def _loss(drives):
    q, fit, _ = predicted(drives)
    # the prediction is only worth designing with while the law holds with gamma > 0:
    # the fit's own KL divergence and a barrier against gamma < GAMMA_MIN keep it so
    keep_law = fit.kl + 10.0 * jax.nn.relu(GAMMA_MIN - fit.gamma) ** 2
    return -jnp.log(q[TARGET]) + keep_law + REGULARISATION * jnp.sum(drives**2)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _design(n, dtype, n_steps):
    """Adam on the drives (one compiled scan); the drives, the loss along the path, the
    prediction, fit and steady state without and with the drives, and Boltzmann's law."""
    import optax

    optimiser = optax.adam(0.1)

    def update(carry, _):
        drives, opt_state = carry
        value, grad = jax.value_and_grad(_loss)(drives)
        updates, opt_state = optimiser.update(grad, opt_state, drives)
        return (optax.apply_updates(drives, updates), opt_state), value

    zero = jnp.zeros((n,), dtype)
    (drives, _), history = jax.lax.scan(update, (zero, optimiser.init(zero)), None, n_steps)
    boltzmann = jax.nn.softmax(-jnp.asarray(ENERGIES, dtype))
    return drives, history, predicted(zero), predicted(drives), boltzmann


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:

    from ._table import size, stage

    say = stage(progress)
    n = len(ENERGIES)
    dtype = jnp.result_type(float)
    n_steps = size(quick, full, 150, 600, 600)
    say(0.0, f"Adam on the drives through fit_gamma and stationary: {n_steps} steps")

    drives, history, (q0, fit0, p0), (q1, fit1, p1), boltzmann = _design(n, dtype, n_steps)
    history = np.asarray(history).tolist()
    q0, p0, q1, p1, boltzmann = (np.asarray(a) for a in (q0, p0, q1, p1, boltzmann))

    r = {
        "n": n,
        "p0": p0,
        "p1": p1,
        "history": history,
        "boltzmann": boltzmann,
        "q1": q1,
        "fit1": fit1,
        "n_steps": n_steps,
        "dtype": dtype,
        "q0": q0,
        "fit0": fit0,
        "drives": drives,
    }
    say(0.9, "figure")
    _figure(out_dir, r)
    say(1.0, "done")
    return _numbers(r)


def _figure(out_dir, r):
    """The drives' optimisation trace and the designed chain's p and R."""
    from jaxneq import plot

    n, p0, p1, history, boltzmann = r["n"], r["p0"], r["p1"], r["history"], r["boltzmann"]
    q1, fit1 = r["q1"], r["fit1"]
    fig, axes = plot.panels(
        2,
        title=(
            f"Designed drives make state {TARGET} the most probable: exact steady state "
            f"{float(p1[TARGET]):.3f} vs rattling prediction {float(q1[TARGET]):.3f} "
            f"(gamma = {float(fit1.gamma):.2f})"
        ),
    )
    states = np.arange(n)
    plot.estimates(
        states,
        p0,
        exact=boltzmann,
        ax=axes[0],
        fmt="s",
        label="exact, no drive",
        exact_label="Boltzmann exp(-E)/Z",
        xlabel="state",
        ylabel="stationary probability",
    )
    plot.estimates(
        states,
        p1,
        exact=q1,
        ax=axes[0],
        fmt="o",
        label="exact, designed drives",
        exact_label=r"rattling prediction $e^{-\gamma R}/Z$",
        xlabel="state",
        ylabel="stationary probability",
        title=f"target state {TARGET}",
    )
    plot.optimisation_trace(
        history, ax=axes[1], xlabel="Adam step", ylabel=r"loss $-\log q_\mathrm{target}$ + reg."
    )
    _figures.save(fig, out_dir / f"{NAME}.png")


def _numbers(r) -> dict:
    """The flat numbers the tests check and the table."""
    from ._table import row

    n_steps, history, p0, boltzmann = r["n_steps"], r["history"], r["p0"], r["boltzmann"]
    p1, q1, fit1, dtype, q0, fit0 = r["p1"], r["q1"], r["fit1"], r["dtype"], r["q0"], r["fit0"]
    drives = r["drives"]

    table = [
        row(
            f"p(state {TARGET}), no drive",
            p0[TARGET],
            None,
            boltzmann[TARGET],
            "Boltzmann exp(-E)/Z",
        ),
        row(
            f"p(state {TARGET}), designed drives",
            p1[TARGET],
            None,
            q1[TARGET],
            "rattling prediction exp(-gamma R)/Z",
        ),
        row("most probable state, designed", int(np.argmax(p1)), None, TARGET, "the target"),
        row("gamma of the designed chain", fit1.gamma, None, None, f"kept >= {GAMMA_MIN}"),
    ]
    return {
        "dtype": str(jnp.dtype(dtype)),
        "energies": list(ENERGIES),
        "barriers": list(BARRIERS),
        "target": TARGET,
        "n_steps": n_steps,
        "drives": np.asarray(drives).tolist(),
        "loss_first": history[0],
        "loss_last": history[-1],
        "predicted_target_before": float(q0[TARGET]),
        "exact_target_before": float(p0[TARGET]),
        "predicted_target_after": float(q1[TARGET]),
        "exact_target_after": float(p1[TARGET]),
        "exact_most_probable_after": int(np.argmax(p1)),
        "predicted_most_probable_after": int(np.argmax(q1)),
        "exact_stationary_after": p1.tolist(),
        "predicted_after": q1.tolist(),
        "gamma_before": float(fit0.gamma),
        "gamma_after": float(fit1.gamma),
        "r_squared_after": float(fit1.r_squared),
        "kl_after": float(fit1.kl),
        "table": table,
    }
