r"""Typicality of the rattling law, measured: thousands of random driven rings in one call.

Units: k_B = 1. Random rings of wells (`jaxneq.models.random_driven_ring`: Gaussian well
depths of spread 1, Gaussian barrier heights of spread $\sigma_B$, a uniform drive $f$ per
jump) are swept over a grid of $(\sigma_B, f)$, many chains per point, as ONE compiled
computation (a vmap on an accelerator, a loop on a CPU): exact stationary law
(`jaxneq.markov.stationary`), rattling $\log\lambda$ (`jaxneq.rattling.from_rates`) and
the fit $\pi \approx e^{-\gamma R}/Z$ (`jaxneq.rattling.fit_gamma`). At $\sigma_B = 0$
the law is exact ($\gamma = 1$) for any drive; barriers spread against well depths break
it, and a strong drive restores it (the embedded jump chain becomes a one-way, doubly
stochastic walk).

Then the same measurement for continuous systems: random smooth landscapes on a periodic
Fokker–Planck grid (`jaxneq.models.random_grid_system`: a random potential of spread
$\sigma_U$, a random temperature field with $\log T$ of spread 0.5, a uniform drive $f$
around the ring), exact grid densities (`jaxneq.fokker_planck.stationary_density`, O(n) in
1D) and $R = \tfrac12 \log(\mu T)$. Without potential and drive the law is exact with
$\gamma = 2$ (Ito: $p \propto 1/T$); the potential breaks it.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures

NAME = "rattling_typicality"
TITLE = "Rattling typicality: gamma and fit quality over thousands of random driven chains"

SEED = 0


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    from ._table import concurrently, stage

    say = stage(progress)
    one, keys, barrier_spreads, drives, n_states = _ring_setup(quick, full)
    n_chains = keys.shape[0]
    n_total = len(barrier_spreads) * len(drives) * n_chains
    setup = _grid_setup(quick, full)
    say(
        0.0,
        f"at once: {n_total} random rings of {n_states} states, and random landscapes on a "
        "grid: stationary laws and fits, one call each",
    )
    (mean, se, n_systems), grid_sweep = concurrently(
        lambda: _sweep(one, keys, barrier_spreads, drives, ("gamma", "r2", "kl")),
        lambda: _sweep(*setup[:4], ("gamma", "r2")),
    )
    say(0.9, "figure")
    _figure(
        out_dir / f"{NAME}.png",
        f"{n_systems} random driven rings of {n_states} states, one compiled call: equal "
        "barriers obey the law (gamma = 1) at any drive; spread barriers break it",
        mean,
        se,
        barrier_spreads,
        drives,
        exact=(
            np.where(barrier_spreads == 0, 1.0, np.nan),
            r"$\gamma = 1$ (exact for equal barriers)",
        ),
        xlabel="barrier spread / well-depth spread",
    )
    table = _ring_rows(mean, se, barrier_spreads, drives, n_chains)
    say(0.95, "figure of the grids")
    grids = _grid_report(out_dir, setup, grid_sweep)
    table += grids.pop("rows")
    say(1.0, "done")
    return {
        **grids,
        "seed": SEED,
        "n_states": n_states,
        "n_chains_per_point": n_chains,
        "n_systems": int(n_systems),
        "barrier_spreads": barrier_spreads.tolist(),
        "drives": drives.tolist(),
        "dtype": str(mean["gamma"].dtype),
        "gamma_mean": mean["gamma"].tolist(),
        "gamma_stderr": se["gamma"].tolist(),
        "r_squared_mean": mean["r2"].tolist(),
        "kl_mean": mean["kl"].tolist(),
        "table": table,
    }


def _ring_setup(quick: bool, full: bool):
    """The random driven rings: the fit of one ring, the keys of the chains, the barrier
    spreads and drives swept, and the number of states."""
    import jaxneq as jn

    from ._table import size

    n_states = size(quick, full, 12, 32, 64)
    n_chains = size(quick, full, 24, 256, 1024)
    barrier_spreads = np.asarray(
        size(quick, full, [0.0, 0.5, 1.0, 2.0], np.linspace(0.0, 3.0, 7), np.linspace(0, 3, 13))
    )
    many = [0.0, 1.0, 2.0, 4.0, 6.0, 10.0]
    drives = np.asarray(size(quick, full, [0.0, 2.0, 6.0], many, many))
    keys = jr.split(jr.key(SEED), n_chains)

    def one(key, barrier_spread, drive):
        rates = jn.models.random_driven_ring(
            key, n_states, well_spread=1.0, barrier_spread=barrier_spread, drive=drive
        )
        p = jn.markov.stationary(rates, method="lu")  # fast to compile; GTH for extreme chains
        fit = jn.rattling.fit_gamma(p, jn.rattling.from_rates(rates))
        return fit.gamma, fit.r_squared, fit.kl

    return one, keys, barrier_spreads, drives, n_states


def _ring_rows(mean, se, barrier_spreads, drives, n_chains) -> list[dict]:
    """gamma = 1 exactly for equal barriers at every drive; the widest spread measured."""
    from ._table import row

    table = [
        row(
            f"gamma, equal barriers, drive {f:g}",
            mean["gamma"][0, k],
            None,
            1.0,
            "exact: e^(-R) law holds for equal barriers",
        )
        for k, f in enumerate(drives)
    ]
    for k in (0, len(drives) - 1):
        table.append(
            row(
                f"gamma, barrier spread {barrier_spreads[-1]:g}, drive {drives[k]:g}",
                mean["gamma"][-1, k],
                se["gamma"][-1, k],
                None,
                f"mean over {n_chains} chains (SE over chains)",
            )
        )
    return table


def _grid_setup(quick: bool, full: bool):
    """Rattling typicality of random smooth landscapes on a periodic 1D grid: the function
    of one system, keys, spreads, drives (the arguments of `_sweep`) and the sizes."""
    import jaxneq as jn

    from ._table import size

    n_cells = size(quick, full, 64, 128, 256)
    n_systems = size(quick, full, 16, 128, 512)
    spreads = np.asarray(
        size(
            quick,
            full,
            [0.0, 0.5, 1.0, 2.0],
            [0.0, 0.5, 1.0, 1.5, 2.0, 3.0],
            np.linspace(0.0, 3.0, 13),
        )
    )
    drives = np.asarray(size(quick, full, [0.0, 6.0], [0.0, 2.0, 6.0], [0.0, 2.0, 6.0, 12.0]))
    grid = jn.fokker_planck.Grid(0.0, 1.0, n_cells, periodic=True)
    keys = jr.split(jr.key(SEED + 1), n_systems)

    def one(key, spread, drive):
        system = jn.models.random_grid_system(
            key, grid, potential_spread=spread, temperature_spread=0.5, drive=drive
        )
        p = jn.fokker_planck.stationary_density(system, grid).reshape(-1)
        D = jax.vmap(system.diffusion_coefficient_at)(grid.centres.reshape(-1, 1))
        fit = jn.rattling.fit_gamma(p, jn.rattling.from_diffusion(D[:, 0], kind="scalar"))
        return fit.gamma, fit.r_squared

    return one, keys, spreads, drives, n_cells, n_systems


def _grid_report(out_dir: pathlib.Path, setup, sweep) -> dict:
    """The figure, the rows and the numbers of the grid sweep."""
    from ._table import row

    _, _, spreads, drives, n_cells, n_systems = setup
    mean, se, n_total = sweep
    _figure(
        out_dir / f"{NAME}_grids.png",
        f"{n_total} random landscapes on a {n_cells}-cell ring, one compiled call: no potential "
        "and no drive obey the law exactly (gamma = 2, Ito); a potential breaks it",
        mean,
        se,
        spreads,
        drives,
        exact=(
            np.where(spreads == 0, 2.0, np.nan),
            r"$\gamma = 2$ (exact without potential and drive)",
        ),
        xlabel="potential spread (k_B T)",
    )
    rows = [
        row(
            "gamma, flat landscape, no drive (grid)",
            mean["gamma"][0, 0],
            None,
            2.0,
            "exact: p ∝ 1/T (Ito), gamma = 2",
        ),
        row(
            f"gamma, potential spread {spreads[-1]:g}, no drive (grid)",
            mean["gamma"][-1, 0],
            se["gamma"][-1, 0],
            None,
            f"mean over {n_systems} landscapes (SE over them)",
        ),
        row(
            f"R^2, potential spread {spreads[-1]:g}, no drive (grid)",
            mean["r2"][-1, 0],
            se["r2"][-1, 0],
            None,
            f"mean over {n_systems} landscapes (SE over them)",
        ),
    ]
    return {
        "grid_cells": n_cells,
        "grid_systems_per_point": n_systems,
        "grid_potential_spreads": spreads.tolist(),
        "grid_drives": drives.tolist(),
        "grid_gamma_mean": mean["gamma"].tolist(),
        "grid_gamma_stderr": se["gamma"].tolist(),
        "grid_r_squared_mean": mean["r2"].tolist(),
        "rows": rows,
    }


LABELS = {"gamma": r"mean $\gamma$", "r2": r"mean $R^2$ of the fit", "kl": "mean KL (nats)"}


def _sweep(one, keys, spreads, drives, names):
    """`one(key, spread, drive)` over systems x drives x spreads in ONE compiled call: the
    mean and standard error over systems of each output, `[spread, drive]`, by name. On a
    CPU the call is a loop (`lax.map`: it compiles in half the time of the vmap and runs as
    fast at these sizes), on an accelerator a vmap."""
    dtype = jnp.result_type(float)
    shape = (len(spreads), len(drives), len(keys))
    i, k, j = np.indices(shape).reshape(3, -1)
    args = (keys[j], jnp.asarray(spreads, dtype)[i], jnp.asarray(drives, dtype)[k])
    if jax.default_backend() == "cpu":
        out = jax.jit(lambda *a: jax.lax.map(lambda b: one(*b), a))(*args)
    else:
        out = jax.jit(jax.vmap(one))(*args)
    out = [np.asarray(a).reshape(shape) for a in out]  # each [spread, drive, system]
    n = len(keys)
    mean = {name: a.mean(-1) for name, a in zip(names, out, strict=True)}
    se = {name: a.std(-1, ddof=1) / np.sqrt(n) for name, a in zip(names, out, strict=True)}
    return mean, se, out[0].size


def _figure(path, title, mean, se, spreads, drives, exact, xlabel):
    """One panel per swept quantity: mean +- SE against the spread, one curve per drive,
    the exact gamma where it is known (NaN elsewhere: not drawn)."""
    from jaxneq import plot

    names = [name for name in LABELS if name in se]
    fig, axes = plot.panels(len(names), title=title)
    for ax, name in zip(axes, names, strict=True):
        for k, f in enumerate(drives):
            plot.estimates(
                spreads,
                mean[name][:, k],
                se[name][:, k],
                ax=ax,
                fmt="o-",
                exact=exact[0] if name == "gamma" and k == 0 else None,
                exact_label=exact[1],
                label=f"drive f = {f:g}",
                xlabel=xlabel,
                ylabel=LABELS[name],
            )
    _figures.save(fig, path)
