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

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

NAME = "blowtorch_design"
TITLE = "Blowtorch design on a Fokker–Planck grid: maximise the left well's share"

WIDTH, HEIGHT = 0.3, 3.0
WIDTH_2D, BUDGET_2D, SPIN_2D = 0.35, 1.5, 1.0


def _system_1d(centre):
    import jaxneq as jn

    return jn.langevin.Overdamped(
        lambda x: jnp.sum((x**2 - 1) ** 2),
        temperature=jn.models.blowtorch(centre=centre, width=WIDTH, height=HEIGHT),
    )


def _left_share_1d(centre, grid):
    import jaxneq as jn

    p = jn.fokker_planck.stationary_density(_system_1d(centre), grid)
    return jn.fokker_planck.region_probability(p, grid, lambda x: x[0] < 0)


def _system_2d(centre):
    import jaxneq as jn

    height = BUDGET_2D / (2 * np.pi * WIDTH_2D**2)
    return jn.langevin.Overdamped(
        lambda x: (x[0] ** 2 - 1) ** 2 + x[1] ** 2,
        force=lambda x: SPIN_2D * jnp.stack([-x[1], x[0]]),
        temperature=jn.models.blowtorch(centre=centre, width=WIDTH_2D, height=height),
    )


def _centre_2d(raw):
    import jaxneq as jn

    return jnp.stack([jn.fokker_planck.bounded(raw[0], -1.5, 1.5), raw[1]])


def _left_share_2d(raw, grid):
    import jaxneq as jn

    p = jn.fokker_planck.stationary_density(_system_2d(_centre_2d(raw)), grid, method="lu")
    return jn.fokker_planck.region_probability(p, grid, lambda x: x[0] < 0)


def _adam_path(loss, x0, n_steps, learning_rate):
    """Adam steps; returns the final parameters, the path of parameters and the loss at
    each point of the path but the last."""
    import optax

    optimiser = optax.adam(learning_rate)

    @jax.jit
    def step(x, state):
        value, grad = jax.value_and_grad(loss)(x)
        updates, state = optimiser.update(grad, state, x)
        return optax.apply_updates(x, updates), state, value

    x, state, path, values = x0, optimiser.init(x0), [np.asarray(x0)], []
    for _ in range(n_steps):
        x, state, value = step(x, state)
        path.append(np.asarray(x))
        values.append(float(value))
    return x, np.stack(path), np.asarray(values)


def _langevin_left_share(centre, grid, quick, full=False):
    import jaxneq as jn

    from ._table import size

    system = _system_1d(centre)
    p = jn.fokker_planck.stationary_density(system, grid)
    n = size(quick, full, 512, 4096, 1 << 18)
    k1, k2, k3 = jr.split(jr.PRNGKey(0), 3)
    cells = jr.choice(k1, grid.n_cells, (n,), p=p * grid.volume)
    x0 = (grid.lower[0] + (cells + jr.uniform(k2, (n,))) * grid.spacing[0])[:, None]
    obs = {"left": jn.observables.Mean(lambda x: (x[0] < 0).astype(x.dtype))}
    res = jn.langevin.simulate(
        system, x0, key=k3, dt=2e-3, n_steps=4000 if quick else 20_000, observables=obs
    )
    values = np.asarray(res.observables["left"], dtype=np.float64).reshape(n)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n))


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn
    from jaxneq import plot

    from ._table import row, size, stage

    say = stage(progress)
    fp = jn.fokker_planck
    share_1d = jax.jit(_left_share_1d)
    density_1d = jax.jit(lambda c, g: fp.stationary_density(_system_1d(c), g))
    grid = fp.Grid(-2.0, 2.0, size(quick, full, 100, 400, 400))
    say(0.0, f"1D: scan of 201 hot-spot centres and Adam on a {grid.shape[0]}-cell grid")
    fine = fp.Grid(-2.0, 2.0, 2 * grid.shape[0])
    # brute force: one compiled vmap over centres
    scan = jnp.linspace(-0.5, 1.5, 201)
    shares = jax.jit(jax.vmap(lambda c: _left_share_1d(c, grid)))(scan)
    best = int(jnp.argmax(shares))
    centre, path, losses = _adam_path(
        lambda c: -_left_share_1d(c, grid), jnp.asarray(0.2), 80, 0.05
    )
    share_opt = float(share_1d(centre, grid))
    grid_error = abs(float(share_1d(centre, fine)) - share_opt)
    say(0.3, "1D: Langevin check of the optimum")
    sim_mean, sim_stderr = _langevin_left_share(centre, grid, quick, full)
    say(0.5, "2D: Adam and a brute-force scan with a heat budget and a rotational force")

    # 2D: bounded x position, fixed heat budget, rotational drive
    grid2 = fp.Grid((-2.0, -1.2), (2.0, 1.2), size(quick, full, (20, 12), (40, 24), (60, 36)))
    raw, path2, _ = _adam_path(
        lambda r: -_left_share_2d(r, grid2),
        jnp.array([0.3, 0.2]),
        size(quick, full, 40, 120, 120),
        0.1,
    )
    # brute force in 2D: the rotation breaks the y -> -y symmetry, so scan both coordinates
    sx, sy = jnp.linspace(-1.5, 1.5, 31), jnp.linspace(-0.6, 0.6, 13)
    cx, cy = (a.reshape(-1) for a in jnp.meshgrid(sx, sy, indexing="ij"))
    # vmap in batches (lax.map): a dense LU per centre, so memory grows with the batch
    # (403 centres at once on the 60 x 36 grid took 19 GB)
    shares2 = jax.jit(
        lambda a, b: jax.lax.map(
            lambda ab: _left_share_2d(
                jnp.stack([jn.fokker_planck.unbounded(ab[0], -1.5, 1.5), ab[1]]), grid2
            ),
            (a, b),
            batch_size=16,
        )
    )(cx, cy)
    best2 = int(jnp.argmax(shares2))
    centre2 = np.asarray(_centre_2d(raw))

    @jax.jit
    def density_and_current_2d(c):
        system2 = _system_2d(c)
        p = fp.stationary_density(system2, grid2, method="lu")
        return p, fp.current_field(system2, grid2, p)

    p2, J2 = density_and_current_2d(jnp.asarray(centre2))

    say(0.9, "figure")
    share_2d = float(fp.region_probability(p2, grid2, lambda x: x[0] < 0))
    fig, axes = plot.panels(
        3,
        title=(
            f"1D: Adam's hot spot c = {float(centre):.3f} vs scan {float(scan[best]):.2f} "
            f"(spacing {float(scan[1] - scan[0]):.2f}); left share {share_opt:.4f} on the grid, "
            f"{sim_mean:.4f} ± {sim_stderr:.4f} (1 SE) by Langevin"
        ),
    )
    plot.density_map(
        density_1d(jnp.asarray(0.2), grid),
        grid=grid,
        ax=axes[0],
        label="start (c = 0.2)",
        xlabel="x (length)",
        ylabel="stationary density (1 / length)",
    )
    plot.density_map(
        density_1d(centre, grid),
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
    plot.density_map(
        p2,
        grid=grid2,
        current=J2,
        ax=axes[2],
        xlabel="x (length)",
        ylabel="y (length)",
        colorbar_label="density (1 / length$^2$)",
        cmap="viridis",
        title=f"2D: left share {share_2d:.3f} (scan {float(jnp.max(shares2)):.3f})",
    )
    plot.ensemble_snapshot(
        np.asarray(jax.vmap(_centre_2d)(jnp.asarray(path2))),
        ax=axes[2],
        size=4,
        label="Adam path",
        xlabel="x (length)",
        ylabel="y (length)",
    )
    plot.ensemble_snapshot(
        centre2[None],
        ax=axes[2],
        marker="*",
        size=150,
        label="hot spot",
        xlabel="x (length)",
        ylabel="y (length)",
    )
    plot.save(fig, out_dir / f"{NAME}.png")

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
            jnp.max(shares2),
            "best share of the 2D scan",
        ),
    ]
    say(1.0, "done")
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
        "left_share_2d_scan": float(jnp.max(shares2)),
        "max_current_2d": float(jnp.max(jnp.linalg.norm(J2, axis=-1))),
        "table": table,
    }
