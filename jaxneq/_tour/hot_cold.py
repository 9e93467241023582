r"""Hot and cold repulsive particles: run and chase, and demixing without attraction.

Units: k_B = 1. Purely repulsive soft particles in two heat baths. (a) A hot/cold pair:
while they touch, the centre of mass moves from the hot particle towards the cold one, at
the exact mean local velocity $\frac{T_h - T_c}{T_h + T_c} f(r)$; the demo measures the
force-weighted speed with `RunAndChase` for several temperature ratios and compares it with
`hot_cold_pair_chase_speed`. (b) A 2D mixture of hot and cold particles (cell list, O(N)
per step) demixes into a dense cold cluster and a hot gas; the snapshot shows it and
`demixing_order_parameter` measures it (0 for a random mixture).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

NAME = "hot_cold"
TITLE = "Hot and cold particles: run-and-chase and demixing without attraction"


def run(out_dir: pathlib.Path, quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jaxneq as jn

    # (a) run and chase: one sweep over T_hot (vmap over systems: one compiled call)
    T_cold = 0.1
    ratios = np.array([1.0, 5.0, 20.0]) if quick else np.array([1.0, 2.0, 5.0, 10.0, 20.0, 40.0])
    b, n_steps = (200, 3000) if quick else (1000, 20_000)

    def chase(T_hot):
        system = jn.models.hot_cold_pair(T_hot, T_cold)
        x0 = jr.uniform(jr.key(0), (b, 2, 2)) * 3.0
        res = jn.langevin.simulate(
            system,
            x0,
            key=jr.key(1),
            dt=2e-3,
            n_steps=n_steps,
            observables={"c": jn.models.RunAndChase(burn_in=300)},
        )
        c = res.observables["c"]
        return c.speed, c.stderr

    speed, stderr = jax.jit(jax.vmap(chase))(jnp.asarray(ratios * T_cold))
    exact = [
        float(jn.models.hot_cold_pair_chase_speed(r * T_cold, T_cold)["speed"]) for r in ratios
    ]
    fine = np.geomspace(1.0, ratios[-1], 50)
    exact_fine = [
        float(jn.models.hot_cold_pair_chase_speed(r * T_cold, T_cold)["speed"]) for r in fine
    ]

    # (b) demixing of a 2D mixture
    n_particles, n_mix = (256, 2000) if quick else (2000, 25_000)
    T_hot_mix, T_cold_mix, dt_mix = 5.0, 0.05, 4e-3
    box = float(np.sqrt(n_particles / 0.9))  # number density 0.9
    half = n_particles // 2
    system = jn.models.hot_cold_mixture(half, half, T_hot_mix, T_cold_mix, box, k=50.0)
    x0 = jr.uniform(jr.key(2), (1, n_particles, 2)) * box
    res = jn.langevin.simulate(system, x0, key=jr.key(3), dt=dt_mix, n_steps=n_mix)
    is_hot = jnp.arange(n_particles) < half
    cells = system.potential.neighbours
    psi = float(jn.models.demixing_order_parameter(res.x[0], is_hot, cells))
    psi0 = float(jn.models.demixing_order_parameter(x0[0], is_hot, cells))

    fig, axes = plt.subplots(1, 2, figsize=(11, 5), constrained_layout=True)
    x = np.mod(np.asarray(res.x[0]), box)
    hot = np.asarray(is_hot)
    ax = axes[0]
    ax.scatter(*x[hot].T, s=12, c="tab:red", label=f"hot, T = {T_hot_mix}")
    ax.scatter(*x[~hot].T, s=12, c="tab:blue", label=f"cold, T = {T_cold_mix}")
    ax.set_aspect("equal")
    ax.set_xlim(0, box)
    ax.set_ylim(0, box)
    ax.set_title(f"mixture at t = {n_mix * dt_mix:g}: demixing psi = {psi:.3f} (start {psi0:.3f})")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[1]
    ax.errorbar(
        ratios, np.asarray(speed), 5 * np.asarray(stderr), fmt="o", label="simulated (5 SE)"
    )
    ax.plot(fine, exact_fine, "k-", label="exact")
    ax.set_xscale("log")
    ax.set_xlabel("T_hot / T_cold")
    ax.set_ylabel("centre-of-mass speed along hot -> cold")
    ax.set_title("run and chase of a repulsive hot/cold pair")
    ax.legend()
    fig.savefig(out_dir / "hot_cold.png", dpi=120)
    plt.close(fig)

    return {
        "temperature_ratios": ratios.tolist(),
        "chase_speed": np.asarray(speed).tolist(),
        "chase_speed_stderr": np.asarray(stderr).tolist(),
        "chase_speed_exact": exact,
        "demixing_order_parameter": psi,
        "demixing_order_parameter_initial": psi0,
        "n_particles": n_particles,
    }
