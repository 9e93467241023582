r"""Rattling from trajectories alone: fit $\gamma$ for a driven 2D particle.

Units: k_B = 1. An overdamped particle in a weak quartic trap $U = |x|^4/20$, pushed
around by a non-conservative rotational force $\varepsilon(-y, x)$, with an anisotropic,
state-dependent temperature (one field per degree of freedom,
$T_x = 0.3 + |x|^2 + xy/2$, $T_y = 0.2 + |x|^2/2 + \tanh(x)/2$: the noise grows away
from the centre and confines the particle more than the trap does) is simulated with
`jaxneq.langevin.simulate`. From the saved trajectories alone,
`jaxneq.rattling.from_trajectories` estimates the rattling $\mathcal R(x)$ and the
density $p(x)$ on bins, and `jaxneq.rattling.fit_gamma` fits $p \approx e^{-\gamma\mathcal R}/Z$;
$\gamma$'s standard error comes from independent groups of the ensemble (batch means). The
references: the exact rattling $\tfrac12\log\det D(x)$ (`jaxneq.rattling.from_diffusion`)
and the stationary density of the Fokker–Planck equation on the same cells
(`jaxneq.fokker_planck.stationary_density`), fitted the same way.
"""

from __future__ import annotations

import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

NAME = "rattling_fit"
TITLE = "Rattling from trajectories: fit gamma for a driven 2D particle with a temperature field"

ROTATION = 0.8  # epsilon of the non-conservative force epsilon * (-y, x)
LOWER, UPPER, CELLS = -2.5, 2.5, 20  # bins of the estimator = cells of the reference grid
MIN_COUNT = 400  # bins fitted: at least this many samples in every group


def temperature(x):
    """Per-dof temperature field $(T_x, T_y)$ at $x$ `[2]`."""
    r2 = x[0] ** 2 + x[1] ** 2
    return jnp.stack([0.3 + r2 + 0.5 * x[0] * x[1], 0.2 + 0.5 * r2 + 0.5 * jnp.tanh(x[0])])


def _potential(x):
    return 0.05 * jnp.sum(x**2) ** 2


def _rotation(x):
    return ROTATION * jnp.stack([-x[1], x[0]])


def system():
    import jaxneq as jn

    return jn.langevin.Overdamped(_potential, force=_rotation, temperature=temperature)


@eqx.filter_jit
def _fields_and_fits(x0, n_groups, n_steps, burn_in, dt, window):
    """Trajectories, rattling and density per group and pooled, the bins kept and the fits
    of gamma (one compiled call)."""
    import jaxneq as jn

    b = x0.shape[0]
    # the saved trajectory is n_steps x b x 2 floats (330 MB in float64 at the full size)
    run_ = jn.langevin.simulate(
        system(),
        x0,
        key=jr.key(1),
        dt=dt,
        n_steps=n_steps,
        save_every=1,
        adjoint=_table.forward_only(),
    )
    x = run_.trajectory[burn_in:].reshape(-1, n_groups, b // n_groups, 2)
    edges = jnp.linspace(LOWER, UPPER, CELLS + 1, dtype=x0.dtype)

    def field_of(xg):
        return jn.rattling.from_trajectories(xg, dt, window, edges=(edges, edges))

    fields = jax.vmap(field_of, 1)(x)  # one field per group
    whole = field_of(x.reshape(x.shape[0], b, 2))
    keep = jnp.all(fields.sample_counts >= MIN_COUNT, axis=0) & jnp.all(
        fields.window_counts > 0, axis=0
    )
    w = keep.astype(x0.dtype)
    group_fits = jax.vmap(lambda f: jn.rattling.fit_gamma(f.density, f.rattling, weights=w))(fields)
    fit = jn.rattling.fit_gamma(whole.density, whole.rattling, weights=w)
    return whole, keep, group_fits.gamma, fit


@eqx.filter_jit
def _reference():
    """Exact rattling 1/2 log det D (mobility 1: D = T) and the Fokker-Planck stationary
    density on the estimator's cells (one compiled call)."""
    import jaxneq as jn

    lo, hi, n = LOWER - 1.0, UPPER + 1.0, CELLS + 8  # 4 more cells of width 0.25 each side
    grid = jn.fokker_planck.Grid((lo, lo), (hi, hi), (n, n))
    p_fp = jn.fokker_planck.stationary_density(system(), grid)[4:-4, 4:-4]
    centres = grid.centres[4:-4, 4:-4]
    R_exact = jn.rattling.from_diffusion(jax.vmap(jax.vmap(temperature))(centres), kind="diagonal")
    return p_fp, R_exact


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import jaxneq as jn

    from ._table import concurrently, size, stage

    say = stage(progress)
    dtype = jnp.result_type(float)
    n_groups, per_group = size(quick, full, (8, 24), (16, 64), (16, 256))
    n_steps, burn_in, dt, window = size(
        quick, full, (5000, 1000, 2e-3, 8), (20_000, 2000, 1e-3, 10), (20_000, 2000, 1e-3, 10)
    )
    b = n_groups * per_group
    say(0.0, f"simulate {b} members x {n_steps} steps, trajectories saved")
    x0 = jr.normal(jr.key(0), (b, 2), dtype)
    say(0.3, "rattling and density from the trajectories, fits of gamma; Fokker–Planck reference")
    (whole, keep, gamma_groups, fit), (p_fp, R_exact) = concurrently(
        lambda: _fields_and_fits(x0, n_groups, n_steps, burn_in, dt, window),
        _reference,
    )
    fit_exact = jax.jit(jn.rattling.fit_gamma)(p_fp, R_exact, weights=keep.astype(dtype))
    gamma_groups = np.asarray(gamma_groups)
    gamma_stderr = float(gamma_groups.std(ddof=1) / np.sqrt(n_groups))
    n_samples = (n_steps + 1 - burn_in) * b
    # the trajectory R against the exact one (up to a constant): slope and scatter
    r_meas = np.asarray(whole.rattling)[np.asarray(keep)]
    r_ex = np.asarray(R_exact)[np.asarray(keep)]
    slope = float(np.polyfit(r_ex, r_meas, 1)[0])
    offset = r_meas - r_ex
    p_meas = np.asarray(whole.density)[np.asarray(keep)]
    p_ref = np.asarray(p_fp)[np.asarray(keep)]

    r = {
        "fit": fit,
        "r_ex": r_ex,
        "whole": whole,
        "keep": keep,
        "r_meas": r_meas,
        "gamma_stderr": gamma_stderr,
        "offset": offset,
        "slope": slope,
        "fit_exact": fit_exact,
        "n_samples": n_samples,
        "n_groups": n_groups,
        "dtype": dtype,
        "gamma_groups": gamma_groups,
        "p_meas": p_meas,
        "p_ref": p_ref,
    }
    say(0.9, "figure")
    _figure(out_dir, r)
    say(1.0, "done")
    return _numbers(r)


def _figure(out_dir, r):
    """p against exp(-gamma R), the measured rattling against the exact one."""
    from jaxneq import plot

    fit, r_ex, whole, keep, r_meas = r["fit"], r["r_ex"], r["whole"], r["keep"], r["r_meas"]
    gamma_stderr, offset, slope = r["gamma_stderr"], r["offset"], r["slope"]
    fit_exact = r["fit_exact"]
    fig, axes = plot.panels(
        2,
        title=(
            f"gamma from trajectories {float(fit.gamma):.2f} ± {gamma_stderr:.2f} (1 SE) vs "
            f"{float(fit_exact.gamma):.2f} from the Fokker–Planck density and ½ log det D "
            "on the same bins"
        ),
    )
    plot.rattling_law(
        whole.density,
        whole.rattling,
        fit,
        where=keep,
        ax=axes[0],
        label="bins (trajectories)",
        ylabel="measured density p (1 / length$^2$)",
    )
    plot.estimates(
        r_ex,
        r_meas - offset.mean(),
        exact=(np.sort(r_ex), np.sort(r_ex)),
        ax=axes[1],
        label="from trajectories (shifted)",
        exact_label=r"$\frac{1}{2}\log\det D(x)$",
        xlabel=r"exact rattling $\frac{1}{2}\log\det D$ (nats)",
        ylabel="estimated rattling (nats)",
        fmt=".",
        title=f"slope {slope:.3f}, scatter {float(offset.std()):.3f}",
    )
    _figures.save(fig, out_dir / f"{NAME}.png")


def _numbers(r) -> dict:
    """The flat numbers the tests check and the table."""
    from ._table import row

    n_samples, n_groups, gamma_stderr = r["n_samples"], r["n_groups"], r["gamma_stderr"]
    slope, fit, fit_exact, dtype = r["slope"], r["fit"], r["fit_exact"], r["dtype"]
    gamma_groups, keep, offset, p_meas = r["gamma_groups"], r["keep"], r["offset"], r["p_meas"]
    p_ref = r["p_ref"]

    table = [
        row(
            "gamma from trajectories",
            fit.gamma,
            gamma_stderr,
            fit_exact.gamma,
            "Fokker–Planck density (cells h = 0.25) and ½ log det D, same bins",
        ),
        row("slope of estimated vs exact rattling", slope, None, 1.0, "R = ½ log det D + const"),
        row(
            "R^2 of the fit (trajectories)",
            fit.r_squared,
            None,
            fit_exact.r_squared,
            "R^2 of the exact fit",
        ),
    ]
    return {
        "dtype": str(jnp.dtype(dtype)),
        "n_samples": n_samples,
        "n_groups": n_groups,
        "n_bins_fitted": int(keep.sum()),
        "gamma": float(fit.gamma),
        "gamma_stderr": gamma_stderr,
        "gamma_groups": gamma_groups.tolist(),
        "r_squared": float(fit.r_squared),
        "kl": float(fit.kl),
        "gamma_exact_density_and_rattling": float(fit_exact.gamma),
        "r_squared_exact": float(fit_exact.r_squared),
        "kl_exact": float(fit_exact.kl),
        "rattling_slope_vs_exact": slope,
        "rattling_offset_spread": float(offset.std()),
        "density_max_rel_err_vs_fokker_planck": float(np.max(np.abs(p_meas / p_ref - 1))),
        "table": table,
    }
