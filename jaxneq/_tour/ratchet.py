r"""Ratchet currents: the Büttiker–Landauer ratchet from Langevin, the grid and the closed form.

An overdamped particle (mobility 1; units: k_B = 1) on a ring of period $L = 1$ in
$U = \tfrac{h}{2}[1 - \cos 2\pi x]$ ($h = 2$) with a temperature $T(x) = 1 + a\cos(2\pi x -
\varphi)$ ($a = 0.5$; `jaxneq.models.buttiker_landauer_ratchet`, Ito). Neither the potential
nor the temperature profile alone drives a current; together they do unless $T$ is a
function of $U$ ($\varphi = 0$) or uniform ($a = 0$), and the sign follows the phase:
$\varphi = \pm\pi/2$ heats the slopes that climb towards $\pm x$. The mean velocity is
computed three ways: the closed form by quadrature (`jaxneq.fokker_planck.stationary_state_1d`,
Büttiker 1987, Landauer 1988), the Fokker–Planck grid (`jaxneq.fokker_planck`, periodic,
$O(h^2)$), and a Langevin ensemble (displacement over time after a burn-in; standard error
over members). Euler–Maruyama biases the velocity by $O(dt)$ (measured here: about
$-18\,dt$ at $\varphi = \pi/2$), so the ensemble runs at $dt$ and $dt/2$ and the table also
shows the Richardson extrapolation $2v(dt/2) - v(dt)$ (its standard error included), which is
what is compared with the closed form.
"""

from __future__ import annotations

import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

NAME = "ratchet"
TITLE = "Büttiker–Landauer ratchet: current from Langevin, the grid and the closed form"

BARRIER, MODULATION = 2.0, 0.5
# (label, phase, modulation) of the cases simulated
CASES = (
    ("phase +pi/2", np.pi / 2, MODULATION),
    ("phase 0 (T a function of U)", 0.0, MODULATION),
    ("phase -pi/2", -np.pi / 2, MODULATION),
    ("uniform T (a = 0)", np.pi / 2, 0.0),
)
CURVE_PHASES = np.linspace(-np.pi, np.pi, 121)  # the closed form in the figure


def _system(phase, modulation):
    import jaxneq as jn

    return jn.models.buttiker_landauer_ratchet(BARRIER, 1.0, modulation, phase)


def _velocities(b, t, dt, keys):
    """Mean velocity of each case at dt and at dt/2 and its standard error: one compiled
    loop over the cases and both time steps, each run for the same number of steps (the
    burn-in t >= 1 and the time t at dt/2; twice both at dt)."""
    dts = np.repeat([dt, dt / 2], len(CASES))
    phases = np.tile([c[1] for c in CASES], 2)
    modulations = np.tile([c[2] for c in CASES], 2)
    dtype = jnp.result_type(float)
    v = np.asarray(
        _velocity_samples(
            *(jnp.asarray(a, dtype) for a in (phases, modulations, dts)),
            keys,
            b,
            round(t / (dt / 2)),
            round(1.0 / (dt / 2)),
        )
    ).reshape(2, len(CASES), b)
    return v.mean(axis=-1), v.std(axis=-1, ddof=1) / np.sqrt(b)


@eqx.filter_jit
def _velocity_samples(phases, modulations, dts, keys, b, n_steps, n_burn):
    import jaxneq as jn

    def one(phase, modulation, dt, k):
        system = _system(phase, modulation)
        x0 = jr.uniform(jr.fold_in(k, 0), (b, 1), dtype=dt.dtype)
        warm = jn.langevin.simulate(
            system, x0, key=jr.fold_in(k, 1), dt=dt, n_steps=n_burn, adjoint=_table.forward_only()
        ).x
        end = jn.langevin.simulate(
            system,
            warm,
            key=jr.fold_in(k, 2),
            dt=dt,
            n_steps=n_steps,
            adjoint=_table.forward_only(),
        ).x
        return (end - warm)[:, 0] / (n_steps * dt)

    # a loop over the runs: on a CPU it compiles and runs faster than a vmap
    return jax.lax.map(lambda a: one(*a), (phases, modulations, dts, keys))


@eqx.filter_jit
def _deterministic(phases, modulations, grid, curve_phases):
    """Closed-form and grid velocities of the cases, the closed form along `curve_phases`
    (at the modulation of the figure) and the closed-form state of the first case (one
    compiled call)."""
    import jaxneq as jn

    fp = jn.fokker_planck

    def on_grid(phase, modulation):
        system = _system(phase, modulation)
        p = fp.stationary_density(system, grid)
        return jnp.mean(fp.current_field(system, grid, p))  # J L, L = 1

    n = phases.shape[0]
    all_phases = jnp.concatenate([phases, curve_phases])
    all_modulations = jnp.concatenate(
        [modulations, jnp.full(curve_phases.shape, MODULATION, modulations.dtype)]
    )
    states = jax.vmap(
        lambda ph, a: fp.stationary_state_1d(_system(ph, a), 0.0, 1.0, periodic=True)
    )(all_phases, all_modulations)
    v = states.velocity
    grid_v = jax.vmap(on_grid)(phases, modulations)
    return v[:n], grid_v, v[n:], states.x[0], states.density[0]


def _figure(out_dir, exact, on_grid, extrapolated, se_extrapolated, curve, state):
    from jaxneq import plot

    phases = CURVE_PHASES
    shown = [i for i, c in enumerate(CASES) if c[2] == MODULATION]
    fig, axes = plot.panels(
        2,
        title=(
            f"Büttiker–Landauer ratchet (h = {BARRIER:g}, a = {MODULATION:g}): Langevin "
            f"extrapolated in dt ({extrapolated[0]:.3f} ± {se_extrapolated[0]:.3f}), grid "
            f"({on_grid[0]:.4f}) and closed form ({exact[0]:.4f}) agree; zero at phase 0 and "
            "at uniform T"
        ),
    )
    plot.estimates(
        [CASES[i][1] for i in shown],
        extrapolated[shown],
        se_extrapolated[shown],
        exact=(phases, curve),
        ax=axes[0],
        label="Langevin, 2 v(dt/2) - v(dt)",
        exact_label="closed form (quadrature)",
        xlabel=r"phase $\varphi$ of T(x) against U(x) (rad)",
        ylabel="mean velocity (periods / time)",
    )
    axes[0].plot(
        [CASES[i][1] for i in shown], [on_grid[i] for i in shown], "s", mfc="none", label="grid"
    )
    axes[0].legend(fontsize=8)
    x, density = state
    axes[1].plot(x, density, "k-", label="density p(x) (1 / period)")
    axes[1].plot(x, BARRIER / 2 * (1 - np.cos(2 * np.pi * x)), "--", label="U(x) (energy)")
    axes[1].plot(x, 1 + MODULATION * np.cos(2 * np.pi * x - np.pi / 2), ":", label="T(x) (energy)")
    axes[1].set(xlabel="x (periods)", ylabel="value")
    axes[1].set_title("phase +pi/2: hot slopes climbing to +x", fontsize=9)
    axes[1].legend(fontsize=8)
    _figures.save(fig, out_dir / f"{NAME}.png")


def _rows(label, phase, modulation, exact, on_grid, measured, dt, n_cells):
    """The table rows of one case: grid, Langevin at dt and dt/2, and the extrapolation."""
    from ._table import row

    v1, se1, v2, se2, extrapolated, se_extrapolated = measured
    unit = "period / time"
    reference, label_exact = exact, "closed form"
    if phase == 0.0 or modulation == 0.0:  # T a function of U, or uniform: no current
        reference, label_exact = 0.0, f"0 by symmetry (quadrature: {exact:.0e})"
    return [
        row(
            f"{label}: grid", on_grid, None, reference, f"{label_exact}; h = {1 / n_cells:g}", unit
        ),
        row(
            f"{label}: Langevin dt = {dt:g}",
            v1,
            se1,
            reference,
            f"{label_exact}, dt -> 0 (Euler–Maruyama bias O(dt))",
            unit,
        ),
        row(
            f"{label}: Langevin dt = {dt / 2:g}",
            v2,
            se2,
            reference,
            f"{label_exact}, dt -> 0 (Euler–Maruyama bias O(dt))",
            unit,
        ),
        row(
            f"{label}: 2 v(dt/2) - v(dt)",
            extrapolated,
            se_extrapolated,
            reference,
            f"{label_exact} (bias O(dt^2) left)",
            unit,
        ),
    ]


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn

    from ._table import concurrently, size, stage

    say = stage(progress)
    b, t, dt = size(quick, full, (2048, 5.0, 4e-3), (4096, 10.0, 2e-3), (65536, 20.0, 1e-3))
    n_cells = 200
    say(0.0, f"closed form, grid and Langevin at dt = {dt:g} and {dt / 2:g} ({b} members), at once")
    grid = jn.fokker_planck.Grid(0.0, 1.0, n_cells, periodic=True)
    dtype = jnp.result_type(float)
    keys = jnp.concatenate([jr.split(jr.key(0), len(CASES)), jr.split(jr.key(1), len(CASES))])
    deterministic, ((v1, v2), (se1, se2)) = concurrently(
        lambda: _deterministic(
            jnp.asarray([c[1] for c in CASES], dtype),
            jnp.asarray([c[2] for c in CASES], dtype),
            grid,
            jnp.asarray(CURVE_PHASES, dtype),
        ),
        lambda: _velocities(b, t, dt, keys),
    )
    exact, on_grid, curve, *state = (np.asarray(a) for a in deterministic)
    exact, on_grid = [float(v) for v in exact], [float(v) for v in on_grid]
    extrapolated, se_extrapolated = 2 * v2 - v1, np.sqrt(4 * se2**2 + se1**2)
    measured = np.stack([v1, se1, v2, se2, extrapolated, se_extrapolated])

    out = {"dt": dt, "members": b, "time": t, "cells": n_cells, "cases": [c[0] for c in CASES]}
    table = []
    for i, (label, phase, modulation) in enumerate(CASES):
        key = f"case{i}"
        out.update(
            {
                f"{key}_phase": float(phase),
                f"{key}_modulation": float(modulation),
                f"{key}_velocity_exact": exact[i],
                f"{key}_velocity_grid": on_grid[i],
                f"{key}_velocity_langevin_dt": float(v1[i]),
                f"{key}_velocity_langevin_dt_stderr": float(se1[i]),
                f"{key}_velocity_langevin_half_dt": float(v2[i]),
                f"{key}_velocity_langevin_half_dt_stderr": float(se2[i]),
                f"{key}_velocity_extrapolated": float(extrapolated[i]),
                f"{key}_velocity_extrapolated_stderr": float(se_extrapolated[i]),
            }
        )
        table += _rows(label, phase, modulation, exact[i], on_grid[i], measured[:, i], dt, n_cells)
    out["table"] = table

    say(0.9, "figure")
    _figure(out_dir, exact, on_grid, extrapolated, se_extrapolated, curve, state)
    return out
