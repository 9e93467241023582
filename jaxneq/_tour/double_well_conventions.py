r"""The blowtorch in a double well, with each stochastic-calculus convention.

A particle in $U = (x^2 - 1)^2$ with a hot spot $T(x) = 1 + 2\,e^{-(x - 0.5)^2 / (2 \cdot
0.3^2)}$ over the inner slope of the right well (`jaxneq.models.blowtorch`; units: k_B = 1,
mobility 1). With a temperature field the convention $\alpha$ of the noise matters: the
stationary density is $p \propto T^{\alpha - 1}\exp(-\int U'/T)$, so Ito ($\alpha = 0$, the
physical small-mass limit at constant friction) pushes probability out of the hot region,
Stratonovich ($1/2$) less, and the isothermal/anti-Ito/Hänggi convention ($1$) not at all
through the prefactor. For each convention the demo compares the Fokker–Planck grid
(`jaxneq.fokker_planck.stationary_density`, Scharfetter–Gummel, second order in the spacing)
with the closed form by quadrature (`jaxneq.fokker_planck.stationary_state_1d`), and the left
well's share from both; a Langevin ensemble (Euler–Maruyama, which carries the convention's
drift $\alpha\,\partial_x(\mu T)$) measures the left share within its standard error (Ito
only with `--quick`; all three otherwise). The Langevin numbers carry the O(dt) time-step
bias of Euler–Maruyama: the table states dt, and the default run repeats Ito at dt/2.
"""

from __future__ import annotations

import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

NAME = "double_well_conventions"
TITLE = "Blowtorch in a double well: Ito, Stratonovich and anti-Ito steady states"

CONVENTIONS = {"ito": 0.0, "stratonovich": 0.5, "isothermal": 1.0}
CENTRE, WIDTH, HEIGHT = 0.5, 0.3, 2.0
LOWER, UPPER = -2.0, 2.0


def _system(convention):
    import jaxneq as jn

    hot = jn.models.blowtorch(centre=CENTRE, width=WIDTH, height=HEIGHT)
    return jn.models.double_well(1.0, temperature=hot, convention=convention)


def _langevin_left_share(convention, b, n_steps, burn_in, dt, key):
    """Time-averaged fraction of members in x < 0, its SE over members."""
    left = np.asarray(_left_fractions(convention, b, n_steps, burn_in, dt, key), np.float64)
    left = left.reshape(b)
    return float(left.mean()), float(left.std(ddof=1) / np.sqrt(b))


@eqx.filter_jit
def _left_fractions(convention, b, n_steps, burn_in, dt, key):
    """Each member's time-averaged indicator of x < 0 (one compiled call)."""
    import jaxneq as jn

    x0 = jnp.where(jr.bernoulli(jr.fold_in(key, 0), 0.5, (b, 1)), 1.0, -1.0)
    res = jn.langevin.simulate(
        _system(convention),
        x0,
        key=jr.fold_in(key, 1),
        dt=dt,
        n_steps=n_steps,
        observables={"left": jn.observables.Mean(_is_left, burn_in=burn_in)},
        adjoint=_table.forward_only(),
    )
    return res.observables["left"]


def _is_left(x):
    return x[0] < 0


@eqx.filter_jit
def _steady_states(grid, n_cells):
    """Per convention: the grid's density and left share, the closed form at the cell
    centres and its left share (one compiled call for the three conventions)."""
    import jaxneq as jn

    fp = jn.fokker_planck
    out = {}
    for convention in CONVENTIONS:
        system = _system(convention)
        p_grid = fp.stationary_density(system, grid)
        # the closed form at the cell centres (odd points of a grid twice as fine) and at 0
        exact = fp.stationary_state_1d(system, LOWER, UPPER, 2 * n_cells)
        out[convention] = (
            p_grid,
            fp.region_probability(p_grid, grid, _is_left),
            exact.density[1::2],
            exact.cumulative[n_cells],
        )
    return out


def _figure(out_dir, centres, curves, out):
    import jaxneq as jn
    from jaxneq import plot

    title = (
        "Double well with a hot spot at x = 0.5: the Fokker–Planck grid (dots) lies on the "
        "closed form p ~ T^(alpha-1) exp(-∫U'/T) (lines) for each convention; left-well "
        "shares " + ", ".join(f"{c} {out[f'left_share_exact_{c}']:.3f}" for c in CONVENTIONS)
    )
    fig, axes = plot.panels(2, title=title)
    colours = {"ito": "tab:red", "stratonovich": "tab:blue", "isothermal": "tab:green"}
    for convention, (p_grid, p_exact) in curves.items():
        axes[0].plot(centres, p_exact, "-", color=colours[convention], label=f"{convention}")
        axes[0].plot(centres[::5], p_grid[::5], ".", color=colours[convention])
    temperature = np.asarray(jax.vmap(jn.models.blowtorch(CENTRE, WIDTH, HEIGHT))(centres[:, None]))
    axes[0].set(xlabel="x (length)", ylabel="stationary density p(x) (1 / length)")
    axes[0].legend(fontsize=8, loc="upper left")
    axes[1].plot(centres, temperature, "k-")
    axes[1].set(xlabel="x (length)", ylabel="temperature T(x) (energy, k_B = 1)")
    axes[1].set_title("the hot spot", fontsize=9)
    _figures.save(fig, out_dir / f"{NAME}.png")


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn

    from ._table import concurrently, size, stage

    say = stage(progress)
    n_cells = 200
    b, t_total, dt = size(quick, full, (1024, 10.0, 2e-3), (4096, 40.0, 2e-3), (65536, 80.0, 1e-3))
    simulated = ["ito"] if quick else list(CONVENTIONS)
    n_steps, burn_in = round(t_total / dt), round(2.0 / dt)
    grid = jn.fokker_planck.Grid(LOWER, UPPER, n_cells)
    out = {"dt": dt, "members": b, "steps": n_steps, "cells": n_cells}
    say(
        0.05,
        "at once: grids and closed forms of the three conventions; Langevin "
        f"({', '.join(simulated)}: {b} members x {n_steps} steps)",
    )
    runs = {
        c: (lambda i=i, c=c: _langevin_left_share(c, b, n_steps, burn_in, dt, jr.key(i)))
        for i, c in enumerate(CONVENTIONS)
        if c in simulated
    }
    states, *sims = concurrently(lambda: _steady_states(grid, n_cells), *runs.values())
    table, curves = _convention_rows(out, states, dict(zip(runs, sims, strict=True)))
    if not quick:
        say(0.85, "Ito at dt/2: the time-step bias")
        mean, se = _langevin_left_share("ito", b, 2 * n_steps, 2 * burn_in, dt / 2, jr.key(7))
        table.append(_half_dt_row(out, mean, se))
    say(0.95, "figure")
    _figure(out_dir, np.asarray(grid.centres)[:, 0], curves, out)
    out["table"] = table
    return out


def _convention_rows(out, states, sims):
    """For each convention: the grid's and (when simulated) Langevin's left share against
    the closed form; fills `out` and returns the rows and the density curves."""
    from ._table import row

    h, dt = (UPPER - LOWER) / out["cells"], out["dt"]
    table, curves = [], {}
    for convention, alpha in CONVENTIONS.items():
        p_grid, left_grid, p_exact, left_exact = (np.asarray(a) for a in states[convention])
        left_grid, left_exact = float(left_grid), float(left_exact)
        curves[convention] = (p_grid, p_exact)
        out[f"left_share_grid_{convention}"] = left_grid
        out[f"left_share_exact_{convention}"] = left_exact
        out[f"density_max_abs_error_grid_{convention}"] = float(np.abs(p_grid - p_exact).max())
        table.append(
            row(
                f"left share, {convention} (alpha = {alpha:g}), grid",
                left_grid,
                None,
                left_exact,
                f"p ~ T^(alpha-1) exp(-int U'/T) by quadrature; grid h = {h:g}, O(h^2)",
            )
        )
        if convention in sims:
            mean, se = sims[convention]
            out[f"left_share_langevin_{convention}"] = mean
            out[f"left_share_langevin_{convention}_stderr"] = se
            table.append(
                row(
                    f"left share, {convention}, Langevin (dt = {dt:g})",
                    mean,
                    se,
                    left_exact,
                    "closed form, dt -> 0 (Euler–Maruyama bias O(dt))",
                )
            )
    return table, curves


def _half_dt_row(out, mean, se):
    """Ito at dt/2 against the closed form: the time-step bias shrinks."""
    from ._table import row

    out["left_share_langevin_ito_half_dt"] = mean
    out["left_share_langevin_ito_half_dt_stderr"] = se
    return row(
        f"left share, ito, Langevin (dt = {out['dt'] / 2:g})",
        mean,
        se,
        out["left_share_exact_ito"],
        "closed form, dt -> 0",
    )
