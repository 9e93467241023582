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

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures

NAME = "hot_cold"
TITLE = "Hot and cold particles: run-and-chase and demixing without attraction"


@eqx.filter_jit
def _chase(T_hots, steps, keys, T_cold, n_steps, burn_in, b):
    """Chase speed and its standard error of `hot_cold_pair(T_hot, T_cold)` for each
    (T_hot, dt, key), and the exact speed: one compiled call."""
    import jaxneq as jn

    def one(T_hot, step, key):
        system = jn.models.hot_cold_pair(T_hot, T_cold)
        x0 = jr.uniform(jr.key(0), (b, 2, 2), dtype=step.dtype) * 3.0
        observable = jn.models.RunAndChase(burn_in=burn_in)
        res = jn.langevin.simulate(
            system,
            x0,
            key=jr.wrap_key_data(key),
            dt=step,
            n_steps=n_steps,
            observables={"c": observable},
        )
        c = res.observables["c"]
        return c.speed, c.stderr

    # a loop over the sweep: on a CPU it compiles and runs faster than a vmap
    speed, stderr = jax.lax.map(lambda a: one(*a), (T_hots, steps, keys))
    return speed, stderr, _exact_speed(T_hots, T_cold)


def _chase_sweep(ratios, T_cold, dt, b, n_steps):
    """Chase speeds and standard errors at dt (first half) and dt/2 (second half), and the
    exact speeds. Both time steps in one compiled call: the same number of steps (dt runs
    twice as long as dt/2, so its standard error is smaller) and the same burn-in t >= 0.6."""
    steps = np.repeat([dt, dt / 2], len(ratios))
    keys = jnp.stack(
        [jr.key_data(jr.key(1))] * len(ratios) + [jr.key_data(jr.key(4))] * len(ratios)
    )
    out = _chase(
        jnp.asarray(np.tile(ratios, 2) * T_cold),
        jnp.asarray(steps),
        keys,
        T_cold,
        2 * n_steps,
        round(0.6 / (dt / 2)),
        b,
    )
    return [np.asarray(a, np.float64) for a in out]


@eqx.filter_jit
def _demix(system, is_hot, n_steps, dt):
    """The mixture from uniform random positions after `n_steps`: the final positions and
    the demixing order parameter at the end and at the start (one compiled call)."""
    import jaxneq as jn

    n_particles = is_hot.shape[0]
    x0 = jr.uniform(jr.key(2), (1, n_particles, 2)) * system.potential.neighbours.box.size
    res = jn.langevin.simulate(system, x0, key=jr.key(3), dt=dt, n_steps=n_steps)
    cells = system.potential.neighbours
    psi = jn.models.demixing_order_parameter(res.x[0], is_hot, cells)
    return res.x[0], psi, jn.models.demixing_order_parameter(x0[0], is_hot, cells)


@jax.jit
def _exact_speed(T_hots, T_cold):
    import jaxneq as jn

    return jax.vmap(lambda t: jn.models.hot_cold_pair_chase_speed(t, T_cold)["speed"])(T_hots)


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn
    from jaxneq import plot

    from ._table import concurrently, row, size, stage

    say = stage(progress)
    # (a) run and chase: one sweep over T_hot and dt (one compiled call)
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
    b, n_steps = size(quick, full, (200, 3000), (400, 10_000), (16_384, 40_000))
    # (b) demixing of a 2D mixture
    n_particles, n_mix = size(quick, full, (256, 2000), (1024, 15_000), (20_000, 50_000))
    T_hot_mix, T_cold_mix, dt_mix = 5.0, 0.05, 4e-3
    box = float(np.sqrt(n_particles / 0.9))  # number density 0.9
    half = n_particles // 2
    system = jn.models.hot_cold_mixture(half, half, T_hot_mix, T_cold_mix, box, k=50.0)
    is_hot = np.arange(n_particles) < half
    say(
        0.0,
        f"run and chase ({len(ratios)} temperature ratios x {b} pairs, dt = {dt:g} and "
        f"{dt / 2:g}) and demixing ({n_particles} particles x {n_mix} steps, cell list), "
        "at once",
    )
    (speeds, stderrs, exact), (x_end, psi, psi0) = concurrently(
        lambda: _chase_sweep(ratios, T_cold, dt, b, n_steps),
        lambda: [np.asarray(a) for a in _demix(system, is_hot, n_mix, dt_mix)],
    )
    psi, psi0 = float(psi), float(psi0)
    speed_dt, speed_half = speeds[: len(ratios)], speeds[len(ratios) :]
    stderr_dt, stderr_half = stderrs[: len(ratios)], stderrs[len(ratios) :]
    say(0.8, "exact chase speeds")
    # Richardson: Euler–Maruyama's bias is O(dt), so 2 v(dt/2) - v(dt) leaves O(dt^2);
    # independent noise in the two runs
    speed = 2 * speed_half - speed_dt
    stderr = np.sqrt(4 * stderr_half**2 + stderr_dt**2)
    exact = [float(v) for v in exact[: len(ratios)]]
    fine = np.geomspace(1.0, ratios[-1], 50)
    exact_fine = np.asarray(_exact_speed(jnp.asarray(fine * T_cold), T_cold))

    say(0.9, "figure")
    fig, axes = plot.panels(
        2,
        title=(
            "Repulsive hot/cold pair: chase speed extrapolated to dt -> 0 (from dt = "
            f"{dt:g} and {dt / 2:g}) vs the exact mean local velocity; mixture: demixing order "
            f"parameter {psi0:.2f} at the start, {psi:.2f} at t = {n_mix * dt_mix:g} (0: random)"
        ),
        panel_size=(5.2, 4.4),
    )
    plot.estimates(
        ratios,
        speed_dt,
        stderr_dt,
        ax=axes[0],
        n_se=2,
        fmt="s",
        label=f"simulated, dt = {dt:g}",
    )
    plot.estimates(
        ratios,
        speed,
        stderr,
        exact=(fine, exact_fine),
        ax=axes[0],
        n_se=2,
        label="extrapolated to dt -> 0",
        exact_label="exact (dt -> 0)",
        xscale="log",
        xlabel=r"$T_\mathrm{hot} / T_\mathrm{cold}$",
        ylabel="centre-of-mass speed, hot -> cold (length / time)",
        title="run and chase of a repulsive hot/cold pair",
    )
    plot.ensemble_snapshot(
        x_end,
        color_by=np.where(is_hot, T_hot_mix, T_cold_mix),
        box=box,
        ax=axes[1],
        colorbar_label="temperature T (energy units)",
        size=8,
        xlabel="x (particle diameters)",
        ylabel="y (particle diameters)",
        title=f"{n_particles} particles at t = {n_mix * dt_mix:g}",
    )
    _figures.save(fig, out_dir / f"{NAME}.png")

    label = f"exact (dt -> 0); measured: dt = {dt:g} and {dt / 2:g}, extrapolated to dt -> 0"
    table = [
        row(f"chase speed, T_hot/T_cold = {r:g}", v, e, x, label, "length / time")
        for r, v, e, x in zip(ratios, speed, stderr, exact, strict=True)
    ]
    at_dt = f"exact (dt -> 0); this run is not corrected for the O(dt) bias of dt = {dt:g}"
    table.append(
        row(
            f"chase speed at dt = {dt:g}, T_hot/T_cold = {ratios[-1]:g}",
            speed_dt[-1],
            stderr_dt[-1],
            exact[-1],
            at_dt,
            "length / time",
        )
    )
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
        "chase_speed_at_dt": speed_dt.tolist(),
        "chase_speed_at_dt_stderr": stderr_dt.tolist(),
        "demixing_order_parameter": psi,
        "demixing_order_parameter_initial": psi0,
        "n_particles": n_particles,
        "dt": dt,
        "table": table,
    }
