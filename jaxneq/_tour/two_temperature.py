r"""Two particles in two heat baths: density, probability current and entropy production.

Two overdamped particles joined by a spring $k$, each in a trap $\lambda$ and in its own
bath ($T_1 \ne T_2$): heat flows from the hot bath to the cold one through the spring, the
steady state carries a rotating probability current in the $(r_1, r_2)$ plane, and entropy
is produced at the rate $\sigma = k^2 (T_1 - T_2)^2 / (2 T_1 T_2 (k + \lambda))$ (units:
k_B = 1). The demo simulates an ensemble started in the exact Gaussian steady state,
measures the density (`Histogram`), the current field (`CurrentField`), the entropy
production and the heat delivered to each bath along the trajectories, and compares them
with linear (Lyapunov) theory from `jaxneq.models` (`linear_stationary_density`,
`linear_stationary_current`, `linear_current_circulation`, `linear_entropy_production_rate`,
`linear_heat_rates`). Euler–Maruyama biases stationary averages by O(dt), so the numbers are
also compared with the exact values of the discretised chain at the same step
(`linear_euler_maruyama_stationary`): the measured values agree with those within their
standard error; the dt -> 0 values differ from them by the time-step bias. The circulation
$\int (r_1 J_2 - r_2 J_1)$ of the measured current field is summed over the bins of the
window, so it is compared with the exact current summed over the same bins (the window
cuts the tails: 1.469 instead of 1.5); its standard error assumes independent velocity
increments of variance 2 D / dt in each bin, and it also carries the O(dt) bias. The
density is shown beside the exact one without an error bar.
"""

from __future__ import annotations

import pathlib

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

NAME = "two_temperature"
TITLE = "Two temperatures: phase-space current and entropy production"


@eqx.filter_jit
def _simulate_and_exact(system, edges, b, n_steps, dt):
    """The ensemble's streaming observables and the exact (Lyapunov) values, in one compiled
    call (eager, both would dispatch op by op)."""
    import jaxneq as jn

    origin = jnp.zeros((2, 1))
    x0 = jn.models.linear_stationary_samples(system, origin, key=jr.key(0), n=b)
    observables = {
        "density": jn.observables.Histogram((edges, edges), coordinates=(0, 1)),
        "current": jn.observables.CurrentField((edges, edges), coordinates=(0, 1)),
        "sigma": jn.observables.EntropyProduction(rate=True),
        "heat": jn.observables.Heat(per_dof=True, rate=True),
    }
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(1),
        dt=dt,
        n_steps=n_steps,
        observables=observables,
        adjoint=_table.forward_only(),
    )
    A, D = jn.models.linear_coefficients(system, origin)
    discrete = jn.models.linear_euler_maruyama_stationary(A, D, dt)
    centres = 0.5 * (edges[1:] + edges[:-1])
    grid = jnp.stack(jnp.meshgrid(centres, centres, indexing="ij"), axis=-1)
    exact = {
        "D": D,
        "sigma": jn.models.linear_entropy_production_rate(A, D),
        "heat": jn.models.linear_heat_rates(A, D),
        "sigma_dt": discrete["entropy_production_rate"],
        "heat_dt": discrete["heat_rates"],
        "grid": grid,
        "p": jn.models.linear_stationary_density(A, D, grid),
        "J": jn.models.linear_stationary_current(A, D, grid),
        "circulation": jn.models.linear_current_circulation(A, D)[0, 1],
    }
    return res.observables, exact


T1, T2 = 4.0, 1.0  # the hot and the cold bath


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn

    from ._table import size, stage

    say = stage(progress)
    b, n_steps = size(quick, full, (1024, 1000), (8192, 5000), (262_144, 5000))
    say(0.0, f"simulate {b} members x {n_steps} steps with 4 streaming observables")
    dt = 0.01
    system = jn.models.two_temperature_pair(1.0, 1.0, T1, T2)
    edges = jnp.linspace(-4.5, 4.5, 19)
    res, exact = _simulate_and_exact(system, edges, b, n_steps, dt)
    obs = {name: np.asarray(v, dtype=np.float64) for name, v in res.items()}
    exact = {name: np.asarray(v, dtype=np.float64) for name, v in exact.items()}
    m = _measured(obs, exact, b, n_steps, dt)
    say(0.9, "figure")
    _figure(out_dir, obs, exact, m, np.asarray(edges))
    say(1.0, "done")
    return _numbers(obs, exact, m)


def _measured(obs, exact, b, n_steps, dt) -> dict:
    """Means and standard errors of the entropy production and the heat into the cold
    bath, and the circulation of the binned current with its standard error."""
    sigma, heat = obs["sigma"], obs["heat"].reshape(b, 2)
    vol = float((9.0 / 18) ** 2)  # the bins of `edges`
    X1, X2 = exact["grid"][..., 0], exact["grid"][..., 1]
    J = obs["current"]
    # its standard error: each of the n_bin samples in a bin adds a velocity increment of
    # variance 2 D_i / dt (the noise dominates), independently from step to step
    n_samples = b * n_steps
    n_bin = n_samples * obs["density"] * vol
    se_J = np.sqrt(2 * exact["D"] * n_bin[..., None] / dt) / (n_samples * vol)
    J_exact = exact["J"]
    return {
        "b": b,
        "n_steps": n_steps,
        "dt": dt,
        "sigma": float(sigma.mean()),
        "sigma_se": float(sigma.std(ddof=1) / np.sqrt(b)),
        "heat": float(heat[:, 1].mean()),
        "heat_se": float(heat[:, 1].std(ddof=1) / np.sqrt(b)),
        "circulation": float(np.sum(X1 * J[..., 1] - X2 * J[..., 0]) * vol),
        "circulation_se": float(
            vol * np.sqrt(np.sum((X1 * se_J[..., 1]) ** 2 + (X2 * se_J[..., 0]) ** 2))
        ),
        # the same sum over the same bins of the exact current: the window cuts the tails
        "circulation_window": float(np.sum(X1 * J_exact[..., 1] - X2 * J_exact[..., 0]) * vol),
    }


def _figure(out_dir, obs, exact, m, edges):
    """Simulated and exact densities with their current arrows, side by side."""
    from jaxneq import plot

    fig, axes = plot.panels(
        2,
        title=(
            rf"$\sigma$ measured {m['sigma']:.4f} $\pm$ {m['sigma_se']:.4f} (1 SE) at "
            rf"dt = {m['dt']:g}, exact for Euler–Maruyama at this dt "
            rf"{float(exact['sigma_dt']):.4f} "
            rf"(dt $\to$ 0: {float(exact['sigma']):.4f}, the difference is the O(dt) bias)"
        ),
        panel_size=(5.0, 4.4),
    )
    vmax = float(max(obs["density"].max(), exact["p"].max()))
    arrow_scale = float(np.abs(exact["J"]).max()) / 0.8  # same arrows in both panels
    for ax, p, field, title in (
        (
            axes[0],
            obs["density"],
            obs["current"],
            f"simulated: {m['b']} members x {m['n_steps']} steps",
        ),
        (axes[1], exact["p"], exact["J"], "linear theory (Lyapunov covariance)"),
    ):
        plot.density_map(
            p,
            edges=(edges, edges),
            current=field,
            ax=ax,
            vmax=vmax,
            arrow_scale=arrow_scale,
            xlabel=rf"$r_1$ (hot, $T_1 = {T1:g}$; length)",
            ylabel=rf"$r_2$ (cold, $T_2 = {T2:g}$; length)",
            colorbar_label=r"density $p(r_1, r_2)$ (1 / length$^2$)",
            title=title,
        )
    _figures.save(fig, out_dir / f"{NAME}.png")


def _numbers(obs, exact, m) -> dict:
    """The flat numbers the tests check and the table: each measurement against the exact
    value for the Euler–Maruyama chain at the demo's dt."""
    from ._table import row

    sigma_exact, sigma_discrete = float(exact["sigma"]), float(exact["sigma_dt"])
    heat_exact, heat_discrete = float(exact["heat"][1]), float(exact["heat_dt"][1])
    circulation_exact = float(exact["circulation"])
    em = f"exact for Euler–Maruyama at dt = {m['dt']:g}"
    table = [
        row(
            "entropy production rate",
            m["sigma"],
            m["sigma_se"],
            sigma_discrete,
            f"{em} (dt -> 0: {sigma_exact:.4f})",
            "k_B / time",
        ),
        row(
            "heat into the cold bath",
            m["heat"],
            m["heat_se"],
            heat_discrete,
            f"{em} (dt -> 0: {heat_exact:.4f})",
            "energy / time",
        ),
        row(
            "current circulation in the window",
            m["circulation"],
            m["circulation_se"],
            m["circulation_window"],
            f"exact current summed over the same bins (all space: "
            f"{circulation_exact:.3f}; O(dt) bias not subtracted)",
            "length^2 / time",
        ),
    ]
    return {
        "sigma_measured": m["sigma"],
        "sigma_stderr": m["sigma_se"],
        "sigma_exact_euler_maruyama_dt": sigma_discrete,
        "sigma_exact_dt_to_0": sigma_exact,
        "heat_to_cold_bath_measured": m["heat"],
        "heat_to_cold_bath_stderr": m["heat_se"],
        "heat_to_cold_bath_exact_euler_maruyama_dt": heat_discrete,
        "heat_to_cold_bath_exact_dt_to_0": heat_exact,
        "circulation_measured": m["circulation"],
        "circulation_stderr": m["circulation_se"],
        "circulation_exact_in_window": m["circulation_window"],
        "circulation_exact": circulation_exact,
        "density_max_abs_error": float(np.abs(obs["density"] - exact["p"]).max()),
        "members": m["b"],
        "steps": m["n_steps"],
        "dt": m["dt"],
        "table": table,
    }
