r"""Bit erasure and the Landauer bound: the mean work approaches $T\ln 2$ from above.

One bit is a particle in the double well $h(x^2 - 1)^2$ ($h = 8T$; units: k_B = 1, $T = 1$),
left or right with probability 1/2. `jaxneq.models.bit_erasure` erases it in four stages of
$\tau/4$ (lower the barrier, tilt by $f = 4T$ towards $x > 0$, raise the barrier, remove the
tilt), and `jaxneq.observables.Work` measures the Sekimoto work $\int \partial_t U\,dt$ on
each trajectory. Landauer's principle is a BOUND, $\langle W\rangle \geq T[\ln 2 - H(p)]$
with $p$ the probability that the bit ends on the wrong side ($H$ its binary entropy: the
bound is $T\ln 2$ for a perfect erasure); at finite $\tau$ the work exceeds it by an amount
that decays like $1/\tau$ for slow protocols (finite-time thermodynamics: Schmiedl and
Seifert, EPL 81, 20003 (2008); Proesmans, Ehrich and Bechhoefer, PRL 125, 100602 (2020)). The
library has no exact finite-time value for this protocol, so the demo shows the bound as a
bound, the measured excess, and a weighted fit $W = a + c/\tau$ whose intercept $a$ should
be $T\ln 2$. All durations run in one vmapped `simulate` (the duration is a parameter of the
system); the position of each member is saved every time unit so the success probability is
read at the end of its own protocol. Euler–Maruyama at step $dt$ biases the work by $O(dt)$:
the same batch holds a copy of one protocol at mobility 1/2 and twice the duration, which is
the same process in units of $\mu t$ simulated at step $dt/2$, so its difference from the
original is the time-step bias (measured, with its standard error).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures, _table

NAME = "bit_erasure"
TITLE = "Bit erasure: mean work against the Landauer bound T ln 2, and the 1/duration trend"

BARRIER, TILT, T = 8.0, 4.0, 1.0


def _binary_entropy(p):
    p = np.clip(p, 1e-300, 1 - 1e-16)
    return float(-(p * np.log(p) + (1 - p) * np.log1p(-p)))


def _simulate(durations, mobilities, b, dt, key):
    """Work [n, b] and the positions every time unit [n, frames, b] of each protocol."""
    import jaxneq as jn

    t_max = max(durations)  # after its protocol a member's work no longer changes
    n_steps, every = round(t_max / dt), round(1.0 / dt)

    def one(duration, mobility, k):
        ka, kb, kc = jr.split(k, 3)
        # equilibrium in the symmetric well: half the members relaxed in each well (exact by
        # symmetry; the barrier of 8 T keeps them there)
        x0 = jnp.where(jr.bernoulli(ka, 0.5, (b, 1)), 1.0, -1.0).astype(jnp.result_type(float))
        well = jn.models.double_well(BARRIER, temperature=T, mobility=mobility)
        x0 = jn.langevin.simulate(
            well, x0, key=kb, dt=dt, n_steps=round(1.0 / dt), adjoint=_table.forward_only()
        ).x
        system = jn.models.bit_erasure(duration, BARRIER, TILT, T, mobility)
        res = jn.langevin.simulate(
            system,
            x0,
            key=kc,
            dt=dt,
            n_steps=n_steps,
            save_every=every,
            observables={"w": jn.observables.Work()},
            adjoint=_table.forward_only(),
        )
        return res.observables["w"], res.trajectory[..., 0]

    keys = jr.split(key, len(durations))
    w, x = jax.jit(jax.vmap(one))(jnp.asarray(durations), jnp.asarray(mobilities), keys)
    return np.asarray(w, np.float64), np.asarray(x, np.float64)


def _fit_inverse_duration(durations, means, stderrs):
    """Weighted least squares W = a + c / tau: (a, se_a, c, se_c)."""
    X = np.stack([np.ones_like(durations), 1 / durations], axis=1)
    weight = 1 / stderrs**2
    cov = np.linalg.inv(X.T @ (X * weight[:, None]))
    a, c = cov @ (X.T @ (weight * means))
    return float(a), float(np.sqrt(cov[0, 0])), float(c), float(np.sqrt(cov[1, 1]))


def _figure(out_dir, tau, mean, se, success, fit, b, dt):
    from jaxneq import plot

    a, se_a, c = fit
    landauer = T * np.log(2)
    fig, axes = plot.panels(
        2,
        title=(
            f"Erasing one bit costs more than T ln 2 = {landauer:.3f} at finite duration; the "
            f"excess falls like 1/tau (fit intercept {a:.3f} ± {se_a:.3f}); dt = {dt:g}, "
            f"{b} members"
        ),
    )
    fine = np.geomspace(tau[0], tau[-1], 100)
    plot.estimates(
        tau,
        mean,
        se,
        exact=(fine, a + c / fine),
        ax=axes[0],
        label="simulated mean work",
        exact_label=f"fit {a:.3f} + {c:.2f}/tau",
        xlabel=r"protocol duration $\tau$ (time, $\mu = 1$)",
        ylabel=r"mean work $\langle W\rangle$ ($k_B T$)",
        xscale="log",
    )
    axes[0].axhline(landauer, color="tab:red", ls="--", label="Landauer bound T ln 2")
    axes[0].legend(fontsize=8)
    plot.estimates(
        tau,
        success,
        np.sqrt(success * (1 - success) / b),
        ax=axes[1],
        label="erased (right well at the end)",
        xlabel=r"protocol duration $\tau$ (time)",
        ylabel="success probability",
        xscale="log",
    )
    _figures.save(fig, out_dir / f"{NAME}.png")


def _duration_rows(out, durations, mean, se, success):
    """Adds the numbers of each duration to `out`; returns their table rows."""
    from ._table import row

    landauer = T * np.log(2)
    table = []
    for i, d in enumerate(durations):
        bound = T * (np.log(2) - _binary_entropy(1 - success[i]))
        out.update(
            {
                f"work_tau_{d:g}": float(mean[i]),
                f"work_tau_{d:g}_stderr": float(se[i]),
                f"success_tau_{d:g}": float(success[i]),
                f"generalised_bound_tau_{d:g}": bound,
            }
        )
        table.append(
            row(
                f"mean work, tau = {d:g}",
                mean[i],
                se[i],
                landauer,
                f"Landauer BOUND T ln 2 (W must exceed it; {100 * success[i]:.1f} % erased)",
                "k_B T",
            )
        )
    return table


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    from ._table import size, stage

    say = stage(progress)
    durations, b, dt = size(
        quick,
        full,
        ((1.0, 2.0, 4.0, 8.0, 16.0), 512, 2e-3),
        ((1.0, 2.0, 4.0, 8.0, 16.0, 32.0), 2048, 2e-3),
        ((1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0), 65536, 1e-3),
    )
    checked = durations[-2]  # the protocol repeated at dt / 2
    runs = list(durations) + [2 * checked]
    mobilities = [1.0] * len(durations) + [0.5]
    say(0.0, f"{len(runs)} protocols x {b} members in one vmapped simulate, dt = {dt:g}")
    work, x = _simulate(runs, mobilities, b, dt, jr.key(0))
    mean = work.mean(axis=1)
    se = work.std(axis=1, ddof=1) / np.sqrt(b)
    # success: the member is in the right well at the end of its own protocol (frame tau)
    success = np.array([(x[i, round(d)] > 0).mean() for i, d in enumerate(runs)])
    n = len(durations)
    tau = np.asarray(durations)
    fit = _fit_inverse_duration(tau[1:], mean[1:n], se[1:n])
    out = {"durations": list(durations), "members": b, "dt": dt, "landauer_bound": T * np.log(2)}
    table = _duration_rows(out, durations, mean, se, success)
    table += _fit_rows(out, fit, checked, mean, se, success)
    out["table"] = table
    say(0.9, "figure")
    _figure(out_dir, tau, mean[:n], se[:n], success[:n], fit[:3], b, dt)
    return out


def _fit_rows(out, fit, checked, mean, se, success) -> list[dict]:
    """The intercept of W = a + c / tau against T ln 2, and the time-step check (the last
    run: the protocol of duration `checked` at dt / 2); fills `out`."""
    from ._table import row

    a, se_a, c, se_c = fit
    n = len(out["durations"])
    bias, se_bias = mean[n] - mean[n - 2], float(np.hypot(se[n], se[n - 2]))
    out.update(
        {
            "fit_intercept": a,
            "fit_intercept_stderr": se_a,
            "fit_slope": c,
            "fit_slope_stderr": se_c,
            "checked_duration": checked,
            "work_checked_half_dt": float(mean[n]),
            "work_checked_half_dt_stderr": float(se[n]),
            "time_step_bias": float(bias),
            "time_step_bias_stderr": se_bias,
            "success_checked_half_dt": float(success[n]),
        }
    )
    return [
        row(
            f"intercept a of W = a + c/tau (tau >= {out['durations'][1]:g})",
            a,
            se_a,
            out["landauer_bound"],
            "T ln 2: the quasi-static limit",
            "k_B T",
        ),
        row(
            f"W(dt/2) - W(dt), tau = {checked:g}",
            bias,
            se_bias,
            0.0,
            "0 when converged in dt (Euler–Maruyama bias O(dt))",
            "k_B T",
        ),
    ]
