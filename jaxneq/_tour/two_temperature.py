r"""Two particles in two heat baths: density, probability current and entropy production.

Two overdamped particles joined by a spring $k$, each in a trap $\lambda$ and in its own
bath ($T_1 \ne T_2$): heat flows from the hot bath to the cold one through the spring, the
steady state carries a rotating probability current in the $(r_1, r_2)$ plane, and entropy
is produced at the rate $\sigma = k^2 (T_1 - T_2)^2 / (2 T_1 T_2 (k + \lambda))$ (units:
k_B = 1). The demo simulates an ensemble started in the exact Gaussian steady state,
measures the density (`Histogram`), the current field (`CurrentField`), the entropy
production and the heat delivered to each bath along the trajectories, and compares them
with linear (Lyapunov) theory.
"""

from __future__ import annotations

import pathlib

import jax.numpy as jnp
import jax.random as jr
import numpy as np

NAME = "two_temperature"
TITLE = "Two temperatures: phase-space current and entropy production"


def _theory(k, lam, T1, T2, centres):
    """Exact Gaussian density and current J = (-A + D C^-1) x p(x) at the bin centres."""
    from ..models import linear_stationary_covariance

    A = np.array([[k + lam, -k], [-k, k + lam]])
    D = np.diag([T1, T2])
    C = np.asarray(linear_stationary_covariance(jnp.asarray(A), jnp.asarray(D)))
    G = -A + D @ np.linalg.inv(C)
    X = np.stack(np.meshgrid(centres, centres, indexing="ij"), axis=-1)
    p = np.exp(-0.5 * np.einsum("...i,ij,...j", X, np.linalg.inv(C), X))
    p /= 2 * np.pi * np.sqrt(np.linalg.det(C))
    J = np.einsum("ij,...j->...i", G, X) * p[..., None]
    circulation = (G @ C)[1, 0] - (G @ C)[0, 1]
    return p, J, float(circulation)


def run(out_dir: pathlib.Path, quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jaxneq as jn

    k, lam, T1, T2 = 1.0, 1.0, 4.0, 1.0
    b, n_steps = (1024, 1000) if quick else (8192, 5000)
    dt = 0.01
    system = jn.models.two_temperature_pair(k, lam, T1, T2)
    x0 = jn.models.linear_stationary_samples(system, jnp.zeros((2, 1)), key=jr.key(0), n=b)
    edges = jnp.linspace(-4.5, 4.5, 19)
    observables = {
        "density": jn.observables.Histogram((edges, edges), coordinates=(0, 1)),
        "current": jn.observables.CurrentField((edges, edges), coordinates=(0, 1)),
        "sigma": jn.observables.EntropyProduction(rate=True),
        "heat": jn.observables.Heat(per_dof=True, rate=True),
    }
    res = jn.langevin.simulate(
        system, x0, key=jr.key(1), dt=dt, n_steps=n_steps, observables=observables
    )
    obs = {name: np.asarray(v, dtype=np.float64) for name, v in res.observables.items()}

    sigma = obs["sigma"]
    heat = obs["heat"].reshape(b, 2)
    A, D = jn.models.linear_coefficients(system, jnp.zeros((2, 1)))
    sigma_exact = k**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (k + lam))
    heat_exact = k**2 * (T1 - T2) / (2 * (k + lam))
    centres = np.asarray(0.5 * (edges[1:] + edges[:-1]))
    p_exact, J_exact, circulation_exact = _theory(k, lam, T1, T2, centres)
    vol = float((edges[1] - edges[0]) ** 2)
    X1, X2 = np.meshgrid(centres, centres, indexing="ij")
    J = obs["current"]
    circulation = float(np.sum(X1 * J[..., 1] - X2 * J[..., 0]) * vol)

    fig, axes = plt.subplots(1, 2, figsize=(10, 5.0), constrained_layout=True)
    extent = [float(edges[0]), float(edges[-1]), float(edges[0]), float(edges[-1])]
    vmax = float(max(obs["density"].max(), p_exact.max()))
    arrow_scale = float(np.abs(J_exact).max()) / 0.8  # same arrows in both panels
    for ax, p, field, title in (
        (axes[0], obs["density"], J, f"simulated: {b} members x {n_steps} steps"),
        (axes[1], p_exact, J_exact, "linear theory (Lyapunov covariance)"),
    ):
        # axis 0 of the arrays is r1 (horizontal), axis 1 is r2 (vertical)
        im = ax.imshow(p.T, origin="lower", extent=extent, cmap="magma", vmin=0, vmax=vmax)
        ax.quiver(
            X1,
            X2,
            field[..., 0],
            field[..., 1],
            color="white",
            width=0.004,
            angles="xy",
            scale_units="xy",
            scale=arrow_scale,
        )
        ax.set_xlabel(rf"$r_1$ (hot, $T_1 = {T1:g}$)")
        ax.set_ylabel(rf"$r_2$ (cold, $T_2 = {T2:g}$)")
        ax.set_title(title)
    fig.colorbar(im, ax=axes, label="density p(r1, r2)")
    fig.suptitle(
        rf"$\sigma$ measured {sigma.mean():.4f} $\pm$ {sigma.std(ddof=1) / np.sqrt(b):.4f}, "
        rf"exact {sigma_exact:.4f}"
    )
    fig.savefig(out_dir / "two_temperature.png", dpi=110)
    plt.close(fig)

    return {
        "sigma_measured": float(sigma.mean()),
        "sigma_stderr": float(sigma.std(ddof=1) / np.sqrt(b)),
        "sigma_exact": float(sigma_exact),
        "sigma_lyapunov": float(jn.models.linear_entropy_production_rate(A, D)),
        "heat_to_cold_bath_measured": float(heat[:, 1].mean()),
        "heat_to_cold_bath_stderr": float(heat[:, 1].std(ddof=1) / np.sqrt(b)),
        "heat_to_cold_bath_exact": float(heat_exact),
        "circulation_measured": circulation,
        "circulation_exact": circulation_exact,
        "density_max_abs_error": float(np.abs(obs["density"] - p_exact).max()),
        "members": b,
        "steps": n_steps,
        "dt": dt,
    }
