r"""Hot and cold repulsive particles: run and chase, and demixing without attraction.

Units: k_B = 1, particle diameter sigma = 1, mobility 1. Purely repulsive soft particles in
two heat baths. (a) A hot/cold pair: while they touch, the centre of mass moves from the hot
particle towards the cold one, at the exact mean local velocity
$\frac{T_h - T_c}{T_h + T_c} f(r)$; the demo measures the force-weighted speed with
`RunAndChase` for several temperature ratios and compares it with
`hot_cold_pair_chase_speed`.

(b) A 2D 50/50 mixture of hot and cold particles (cell list, O(N) per step), started from
uniform random positions. Demixing needs a large temperature ratio, a dense enough system
and particles that stay hard for the hot ones (Grosberg & Joanny, PRE 92, 032118 (2015);
Weber, Weber & Frey, PRL 116, 058301 (2016)): here T_hot / T_cold = 100, packing fraction
0.5 and T_hot / k = 0.02 (a hot pair overlaps by about 0.2 sigma at energy T_hot; with
T_hot / k = 0.04 the demixing is much weaker). `demixing_order_parameter` psi measures it:
0 in expectation for a random mixture, about 1/2 when fully demixed. Its random-mixture
reference is measured on the same configurations, as psi over random relabellings of the
particles (mean about 0; the spread plays the role of the standard error). What the demo
shows: psi rises from 0 to about 0.2 within t ~ 5 and stays there, and the snapshot shows
dense domains of cold particles among the hot ones; psi averaged over the second half of
the run lies about 11 (quick, 256 particles) to 24 (default, 1024 particles) spreads above
the random-mixture value. What it does not show: full demixing into one cold cluster
(psi near 1/2). Up to t = 60 the domains do not coarsen measurably; a single cluster needs
far longer runs and, per Weber, Weber & Frey, a system above a critical size.
"""

from __future__ import annotations

import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

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
            adjoint=_table.forward_only(),
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
def _demix(system, is_hot, n_steps, dt, n_snapshots, n_relabel):
    """The mixture from uniform random positions: the final positions, and the demixing
    order parameter at `n_snapshots + 1` equally spaced times (the start first) for the true
    labels `[S + 1]` and for `n_relabel` random relabellings `[S + 1, K]` (one compiled call;
    the neighbours of a snapshot are found once for all its relabellings)."""
    import jaxneq as jn

    cells = system.potential.neighbours
    x0 = jr.uniform(jr.key(2), (1, is_hot.shape[0], 2)) * cells.box.size
    save_every = n_steps // n_snapshots
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(3),
        dt=dt,
        n_steps=n_steps,
        save_every=save_every,
        adjoint=_table.forward_only(),
    )
    relabelled = jax.vmap(lambda k: jr.permutation(k, is_hot))(jr.split(jr.key(5), n_relabel))

    def psi(x):
        one = lambda labels: jn.models.demixing_order_parameter(x, labels, cells)  # noqa: E731
        return one(is_hot), jax.vmap(one)(relabelled)

    psi_t, null_t = jax.lax.map(psi, res.trajectory[:, 0])
    return res.x[0], psi_t, null_t


def _demix_run(mix) -> dict:
    """Simulate the mixture; NumPy results: final positions, times, psi(t) and its values
    for random relabellings, and the time averages over the second half of the run."""
    import jaxneq as jn

    n, box = mix["n_particles"], mix["box"]
    system = jn.models.hot_cold_mixture(
        n // 2, n - n // 2, mix["T_hot"], mix["T_cold"], box, k=mix["k"]
    )
    is_hot = np.arange(n) < n // 2
    x, psi_t, null_t = _demix(
        system, is_hot, mix["n_steps"], mix["dt"], mix["n_snapshots"], mix["n_relabel"]
    )
    psi_t, null_t = np.asarray(psi_t, np.float64), np.asarray(null_t, np.float64)
    times = np.linspace(0.0, mix["n_steps"] * mix["dt"], mix["n_snapshots"] + 1)
    late = times >= times[-1] / 2
    return {
        "x": np.asarray(x),
        "times": times,
        "psi": psi_t,
        "null": null_t,
        "psi_late": float(psi_t[late].mean()),
        "null_late": null_t[late].mean(0),
        "t_late": float(times[late][0]),
    }


@jax.jit
def _exact_speed(T_hots, T_cold):
    import jaxneq as jn

    return jax.vmap(lambda t: jn.models.hot_cold_pair_chase_speed(t, T_cold)["speed"])(T_hots)


def _sizes(quick: bool, full: bool) -> tuple[dict, dict]:
    """Sizes of (a) the chase sweep and (b) the mixture (packing fraction 0.5)."""
    from ._table import size

    many = [1.0, 2.0, 5.0, 10.0, 20.0, 40.0]
    b, n_steps = size(quick, full, (200, 3000), (400, 10_000), (16_384, 40_000))
    chase = {"ratios": np.asarray(size(quick, full, [1.0, 5.0, 20.0], many, many))}
    chase.update(T_cold=0.1, dt=2e-3, b=b, n_steps=n_steps)
    n_particles, n_mix = size(quick, full, (256, 5000), (1024, 15_000), (20_000, 50_000))
    mix = {"n_particles": n_particles, "n_steps": n_mix, "n_snapshots": 20, "n_relabel": 256}
    mix.update(T_hot=2.0, T_cold=0.02, k=100.0, dt=4e-3, packing=0.5)
    # packing fraction = number density * pi sigma^2 / 4
    mix["box"] = float(np.sqrt(n_particles * np.pi / 4 / mix["packing"]))
    return chase, mix


def _chase_result(chase, speeds, stderrs, exact) -> dict:
    """Richardson extrapolation of the two time steps: Euler–Maruyama's bias is O(dt), so
    2 v(dt/2) - v(dt) leaves O(dt^2); the two runs have independent noise."""
    m = len(chase["ratios"])
    speed_dt, speed_half = speeds[:m], speeds[m:]
    stderr_dt, stderr_half = stderrs[:m], stderrs[m:]
    return {
        "speed": 2 * speed_half - speed_dt,
        "stderr": np.sqrt(4 * stderr_half**2 + stderr_dt**2),
        "speed_dt": speed_dt,
        "stderr_dt": stderr_dt,
        "exact": [float(v) for v in exact[:m]],
    }


def _chase_rows(chase, c) -> list[dict]:
    from ._table import row

    dt = chase["dt"]
    label = f"exact (dt -> 0); measured: dt = {dt:g} and {dt / 2:g}, extrapolated to dt -> 0"
    rows = [
        row(f"chase speed, T_hot/T_cold = {r:g}", v, e, x, label, "length / time")
        for r, v, e, x in zip(chase["ratios"], c["speed"], c["stderr"], c["exact"], strict=True)
    ]
    at_dt = f"exact (dt -> 0); this run is not corrected for the O(dt) bias of dt = {dt:g}"
    rows.append(
        row(
            f"chase speed at dt = {dt:g}, T_hot/T_cold = {chase['ratios'][-1]:g}",
            c["speed_dt"][-1],
            c["stderr_dt"][-1],
            c["exact"][-1],
            at_dt,
            "length / time",
        )
    )
    return rows


def _spread(values) -> float:
    return float(np.std(values, ddof=1))


def _demix_rows(mix, d) -> list[dict]:
    """psi at the start and averaged over the second half against the random-mixture value
    0; the SE column is the spread of the same quantity over random relabellings."""
    from ._table import row

    how = f"SE: spread of psi over {mix['n_relabel']} random relabellings of these configurations"
    return [
        row(
            "demixing order parameter psi at t = 0 (uniform random positions)",
            d["psi"][0],
            _spread(d["null"][0]),
            0.0,
            f"random mixture (psi = 0 in expectation); {how}",
        ),
        row(
            f"demixing order parameter psi, mean over t = {d['t_late']:g} .. {d['times'][-1]:g}",
            d["psi_late"],
            _spread(d["null_late"]),
            0.0,
            f"random mixture; many SE away = demixed (full demixing: about 0.5); {how}",
        ),
    ]


def _chase_panel(ax, chase, c):
    from jaxneq import plot

    dt, ratios = chase["dt"], chase["ratios"]
    label_dt = f"simulated, dt = {dt:g}"
    plot.estimates(ratios, c["speed_dt"], c["stderr_dt"], ax=ax, n_se=2, fmt="s", label=label_dt)
    fine = np.geomspace(1.0, ratios[-1], 50)
    exact_fine = np.asarray(_exact_speed(jnp.asarray(fine * chase["T_cold"]), chase["T_cold"]))
    plot.estimates(
        ratios,
        c["speed"],
        c["stderr"],
        exact=(fine, exact_fine),
        ax=ax,
        n_se=2,
        label="extrapolated to dt -> 0",
        exact_label="exact (dt -> 0)",
        xscale="log",
        xlabel=r"$T_\mathrm{hot} / T_\mathrm{cold}$",
        ylabel="centre-of-mass speed, hot -> cold (length / time)",
        title="run and chase of a repulsive hot/cold pair",
    )


def _mixture_panels(axes, mix, d):
    from jaxneq import plot

    n, times = mix["n_particles"], d["times"]
    plot.estimates(
        times,
        d["psi"],
        np.std(d["null"], axis=1, ddof=1),
        exact=(times, np.zeros_like(times)),
        ax=axes[0],
        n_se=2,
        label="simulated mixture (SE: spread over random relabellings)",
        exact_label="random mixture",
        xlabel="time t (units: sigma = mobility = k_B = 1)",
        ylabel="demixing order parameter psi",
        title=f"cold/hot demixing, T_hot / T_cold = {mix['T_hot'] / mix['T_cold']:g}",
    )
    plot.ensemble_snapshot(
        d["x"],
        color_by=np.where(np.arange(n) < n // 2, mix["T_hot"], mix["T_cold"]),
        box=mix["box"],
        ax=axes[1],
        diameter=1.0,
        colorbar_label="temperature T (energy units)",
        xlabel="x (particle diameters)",
        ylabel="y (particle diameters)",
        title=f"{n} particles at t = {times[-1]:g}: cold domains (blue) among hot (red)",
    )


def _figure(out_dir, chase, c, mix, d):
    from jaxneq import plot

    dt = chase["dt"]
    fig, axes = plot.panels(
        3,
        title=(
            f"Repulsive hot/cold pair: chase speed extrapolated to dt -> 0 (from dt = {dt:g} and "
            f"{dt / 2:g}) vs the exact mean local velocity. Mixture: demixing order parameter "
            f"{d['psi_late']:.2f} (mean over t >= {d['t_late']:g}) vs 0 ± "
            f"{_spread(d['null_late']):.2f} for a random mixture"
        ),
        panel_size=(5.0, 4.4),
    )
    _chase_panel(axes[0], chase, c)
    _mixture_panels(axes[1:], mix, d)
    _figures.save(fig, out_dir / f"{NAME}.png")


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    from ._table import concurrently, stage

    say = stage(progress)
    chase, mix = _sizes(quick, full)
    dt, m = chase["dt"], len(chase["ratios"])
    say(
        0.0,
        f"run and chase ({m} temperature ratios x {chase['b']} pairs, dt = {dt:g} and "
        f"{dt / 2:g}) and demixing ({mix['n_particles']} particles x {mix['n_steps']} steps, "
        "cell list), at once",
    )
    (speeds, stderrs, exact), d = concurrently(
        lambda: _chase_sweep(chase["ratios"], chase["T_cold"], dt, chase["b"], chase["n_steps"]),
        lambda: _demix_run(mix),
    )
    c = _chase_result(chase, speeds, stderrs, exact)
    say(0.9, "figure")
    _figure(out_dir, chase, c, mix, d)
    say(1.0, "done")
    return {
        "temperature_ratios": chase["ratios"].tolist(),
        "chase_speed": c["speed"].tolist(),
        "chase_speed_stderr": c["stderr"].tolist(),
        "chase_speed_exact": c["exact"],
        "chase_speed_at_dt": c["speed_dt"].tolist(),
        "chase_speed_at_dt_stderr": c["stderr_dt"].tolist(),
        "demixing_times": d["times"].tolist(),
        "demixing_order_parameter": d["psi"].tolist(),
        "demixing_order_parameter_late": d["psi_late"],
        "demixing_order_parameter_late_relabelled": d["null_late"].tolist(),
        "demixing_order_parameter_initial_relabelled": d["null"][0].tolist(),
        "demixing_late_from": d["t_late"],
        "n_particles": mix["n_particles"],
        "temperatures_mixture": [mix["T_hot"], mix["T_cold"]],
        "packing_fraction": mix["packing"],
        "dt": dt,
        "table": _chase_rows(chase, c) + _demix_rows(mix, d),
    }
