r"""2D inverse design on a Fokker–Planck grid: a hot spot that redirects a circulating current.

A particle in the anisotropic trap $U = x^2/2 + 2y^2$ is driven round the origin by a weak
rotational force $\varepsilon(-y, x)$ (k_B = 1, Ito convention). A Gaussian hot spot
(`jaxneq.models.blowtorch`, fixed height and width: a bounded amplitude) adds its own
circulation, whose sign depends on where it sits relative to the trap's axes. The design
objective is the probability current through the half-line $\{y = 0, x > 0\}$
(`jaxneq.fokker_planck.cross_section_current`): the mean number of counter-clockwise turns
about the origin per unit time. The centre, confined to $[-2, 2]^2$ by
`jaxneq.fokker_planck.bounded`, is moved by optax Adam once to maximise this current and
once to reverse it. Both optima are checked against a brute-force scan of centres (one
`vmap`), and the maximum against a Langevin ensemble (the `CurrentField` observable on the
grid's cells, two time steps, Richardson-extrapolated to dt -> 0; standard error over
independent batches). This module only runs the optimisations and plots them.

Reference: R. Landauer, J. Stat. Phys. 53, 233 (1988); R. K. P. Zia and B. Schmittmann,
J. Stat. Mech. P07012 (2007).
"""

from __future__ import annotations

import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

NAME = "fp_design_2d"
TITLE = "2D blowtorch design: reverse or boost a circulating current (grid, scan, Langevin)"

SPIN, WIDTH, HEIGHT, HALF = 0.05, 0.5, 4.0, 3.0
BOUND = 2.0  # the centre stays inside [-BOUND, BOUND]^2
START = (0.2, -0.6)  # the initial centre


def _potential(x):
    return 0.5 * x[0] ** 2 + 2.0 * x[1] ** 2


def _rotation(x):
    return SPIN * jnp.stack([-x[1], x[0]])


def system(centre, height=HEIGHT):
    """The driven trap with a hot spot at `centre` (module-level fields: every call gives
    the same static structure, so compiled grid functions are reused)."""
    import jaxneq as jn

    return jn.langevin.Overdamped(
        _potential,
        force=_rotation,
        temperature=jn.models.blowtorch(centre=centre, width=WIDTH, height=height),
    )


def _method(grid):
    return "lu" if grid.n_cells <= 1024 else "auto"


def turns(centre, grid, height=HEIGHT):
    """Current through {y = 0, x > 0}: counter-clockwise turns about the origin per time."""
    import jaxneq as jn

    fp = jn.fokker_planck
    s = system(centre, height)
    p = fp.stationary_density(s, grid, method=_method(grid))
    return fp.cross_section_current(s, grid, p, 1, grid.shape[1] // 2 - 1, lambda x: x[0] > 0)


_turns_compiled = eqx.filter_jit(turns)  # one compiled function per grid, shared by stages


def centre_of(raw):
    import jaxneq as jn

    return jn.fokker_planck.bounded(raw, -BOUND, BOUND)


@eqx.filter_jit
def _adam_paths(raw0, signs, grid, n_steps, learning_rate):
    """Adam on `sign * objective` for each sign (one compiled scan over the steps, vmapped
    over the signs); returns the final parameters, the paths and the objective along them."""
    import optax

    optimiser = optax.adam(learning_rate)
    objective = jax.value_and_grad(lambda r: turns(centre_of(r), grid))

    def one(sign):
        def step(carry, _):
            x, state = carry
            value, grad = objective(x)
            updates, state = optimiser.update(sign * grad, state, x)
            x = optax.apply_updates(x, updates)
            return (x, state), (x, value)

        (x, _), (path, values) = jax.lax.scan(
            step, (raw0, optimiser.init(raw0)), None, length=n_steps
        )
        return x, jnp.concatenate([raw0[None], path]), values

    return jax.vmap(one)(signs)


def _band_current(J, grid):
    """The same cross-section from a current field at cell centres (mean of the two rows
    beside y = 0): what a binned simulation can measure, O(h^2) from the face value."""
    k = grid.shape[1] // 2
    half = grid.shape[0] // 2
    return jnp.sum(0.5 * (J[half:, k - 1, 1] + J[half:, k, 1])) * grid.spacing[0]


@eqx.filter_jit
def _at_centres(centres, heights, grid):
    """For each (centre, height): the turning current, the density, the current field and
    its binned cross-section (one compiled loop: on a CPU, a loop of dense solves is faster
    than their vmap)."""
    import jaxneq as jn

    fp = jn.fokker_planck

    def one(centre, height):
        s = system(centre, height)
        p = fp.stationary_density(s, grid, method=_method(grid))
        J = fp.current_field(s, grid, p)
        phi = fp.cross_section_current(s, grid, p, 1, grid.shape[1] // 2 - 1, lambda x: x[0] > 0)
        return phi, p, J, _band_current(J, grid)

    return jax.lax.map(lambda ch: one(*ch), (centres, heights))


@eqx.filter_jit
def _langevin_batches(centre, p, grid, dts, batches, members, n_steps):
    """Binned current through the cut per time step and batch, from the grid's steady state
    `p` (one compiled call)."""
    import jaxneq as jn

    s = system(centre)
    k1, k2, k3 = jr.split(jr.PRNGKey(7), 3)
    n = batches * members
    cells = jr.choice(k1, grid.n_cells, (n,), p=(p * grid.volume).reshape(-1))
    ij = jnp.stack(jnp.unravel_index(cells, grid.shape), -1)
    x0 = grid.lower + (ij + jr.uniform(k2, (n, 2), dtype=p.dtype)) * grid.spacing
    x0 = x0.reshape(batches, members, 2)
    edges = [jnp.linspace(grid.lower[k], grid.upper[k], grid.shape[k] + 1) for k in (0, 1)]
    obs = {"J": jn.observables.CurrentField(edges, coordinates=(0, 1))}

    def one(dt, key, x):
        res = jn.langevin.simulate(
            s, x, key=key, dt=dt, n_steps=n_steps, observables=obs, adjoint=_table.forward_only()
        )
        return _band_current(res.observables["J"], grid)

    keys = jr.split(k3, batches)
    # a loop over (dt, batch): on a CPU it compiles and runs faster than a vmap
    runs = (jnp.repeat(dts, batches), jnp.concatenate([keys, keys]), jnp.concatenate([x0, x0]))
    return jax.lax.map(lambda a: one(*a), runs).reshape(2, batches)


def langevin_turns(centre, grid, batches, members, t_end, p=None):
    """Binned Langevin estimate of the current through the cut: (mean, stderr) over
    `batches` independent ensembles of `members`, started in the grid's steady state and
    Richardson-extrapolated from dt and dt/2 (Euler–Maruyama's O(dt) bias, large where the
    hot spot is sharp). Both time steps run the same number of steps in one compiled call:
    a time `t_end` at dt/2 = 2e-3 and `2 t_end` at dt = 4e-3. `p`: the grid's steady state
    at `centre` when already known."""
    if p is None:
        p = eqx.filter_jit(_density)(centre, grid)
    n_steps = int(t_end / 2e-3)
    dts = jnp.asarray([4e-3, 2e-3], dtype=grid.spacing.dtype)
    band = np.asarray(_langevin_batches(centre, p, grid, dts, batches, members, n_steps))
    extrapolated = 2 * band[1] - band[0]  # paired batches (same keys and starts)
    return float(extrapolated.mean()), float(extrapolated.std(ddof=1) / np.sqrt(batches))


def _density(centre, grid):
    import jaxneq as jn

    return jn.fokker_planck.stationary_density(system(centre), grid, method=_method(grid))


def _scan_centres(n_points):
    """The brute-force scan's centres: an n_points x n_points square inside the bounds."""
    values = np.linspace(-BOUND * 0.95, BOUND * 0.95, n_points)
    cx, cy = (a.reshape(-1) for a in np.meshgrid(values, values, indexing="ij"))
    return values, np.stack([cx, cy], -1)


def _figure(out_dir, grid, results, paths, scan, fields):
    import jaxneq.plot as jplot

    fig, axes = jplot.panels(
        4, title="hot-spot design: current through {y = 0, x > 0} (grid steady states)", ncols=4
    )
    vmax = max(float(np.max(p)) for p, _ in fields)
    scale = max(float(np.max(np.linalg.norm(J, axis=-1))) for _, J in fields)
    titles = ("start", "maximise the turning current", "reverse the turning current")
    starts = (results["start"], results["max"], results["min"])
    for ax, (p, J), title, centre in zip(axes, fields, titles, starts, strict=False):
        jplot.density_map(
            p,
            grid=grid,
            current=J,
            ax=ax,
            ylabel="y",
            title=title,
            vmax=vmax,
            arrow_scale=scale,
            max_arrows=16,
        )
        ax.plot(*centre, "c*", ms=12)
        ax.plot([0, float(grid.upper[0])], [0, 0], "w--", lw=1)
    for key, style in (("max", "c.-"), ("min", "y.-")):
        axes[1 if key == "max" else 2].plot(*paths[key].T, style, ms=2, lw=1)
    from matplotlib.colors import TwoSlopeNorm

    values, _, shares = scan
    ax = axes[3]
    norm = TwoSlopeNorm(0.0, min(float(shares.min()), -1e-12), max(float(shares.max()), 1e-12))
    mesh = ax.pcolormesh(
        values,
        values,
        shares.reshape(len(values), len(values)).T,
        cmap="coolwarm",
        norm=norm,
        shading="auto",
    )
    fig.colorbar(mesh, ax=ax, label="turns per unit time")
    for key, style in (("max", "k.-"), ("min", "g.-")):
        ax.plot(*paths[key].T, style, ms=2, lw=1, label=f"Adam ({key})")
    ax.set(xlabel="hot-spot x", ylabel="hot-spot y", title="brute-force scan of centres")
    ax.legend(fontsize=8)
    _figures.save(fig, out_dir / f"{NAME}.png")


def _row(quantity, measured, reference, label, stderr=None, unit="turns / time"):
    return {
        "quantity": quantity,
        "measured": measured,
        "stderr": stderr,
        "reference": reference,
        "reference_label": label,
        "unit": unit,
    }


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn

    fp = jn.fokker_planck
    report = progress or (lambda fraction, message: None)
    n = 16 if quick else 32
    grid = fp.Grid(-HALF, HALF, (n, n))
    fine = fp.Grid(-HALF, HALF, (2 * n, 2 * n))
    values, centres = _scan_centres(7 if quick else 21)
    report(0.0, "Adam: maximise and reverse the turning current (one compiled scan)")
    raws, paths = _adam_and_compile_ahead(grid, fine, centres, 30 if quick else 120)
    report(0.45, "brute-force scan of hot-spot centres and the grid at the optima")
    results = {
        "start": np.asarray(START),
        "max": np.asarray(centre_of(raws[0])),
        "min": np.asarray(centre_of(raws[1])),
    }
    # one call: start, maximum, minimum, no hot spot, the scan
    at, heights = _points(results["max"], results["min"], centres, grid.spacing.dtype)
    phis, densities, currents, bands = (np.asarray(a) for a in _at_centres(at, heights, grid))
    grid_error = abs(float(_turns_compiled(at[1], fine)) - float(phis[1]))
    report(0.6, "Langevin ensemble at the optimum")
    size = (4, 256, 8.0) if quick else (8, 1024, 40.0)
    sim = langevin_turns(at[1], grid, *size, p=jnp.asarray(densities[1]))
    report(0.9, "figures")
    paths = {
        "max": np.asarray(jax.vmap(centre_of)(paths[0])),
        "min": np.asarray(jax.vmap(centre_of)(paths[1])),
    }
    scan = (values, centres, phis[4:])
    fields = list(zip(densities[:3], currents[:3], strict=True))
    _figure(out_dir, grid, results, paths, scan, fields)
    report(1.0, "done")
    return _numbers(results, phis, scan, grid_error, float(bands[1]), sim)


def _points(maximum, minimum, centres, dtype):
    """Start, maximum, minimum, no hot spot (height 0: T = 1 everywhere) and the scan."""
    at = np.concatenate([np.stack([START, maximum, minimum, START]), centres])
    heights = jnp.full(len(at), HEIGHT, dtype).at[3].set(0.0)
    return jnp.asarray(at, dtype), heights


def _adam_and_compile_ahead(grid, fine, centres, steps):
    """Adam's final raw parameters and paths (maximise, reverse); meanwhile the grid
    functions compile (and run once at the start), so that they are cached for the optima."""
    from ._table import concurrently

    raw0 = _start_raw()
    dtype = raw0.dtype

    def compile_ahead():
        _at_centres(*_points(START, START, centres, dtype), grid)
        _turns_compiled(jnp.asarray(START, dtype), fine)

    (raws, paths, _), _ = concurrently(
        lambda: _adam_paths(raw0, jnp.asarray([-1.0, 1.0], dtype), grid, steps, 0.15),
        compile_ahead,
    )
    return raws, paths


def _start_raw():
    """The initial centre START in the unbounded parametrisation of `centre_of`."""
    import jaxneq as jn

    return jn.fokker_planck.unbounded(jnp.asarray(START), -BOUND, BOUND)


def _numbers(results, phis, scan, grid_error, band, langevin) -> dict:
    """The flat numbers the tests check and the table."""
    values, centres, shares = scan
    phi = {k: float(v) for k, v in zip(results, phis, strict=False)}
    phi_none = float(phis[3])
    best, worst = int(np.argmax(shares)), int(np.argmin(shares))
    sim, sim_se = langevin
    resolution = float(values[1] - values[0])
    out = {
        "turns_no_hot_spot": phi_none,
        "turns_start": phi["start"],
        "turns_max_adam": phi["max"],
        "turns_max_scan": float(shares[best]),
        "centre_max_adam": [float(v) for v in results["max"]],
        "centre_max_scan": [float(v) for v in centres[best]],
        "turns_min_adam": phi["min"],
        "turns_min_scan": float(shares[worst]),
        "centre_min_adam": [float(v) for v in results["min"]],
        "centre_min_scan": [float(v) for v in centres[worst]],
        "scan_resolution": resolution,
        "turns_max_grid_error": grid_error,
        "turns_max_binned": band,
        "turns_max_langevin": sim,
        "turns_max_langevin_stderr": sim_se,
    }
    scan_label = f"brute-force scan, spacing {resolution:.2f}"
    out["table"] = [
        _row("turns/time, no hot spot", phi_none, None, "grid"),
        _row("turns/time, hot spot at start", phi["start"], None, "grid"),
        _row("turns/time, maximised (Adam)", phi["max"], float(shares[best]), scan_label),
        _row("turns/time, reversed (Adam)", phi["min"], float(shares[worst]), scan_label),
        _row(
            "turns/time at the maximum, Langevin",
            sim,
            band,
            f"grid, binned like the simulation (grid error ~{grid_error:.1e}); "
            "Langevin dt -> 0 by Richardson",
            stderr=sim_se,
        ),
    ]
    return out
