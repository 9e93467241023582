r"""The minimum-work protocol for moving a trap, found by gradient descent through `simulate`.

An overdamped particle (mobility $\mu$, temperature $T$; units: k_B = 1) sits in equilibrium in
a harmonic trap $U = \tfrac{k}{2}(x - \lambda)^2$ at $\lambda = 0$; the trap must reach
$\lambda_f$ at time $t_f$. Which $\lambda(t)$ costs the least mean work? Schmiedl and Seifert
(PRL 98, 108301 (2007)) found it in closed form: linear in time, with jumps of
$\lambda_f/(2 + \mu k t_f)$ at both ends, and $W^* = k\lambda_f^2/(2 + \mu k t_f)$
(`jaxneq.thermo.optimal_trap_protocol`, `optimal_trap_work`).

Here the protocol is `jaxneq.models.trap_protocol`: piecewise linear on a time grid, its
values (the end values included, so the jumps are free) are optimised by optax's Adam on the
mean work of a simulated ensemble ($\int \partial_t U\,dt$ from `jaxneq.observables.Work`, plus
the work of the two jumps), with `jax.grad` through `simulate` (a fresh noise key per
iteration). The result is compared with the optimum: its values and jumps, its exact mean work
(`jaxneq.thermo.harmonic_trap_mean_work`, the deterministic functional for linear systems),
and the simulated work of the optimised and of the exact protocol on one independent ensemble
(same noise: their difference has a small paired standard error). The simulated values carry
the Euler–Maruyama time-step bias, O(mu k dt) relative.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import _figures

NAME = "minimum_work"
TITLE = "Minimum-work protocol for moving a trap (optax through simulate vs Schmiedl-Seifert)"


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    import optax

    import jaxneq as jn
    from jaxneq import plot

    from ._table import concurrently, row, size, stage

    say = stage(progress)
    lam_f, t_f, k, mu, T = 1.0, 1.0, 1.0, 1.0, 1.0
    n_knots, b, n_iter, b_eval = size(
        quick, full, (11, 256, 150, 4096), (21, 1024, 400, 16384), (21, 16384, 400, 1 << 20)
    )
    say(0.0, f"Adam through simulate: {n_iter} iterations x {b} members")
    dt = 1e-2
    n_steps = round(t_f / dt)
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    times = jnp.linspace(0.0, t_f, n_knots, dtype=dtype)

    def simulated_work(values, key, members):
        system = jn.models.trap_protocol(times, values, k, T, mu, initial=0.0, final=lam_f)
        ka, kb = jr.split(key)
        x0 = jnp.sqrt(T / k) * jr.normal(ka, (members, 1), dtype)
        res = jn.langevin.simulate(
            system, x0, key=kb, dt=dt, n_steps=n_steps, observables={"w": jn.observables.Work()}
        )
        return res.observables["w"] + system.potential.fn.boundary_work(x0, res.x)

    def loss(values, key):
        return jnp.mean(simulated_work(values, key, b))

    optimiser = optax.adam(optax.cosine_decay_schedule(0.05, n_iter, alpha=0.05))

    @jax.jit
    def optimise(values):
        """All Adam iterations in one compiled scan (fresh noise at each)."""

        def step(carry, i):
            values, opt_state = carry
            value, grad = jax.value_and_grad(loss)(values, jr.fold_in(jr.key(0), i))
            updates, opt_state = optimiser.update(grad, opt_state)
            return (optax.apply_updates(values, updates), opt_state), value

        init = (values, optimiser.init(values))
        (values, _), history = jax.lax.scan(step, init, jnp.arange(n_iter))
        return values, history

    # interior limits at the grid's end points: the jumps sit just inside [0, t_f]
    optimum_grid = lam_f * (1 + mu * k * times) / (2 + mu * k * t_f)
    # one independent ensemble for both protocols (same key and shape, so the same noise: a
    # paired comparison); the exact optimum's is simulated while Adam runs
    eval_key = jr.key(1)
    evaluate = jax.jit(lambda v: simulated_work(v, eval_key, b_eval))
    (values, history), w_ref = concurrently(
        lambda: optimise(lam_f * times / t_f),  # start: linear, without jumps
        lambda: np.asarray(evaluate(optimum_grid.astype(dtype))),
    )
    history = np.asarray(history).tolist()

    say(0.8, f"evaluation: both protocols on {b_eval} fresh members")
    t_fine = np.linspace(-0.1 * t_f, 1.1 * t_f, 600)

    @jax.jit
    def exact(values, t_fine):
        """The Schmiedl–Seifert optimum (on the knots and on `t_fine`), W* and the exact
        mean work of the optimised and the linear protocol (one compiled call)."""

        def work(v):
            return jn.thermo.harmonic_trap_mean_work(times, v, k, mu, initial=0.0, final=lam_f)

        return (
            jn.thermo.optimal_trap_protocol(times, lam_f, t_f, k, mu),
            jn.thermo.optimal_trap_protocol(t_fine, lam_f, t_f, k, mu),
            jn.thermo.optimal_trap_work(lam_f, t_f, k, mu),
            work(values),
            work(lam_f * times / t_f),
        )

    optimum, optimum_fine, w_star, w_opt_exact, w_linear_exact = exact(
        values, jnp.asarray(t_fine, dtype)
    )
    w_star, w_opt_exact, w_linear_exact = (float(v) for v in (w_star, w_opt_exact, w_linear_exact))
    w_opt = np.asarray(evaluate(values))
    se = lambda a: float(a.std(ddof=1) / np.sqrt(a.size))  # noqa: E731

    jump_exact = lam_f / (2 + mu * k * t_f)
    say(0.95, "figure")
    fig, axes = plot.panels(
        2,
        title=(
            f"Optimised protocol: exact work {w_opt_exact:.4f} vs Schmiedl–Seifert optimum "
            f"{w_star:.4f}; simulated {w_opt.mean():.4f} ± {se(w_opt):.4f} (1 SE, dt = {dt:g})"
        ),
    )
    ext_t = np.concatenate([[-0.1 * t_f, 0.0], np.asarray(times), [t_f, 1.1 * t_f]])
    ext_v = np.concatenate([[0.0, 0.0], np.asarray(values), [lam_f, lam_f]])
    plot.estimates(
        ext_t,
        ext_v,
        ax=axes[0],
        fmt="o--",
        label="optax through simulate",
        exact=(t_fine, np.asarray(optimum_fine)),
        exact_label="optimum (Schmiedl–Seifert)",
        xlabel=r"time t ($1/\mu k$)",
        ylabel=r"trap position $\lambda(t)$ (length)",
        title="protocol, jumps at both ends",
    )
    plot.optimisation_trace(
        history,
        ax=axes[1],
        reference=w_star,
        reference_label=rf"$W^*$ = {w_star:.4f}",
        label=f"mean work, {b} members",
        xlabel="Adam iteration",
        ylabel="mean work (energy, $k_B T$ = 1)",
    )
    _figures.save(fig, out_dir / f"{NAME}.png")

    bias = mu * k * dt * w_star
    table = [
        row(
            "exact mean work of the optimised protocol",
            w_opt_exact,
            None,
            w_star,
            "Schmiedl–Seifert minimum W*",
            "k_B T",
        ),
        row(
            "simulated work, optimised protocol",
            w_opt.mean(),
            se(w_opt),
            w_opt_exact,
            f"its exact work, dt -> 0 (Euler–Maruyama bias <= {bias:.4f})",
            "k_B T",
        ),
        row(
            "simulated work, exact optimum",
            w_ref.mean(),
            se(w_ref),
            w_star,
            f"W*, dt -> 0 (Euler–Maruyama bias <= {bias:.4f})",
            "k_B T",
        ),
        row(
            "paired difference optimised - optimum",
            (w_opt - w_ref).mean(),
            se(w_opt - w_ref),
            w_opt_exact - w_star,
            "exact excess work (same noise)",
            "k_B T",
        ),
        row("jump at t = 0", values[0], None, jump_exact, "lambda_f / (2 + mu k t_f)", "length"),
        row(
            "jump at t = t_f",
            lam_f - values[-1],
            None,
            jump_exact,
            "lambda_f / (2 + mu k t_f)",
            "length",
        ),
    ]
    say(1.0, "done")
    return {
        "work_optimum_exact": w_star,
        "work_optimised_exact": w_opt_exact,
        "work_linear_protocol_exact": w_linear_exact,
        "work_optimised_simulated": float(w_opt.mean()),
        "work_optimised_simulated_stderr": se(w_opt),
        "work_optimum_simulated": float(w_ref.mean()),
        "work_optimum_simulated_stderr": se(w_ref),
        "work_difference_simulated": float((w_opt - w_ref).mean()),
        "work_difference_simulated_stderr": se(w_opt - w_ref),
        "time_step_bias_bound": bias,
        "jump_start": float(values[0]),
        "jump_end": float(lam_f - values[-1]),
        "jump_exact": jump_exact,
        "max_abs_protocol_error_interior": float(
            np.abs(np.asarray(values - optimum_grid))[1:-1].max()
        ),
        "max_abs_protocol_error": float(np.abs(np.asarray(values - optimum_grid)).max()),
        "protocol_at_grid": np.asarray(values).tolist(),
        "optimum_at_grid_interior_limits": np.asarray(optimum_grid).tolist(),
        "optimum_at_grid_with_jumps": np.asarray(optimum).tolist(),
        "members": b,
        "iterations": n_iter,
        "members_evaluation": b_eval,
        "knots": n_knots,
        "dt": dt,
        "table": table,
    }
