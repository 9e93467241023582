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

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

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


def run(out_dir: pathlib.Path, quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optax

    n = len(ENERGIES)
    dtype = jnp.result_type(float)
    n_steps = 150 if quick else 600

    def loss(drives):
        q, fit, _ = predicted(drives)
        # the prediction is only worth designing with while the law holds with gamma > 0:
        # the fit's own KL divergence and a barrier against gamma < GAMMA_MIN keep it so
        keep_law = fit.kl + 10.0 * jax.nn.relu(GAMMA_MIN - fit.gamma) ** 2
        return -jnp.log(q[TARGET]) + keep_law + REGULARISATION * jnp.sum(drives**2)

    optimiser = optax.adam(0.1)

    @jax.jit
    def update(drives, opt_state):
        value, grad = jax.value_and_grad(loss)(drives)
        updates, opt_state = optimiser.update(grad, opt_state, drives)
        return optax.apply_updates(drives, updates), opt_state, value

    drives = jnp.zeros((n,), dtype)
    opt_state = optimiser.init(drives)
    history = []
    for _ in range(n_steps):
        drives, opt_state, value = update(drives, opt_state)
        history.append(float(value))

    q0, fit0, p0 = predicted(jnp.zeros((n,), dtype))
    q1, fit1, p1 = predicted(drives)
    q0, p0, q1, p1 = (np.asarray(a) for a in (q0, p0, q1, p1))

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    states = np.arange(n)
    ax = axes[0]
    ax.bar(states - 0.2, p0, 0.4, color="0.6", label="exact, no drive (Boltzmann)")
    ax.bar(states + 0.2, p1, 0.4, color="C3", label="exact, designed drives")
    ax.plot(states + 0.2, q1, "kx", ms=9, label="rattling prediction e^(-gamma R)/Z")
    ax.axvline(TARGET, color="C3", ls=":", lw=0.8)
    ax.set_xlabel("state")
    ax.set_ylabel("stationary probability")
    ax.set_title(f"target state {TARGET}: gamma = {float(fit1.gamma):.2f}")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(history)
    ax.set_xlabel("Adam step")
    ax.set_ylabel("-log q_target + reg.")
    fig.savefig(out_dir / f"{NAME}.png", dpi=120)
    plt.close(fig)

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
    }
