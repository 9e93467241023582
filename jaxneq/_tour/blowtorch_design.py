r"""Steady-state inverse design on a Fokker–Planck grid: where should the blowtorch go?

1D: a particle in the double well $U = (x^2 - 1)^2$ (`jaxneq.models.blowtorch` temperature
field, Ito convention, k_B = 1). `jaxneq.fokker_planck.stationary_density` gives the exact
steady state of the discretised Fokker–Planck equation and its gradient in the hot spot's
centre; optax Adam moves the centre to maximise the left well's share
(`jaxneq.fokker_planck.region_probability`). The optimum is compared with a brute-force scan
(one `vmap` over centres; the scan's resolution is the error it states), and a Langevin
ensemble started in the grid's steady state measures the left share at the optimum (its
standard error over members; the grid's own error is the change under halving the spacing).

2D: a double well in x with a rotational (non-conservative) force; a hot spot with a fixed
total heat budget $\int (T - T_0)\,d^2x = H\,2\pi w^2$ (the height follows from the budget:
the constraint is satisfied exactly by construction) and a bounded x position
(`jaxneq.fokker_planck.bounded`, a sigmoid) is placed by Adam to maximise the left well's
share; the figure shows the current field as arrows over the density. This module only runs
the optimisations and plots them.

Reference: R. Landauer, J. Stat. Phys. 53, 233 (1988).
"""

from __future__ import annotations

import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

NAME = "blowtorch_design"
TITLE = "Blowtorch design on a Fokker–Planck grid: maximise the left well's share"

WIDTH, HEIGHT = 0.3, 3.0
WIDTH_2D, BUDGET_2D, SPIN_2D = 0.35, 1.5, 1.0


def _double_well(x):
    return jnp.sum((x**2 - 1) ** 2)


def _double_well_2d(x):
    return (x[0] ** 2 - 1) ** 2 + x[1] ** 2


def _rotation(x):
    return SPIN_2D * jnp.stack([-x[1], x[0]])


def _is_left(x):
    return x[0] < 0


def _system_1d(centre):
    """The double well with a hot spot at `centre` (module-level fields: the same static
    structure on every call, so compiled grid functions are reused)."""
    import jaxneq as jn

    return jn.langevin.Overdamped(
        _double_well,
        temperature=jn.models.blowtorch(centre=centre, width=WIDTH, height=HEIGHT),
    )


def _left_share_1d(centre, grid):
    import jaxneq as jn

    p = jn.fokker_planck.stationary_density(_system_1d(centre), grid)
    return jn.fokker_planck.region_probability(p, grid, _is_left)


def _system_2d(centre):
    import jaxneq as jn

    height = BUDGET_2D / (2 * np.pi * WIDTH_2D**2)
    return jn.langevin.Overdamped(
        _double_well_2d,
        force=_rotation,
        temperature=jn.models.blowtorch(centre=centre, width=WIDTH_2D, height=height),
    )


def _centre_2d(raw):
    import jaxneq as jn

    return jnp.stack([jn.fokker_planck.bounded(raw[0], -1.5, 1.5), raw[1]])


def _left_share_2d(raw, grid):
    import jaxneq as jn

    p = jn.fokker_planck.stationary_density(_system_2d(_centre_2d(raw)), grid, method="lu")
    return jn.fokker_planck.region_probability(p, grid, _is_left)


@eqx.filter_jit
def _at_centres_1d(centres, grid):
    """Left share and stationary density for each hot-spot centre (one compiled loop: a
    loop of solves is faster than their vmap on a CPU)."""
    import jaxneq as jn

    def one(c):
        p = jn.fokker_planck.stationary_density(_system_1d(c), grid)
        return jn.fokker_planck.region_probability(p, grid, _is_left), p

    return jax.lax.map(one, centres)


@eqx.filter_jit
def _at_centres_2d(centres, grid):
    """Left share, density and current field for each 2D hot-spot centre (one compiled
    loop: a dense LU per centre, so a vmap's memory would grow with the batch; 403 centres
    at once on the 60 x 36 grid took 19 GB)."""
    import jaxneq as jn

    fp = jn.fokker_planck

    def one(c):
        system = _system_2d(c)
        p = fp.stationary_density(system, grid, method="lu")
        return fp.region_probability(p, grid, _is_left), p, fp.current_field(system, grid, p)

    return jax.lax.map(one, centres)


@eqx.filter_jit
def _adam_path(loss, x0, n_steps, learning_rate):
    """Adam steps in one compiled scan; returns the final parameters, the path of
    parameters and the loss at each point of the path but the last."""
    import optax

    optimiser = optax.adam(learning_rate)

    def step(carry, _):
        x, state = carry
        value, grad = jax.value_and_grad(loss)(x)
        updates, state = optimiser.update(grad, state, x)
        x = optax.apply_updates(x, updates)
        return (x, state), (x, value)

    (x, _), (path, values) = jax.lax.scan(step, (x0, optimiser.init(x0)), None, length=n_steps)
    return x, jnp.concatenate([x0[None], path]), values


def _langevin_left_share(centre, p, grid, quick, full=False):
    """Left share by Langevin from the grid's steady state `p` at `centre`: mean and SE
    over members."""
    from ._table import size

    n = size(quick, full, 512, 4096, 1 << 18)
    left = _langevin_left(centre, p, grid, n, 4000 if quick else 20_000)
    values = np.asarray(left, dtype=np.float64).reshape(n)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n))


@eqx.filter_jit
def _langevin_left(centre, p, grid, n, n_steps):
    """Time-averaged indicator of the left well per member, started in the grid's steady
    state `p` (one compiled call)."""
    import jaxneq as jn

    k1, k2, k3 = jr.split(jr.PRNGKey(0), 3)
    cells = jr.choice(k1, grid.n_cells, (n,), p=p * grid.volume)
    x0 = (grid.lower[0] + (cells + jr.uniform(k2, (n,))) * grid.spacing[0])[:, None]
    obs = {"left": jn.observables.Mean(lambda x: (x[0] < 0).astype(x.dtype))}
    res = jn.langevin.simulate(
        _system_1d(centre),
        x0,
        key=k3,
        dt=2e-3,
        n_steps=n_steps,
        observables=obs,
        adjoint=_table.forward_only(),
    )
    return res.observables["left"]


def _design_1d(grid, fine, quick, full):
    """Adam on the 1D hot spot's centre, the brute-force scan, the grid error at the optimum
    and the Langevin check there."""
    x0 = jnp.asarray(0.2, grid.spacing.dtype)
    centre, path, losses = _adam_path(lambda c: -_left_share_1d(c, grid), x0, 80, 0.05)
    # brute force: one compiled loop over the scan's centres, the start and Adam's optimum
    scan = np.linspace(-0.5, 1.5, 201)
    centres = jnp.concatenate([jnp.asarray(scan, x0.dtype), jnp.stack([x0, centre])])
    shares, densities = (np.asarray(a) for a in _at_centres_1d(centres, grid))
    shares, share_opt = shares[:-2], float(shares[-1])
    grid_error = abs(float(_at_centres_1d(centre[None], fine)[0][0]) - share_opt)
    sim = _langevin_left_share(centre, densities[-1], grid, quick, full)
    return (centre, path, losses, scan, shares, share_opt, grid_error, densities, *sim)


def _design_2d(grid2, n_steps, fine):
    """Adam on the 2D hot spot's (bounded) centre and the brute-force scan of centres: the
    centre, path, scan axes and centres, shares, and the density and current at the centre.
    First it compiles the 1D check on the `fine` grid (run once at the 1D start), which the
    1D thread, the longer one, then finds cached."""
    _at_centres_1d(jnp.asarray([0.2], fine.spacing.dtype), fine)
    raw, path2, _ = _adam_path(
        lambda r: -_left_share_2d(r, grid2),
        jnp.array([0.3, 0.2], grid2.spacing.dtype),
        n_steps,
        0.1,
    )
    # brute force in 2D: the rotation breaks the y -> -y symmetry, so scan both coordinates
    sx, sy = np.linspace(-1.5, 1.5, 31), np.linspace(-0.6, 0.6, 13)
    cx, cy = (a.reshape(-1) for a in np.meshgrid(sx, sy, indexing="ij"))
    centre2 = np.asarray(_centre_2d(raw))
    centres2 = jnp.asarray(np.concatenate([np.stack([cx, cy], -1), centre2[None]]), raw.dtype)
    shares2, p2, J2 = (np.asarray(a) for a in _at_centres_2d(centres2, grid2))
    return centre2, path2, sx, sy, cx, cy, shares2[:-1], float(shares2[-1]), p2[-1], J2[-1]


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn

    from ._table import concurrently, size, stage

    say = stage(progress)
    fp = jn.fokker_planck
    grid = fp.Grid(-2.0, 2.0, size(quick, full, 100, 400, 400))
    fine = fp.Grid(-2.0, 2.0, 2 * grid.shape[0])
    # 2D: bounded x position, fixed heat budget, rotational drive
    grid2 = fp.Grid((-2.0, -1.2), (2.0, 1.2), size(quick, full, (20, 12), (40, 24), (60, 36)))
    say(
        0.0,
        f"at once: 1D scan of 201 hot-spot centres, Adam and Langevin ({grid.shape[0]} cells); "
        "2D Adam and scan with a heat budget and a rotational force",
    )
    one_d, two_d = concurrently(
        lambda: _design_1d(grid, fine, quick, full),
        lambda: _design_2d(grid2, size(quick, full, 40, 120, 120), fine),
    )
    say(0.9, "figure")
    _figure(out_dir, grid, grid2, one_d, two_d)
    say(1.0, "done")
    return _numbers(one_d, two_d)


def _figure(out_dir, grid, grid2, one_d, two_d):
    """Densities at the start and the optimum, Adam's path against the scan, the 2D design."""
    from jaxneq import plot

    centre, path, losses, scan, shares, share_opt, _, densities, sim_mean, sim_stderr = one_d
    best = int(np.argmax(shares))
    fig, axes = plot.panels(
        3,
        title=(
            f"1D: Adam's hot spot c = {float(centre):.3f} vs scan {float(scan[best]):.2f} "
            f"(spacing {float(scan[1] - scan[0]):.2f}); left share {share_opt:.4f} on the grid, "
            f"{sim_mean:.4f} ± {sim_stderr:.4f} (1 SE) by Langevin"
        ),
    )
    plot.density_map(
        densities[-2],
        grid=grid,
        ax=axes[0],
        label="start (c = 0.2)",
        xlabel="x (length)",
        ylabel="stationary density (1 / length)",
    )
    plot.density_map(
        densities[-1],
        grid=grid,
        ax=axes[0],
        label=f"optimum (c = {float(centre):.3f})",
        xlabel="x (length)",
        ylabel="stationary density (1 / length)",
    )
    plot.estimates(
        path[:-1],
        -losses,
        exact=(scan, shares),
        ax=axes[1],
        fmt=".-",
        label="Adam path",
        exact_label="brute-force scan",
        xlabel="hot-spot centre c (length)",
        ylabel="left well's share",
    )
    _panel_2d(axes[2], grid2, two_d)
    _figures.save(fig, out_dir / f"{NAME}.png")


def _panel_2d(ax, grid2, two_d):
    """The 2D density and current at Adam's hot spot, with Adam's path."""
    from jaxneq import plot

    centre2, path2, _, _, _, _, shares2, share_2d, p2, J2 = two_d
    plot.density_map(
        p2,
        grid=grid2,
        current=J2,
        ax=ax,
        xlabel="x (length)",
        ylabel="y (length)",
        colorbar_label="density (1 / length$^2$)",
        cmap="viridis",
        title=f"2D: left share {share_2d:.3f} (scan {float(np.max(shares2)):.3f})",
    )
    plot.ensemble_snapshot(
        np.asarray(jax.vmap(_centre_2d)(jnp.asarray(path2))),
        ax=ax,
        size=4,
        label="Adam path",
        xlabel="x (length)",
        ylabel="y (length)",
    )
    plot.ensemble_snapshot(
        centre2[None],
        ax=ax,
        marker="*",
        size=150,
        label="hot spot",
        xlabel="x (length)",
        ylabel="y (length)",
    )


def _numbers(one_d, two_d) -> dict:
    """The flat numbers the tests check and the table."""
    from ._table import row

    centre, _, losses, scan, shares, share_opt, grid_error, _, sim_mean, sim_stderr = one_d
    centre2, _, sx, sy, cx, cy, shares2, share_2d, _, J2 = two_d
    best, best2 = int(np.argmax(shares)), int(np.argmax(shares2))
    scan_label = f"brute-force scan (spacing {float(scan[1] - scan[0]):.2f})"
    table = [
        row("1D hot-spot centre (Adam)", centre, None, scan[best], scan_label, "length"),
        row(
            "1D left share at Adam's centre",
            share_opt,
            None,
            shares[best],
            "best share of the scan",
        ),
        row(
            "1D left share, Langevin at the optimum",
            sim_mean,
            sim_stderr,
            share_opt,
            f"grid steady state (grid error {grid_error:.0e}; dt = 2e-3 bias not subtracted)",
        ),
        row(
            "2D hot-spot x (Adam)",
            centre2[0],
            None,
            cx[best2],
            f"2D scan (spacing {float(sx[1] - sx[0]):.2f})",
            "length",
        ),
        row(
            "2D hot-spot y (Adam)",
            centre2[1],
            None,
            cy[best2],
            f"2D scan (spacing {float(sy[1] - sy[0]):.2f})",
            "length",
        ),
        row(
            "2D left share at Adam's centre",
            share_2d,
            None,
            np.max(shares2),
            "best share of the 2D scan",
        ),
    ]
    return {
        "left_share_start": float(-losses[0]),
        "centre_adam": float(centre),
        "centre_scan": float(scan[best]),
        "scan_resolution": float(scan[1] - scan[0]),
        "left_share_adam": share_opt,
        "left_share_scan": float(shares[best]),
        "left_share_grid_error": grid_error,
        "left_share_langevin": sim_mean,
        "left_share_langevin_stderr": sim_stderr,
        "centre_2d_adam": [float(v) for v in centre2],
        "centre_2d_scan": [float(cx[best2]), float(cy[best2])],
        "scan_2d_resolution": [float(sx[1] - sx[0]), float(sy[1] - sy[0])],
        "left_share_2d_adam": share_2d,
        "left_share_2d_scan": float(np.max(shares2)),
        "max_current_2d": float(jnp.max(jnp.linalg.norm(J2, axis=-1))),
        "table": table,
    }
