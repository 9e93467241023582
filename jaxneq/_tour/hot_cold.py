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


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn
    from jaxneq import plot

    from ._table import row, size, stage

    say = stage(progress)
    # (a) run and chase: one sweep over T_hot (vmap over systems: one compiled call)
    T_cold, dt = 0.1, 2e-3
    ratios = np.asarray(
        size(
            quick,
            full,
            [1.0, 5.0, 20.0],
            [1.0, 2.0, 5.0, 10.0, 20.0, 40.0],
            [1.0, 2.0, 5.0, 10.0, 20.0, 40.0],
        )
    )
    b, n_steps = size(quick, full, (200, 3000), (1000, 20_000), (16_384, 40_000))
    say(0.0, f"run and chase: {len(ratios)} temperature ratios x {b} pairs x {n_steps} steps")

    def chase(T_hot):
        system = jn.models.hot_cold_pair(T_hot, T_cold)
        x0 = jr.uniform(jr.key(0), (b, 2, 2)) * 3.0
        res = jn.langevin.simulate(
            system,
            x0,
            key=jr.key(1),
            dt=dt,
            n_steps=n_steps,
            observables={"c": jn.models.RunAndChase(burn_in=300)},
        )
        c = res.observables["c"]
        return c.speed, c.stderr

    speed, stderr = jax.jit(jax.vmap(chase))(jnp.asarray(ratios * T_cold))
    speed, stderr = np.asarray(speed, np.float64), np.asarray(stderr, np.float64)
    exact = [
        float(jn.models.hot_cold_pair_chase_speed(r * T_cold, T_cold)["speed"]) for r in ratios
    ]
    fine = np.geomspace(1.0, ratios[-1], 50)
    exact_fine = [
        float(jn.models.hot_cold_pair_chase_speed(r * T_cold, T_cold)["speed"]) for r in fine
    ]

    # (b) demixing of a 2D mixture
    n_particles, n_mix = size(quick, full, (256, 2000), (2000, 25_000), (20_000, 50_000))
    say(0.5, f"demixing: {n_particles} particles x {n_mix} steps (cell list)")
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

    say(0.9, "figure")
    fig, axes = plot.panels(
        2,
        title=(
            "Repulsive hot/cold pair: measured chase speed vs the exact mean local velocity "
            f"(dt = {dt:g}); a hot/cold mixture demixes (order parameter {psi0:.2f} -> {psi:.2f})"
        ),
        panel_size=(5.2, 4.4),
    )
    plot.estimates(
        ratios,
        speed,
        stderr,
        exact=(fine, exact_fine),
        ax=axes[0],
        n_se=2,
        label="simulated",
        exact_label="exact (dt -> 0)",
        xscale="log",
        xlabel=r"$T_\mathrm{hot} / T_\mathrm{cold}$",
        ylabel="centre-of-mass speed, hot -> cold (length / time)",
        title="run and chase of a repulsive hot/cold pair",
    )
    plot.ensemble_snapshot(
        res.x[0],
        color_by=np.where(np.asarray(is_hot), T_hot_mix, T_cold_mix),
        box=box,
        ax=axes[1],
        colorbar_label="temperature T (energy units)",
        size=8,
        xlabel="x (particle diameters)",
        ylabel="y (particle diameters)",
        title=f"{n_particles} particles at t = {n_mix * dt_mix:g}",
    )
    plot.save(fig, out_dir / f"{NAME}.png")

    label = f"exact, dt -> 0 (Euler–Maruyama at dt = {dt:g}, bias not subtracted)"
    table = [
        row(f"chase speed, T_hot/T_cold = {r:g}", v, e, x, label, "length / time")
        for r, v, e, x in zip(ratios, speed, stderr, exact, strict=True)
    ]
    table.append(
        row(
            f"demixing order parameter at t = {n_mix * dt_mix:g}",
            psi,
            None,
            None,
            f"0 for a random mixture (start: {psi0:.3f})",
        )
    )
    say(1.0, "done")
    return {
        "temperature_ratios": ratios.tolist(),
        "chase_speed": speed.tolist(),
        "chase_speed_stderr": stderr.tolist(),
        "chase_speed_exact": exact,
        "demixing_order_parameter": psi,
        "demixing_order_parameter_initial": psi0,
        "n_particles": n_particles,
        "dt": dt,
        "table": table,
    }
