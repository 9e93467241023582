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


LAM_F, T_F, K, MU, T = 1.0, 1.0, 1.0, 1.0, 1.0  # target, duration, stiffness, mobility, T
DT = 1e-2


def run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict:
    from ._table import concurrently, size, stage

    say = stage(progress)
    n_knots, b, n_iter, b_eval = size(
        quick, full, (11, 256, 150, 4096), (21, 1024, 400, 16384), (21, 16384, 400, 1 << 20)
    )
    say(0.0, f"Adam through simulate: {n_iter} iterations x {b} members")
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    times = jnp.linspace(0.0, T_F, n_knots, dtype=dtype)
    optimise, evaluate = _protocol_functions(times, b, b_eval, n_iter)
    # interior limits at the grid's end points: the jumps sit just inside [0, t_f]
    optimum_grid = LAM_F * (1 + MU * K * times) / (2 + MU * K * T_F)
    # one independent ensemble for both protocols (same key and shape, so the same noise: a
    # paired comparison); the exact optimum's is simulated while Adam runs
    (values, history), w_ref = concurrently(
        lambda: optimise(LAM_F * times / T_F),  # start: linear, without jumps
        lambda: np.asarray(evaluate(optimum_grid.astype(dtype))),
    )
    say(0.8, f"evaluation: both protocols on {b_eval} fresh members")
    t_fine = np.linspace(-0.1 * T_F, 1.1 * T_F, 600)
    optimum, optimum_fine, *exact_works = _exact(times, values, jnp.asarray(t_fine, dtype))
    r = {
        "history": np.asarray(history).tolist(),
        "times": times,
        "values": values,
        "t_fine": t_fine,
        "optimum_fine": optimum_fine,
        "optimum_grid": optimum_grid,
        "optimum": optimum,
        "w_opt": np.asarray(evaluate(values)),
        "w_ref": w_ref,
        "sizes": (n_knots, b, n_iter, b_eval),
    }
    r.update(zip(("w_star", "w_opt_exact", "w_linear_exact"), map(float, exact_works), strict=True))
    say(0.95, "figure")
    _figure(out_dir, r)
    say(1.0, "done")
    return _numbers(r)


def _protocol_functions(times, b, b_eval, n_iter):
    """`optimise(values)`: all Adam iterations in one compiled scan (fresh noise at each),
    from `values`, returning the optimised values and the loss history; `evaluate(values)`:
    the work of each of `b_eval` members of one fixed independent ensemble."""
    import optax

    import jaxneq as jn

    def simulated_work(values, key, members):
        system = jn.models.trap_protocol(times, values, K, T, MU, initial=0.0, final=LAM_F)
        ka, kb = jr.split(key)
        x0 = jnp.sqrt(T / K) * jr.normal(ka, (members, 1), times.dtype)
        res = jn.langevin.simulate(
            system,
            x0,
            key=kb,
            dt=DT,
            n_steps=round(T_F / DT),
            observables={"w": jn.observables.Work()},
        )
        return res.observables["w"] + system.potential.fn.boundary_work(x0, res.x)

    def loss(values, key):
        return jnp.mean(simulated_work(values, key, b))

    optimiser = optax.adam(optax.cosine_decay_schedule(0.05, n_iter, alpha=0.05))

    @jax.jit
    def optimise(values):
        def step(carry, i):
            values, opt_state = carry
            value, grad = jax.value_and_grad(loss)(values, jr.fold_in(jr.key(0), i))
            updates, opt_state = optimiser.update(grad, opt_state)
            return (optax.apply_updates(values, updates), opt_state), value

        init = (values, optimiser.init(values))
        (values, _), history = jax.lax.scan(step, init, jnp.arange(n_iter))
        return values, history

    eval_key = jr.key(1)
    return optimise, jax.jit(lambda v: simulated_work(v, eval_key, b_eval))


def _exact(times, values, t_fine):
    """The Schmiedl–Seifert optimum (on the knots and on `t_fine`), W* and the exact mean
    work of the optimised and the linear protocol (one compiled call)."""
    import jaxneq as jn

    @jax.jit
    def exact(values, t_fine):
        def work(v):
            return jn.thermo.harmonic_trap_mean_work(times, v, K, MU, initial=0.0, final=LAM_F)

        return (
            jn.thermo.optimal_trap_protocol(times, LAM_F, T_F, K, MU),
            jn.thermo.optimal_trap_protocol(t_fine, LAM_F, T_F, K, MU),
            jn.thermo.optimal_trap_work(LAM_F, T_F, K, MU),
            work(values),
            work(LAM_F * times / T_F),
        )

    return exact(values, t_fine)


def _stderr(a) -> float:
    return float(a.std(ddof=1) / np.sqrt(a.size))


def _figure(out_dir, r):
    """Adam's protocol against Schmiedl–Seifert's, and the work distributions."""
    from jaxneq import plot

    w_star, w_opt = r["w_star"], r["w_opt"]
    fig, axes = plot.panels(
        2,
        title=(
            f"Optimised protocol: exact work {r['w_opt_exact']:.4f} vs Schmiedl–Seifert optimum "
            f"{w_star:.4f}; simulated {w_opt.mean():.4f} ± {_stderr(w_opt):.4f} (1 SE, "
            f"dt = {DT:g})"
        ),
    )
    ext_t = np.concatenate([[-0.1 * T_F, 0.0], np.asarray(r["times"]), [T_F, 1.1 * T_F]])
    ext_v = np.concatenate([[0.0, 0.0], np.asarray(r["values"]), [LAM_F, LAM_F]])
    plot.estimates(
        ext_t,
        ext_v,
        ax=axes[0],
        fmt="o--",
        label="optax through simulate",
        exact=(r["t_fine"], np.asarray(r["optimum_fine"])),
        exact_label="optimum (Schmiedl–Seifert)",
        xlabel=r"time t ($1/\mu k$)",
        ylabel=r"trap position $\lambda(t)$ (length)",
        title="protocol, jumps at both ends",
    )
    plot.optimisation_trace(
        r["history"],
        ax=axes[1],
        reference=w_star,
        reference_label=rf"$W^*$ = {w_star:.4f}",
        label=f"mean work, {r['sizes'][1]} members",
        xlabel="Adam iteration",
        ylabel="mean work (energy, $k_B T$ = 1)",
    )
    _figures.save(fig, out_dir / f"{NAME}.png")


def _rows(r, bias, jump_exact) -> list[dict]:
    """Exact and simulated works against W*, and the jumps against the closed form."""
    from ._table import row

    w_star, w_opt_exact, w_opt, w_ref = r["w_star"], r["w_opt_exact"], r["w_opt"], r["w_ref"]
    em = f"dt -> 0 (Euler–Maruyama bias <= {bias:.4f})"
    jump_label = "lambda_f / (2 + mu k t_f)"
    return [
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
            _stderr(w_opt),
            w_opt_exact,
            f"its exact work, {em}",
            "k_B T",
        ),
        row(
            "simulated work, exact optimum",
            w_ref.mean(),
            _stderr(w_ref),
            w_star,
            f"W*, {em}",
            "k_B T",
        ),
        row(
            "paired difference optimised - optimum",
            (w_opt - w_ref).mean(),
            _stderr(w_opt - w_ref),
            w_opt_exact - w_star,
            "exact excess work (same noise)",
            "k_B T",
        ),
        row("jump at t = 0", r["values"][0], None, jump_exact, jump_label, "length"),
        row("jump at t = t_f", LAM_F - r["values"][-1], None, jump_exact, jump_label, "length"),
    ]


def _numbers(r) -> dict:
    """The flat numbers the tests check and the table."""
    w_opt, w_ref, values, optimum_grid = r["w_opt"], r["w_ref"], r["values"], r["optimum_grid"]
    n_knots, b, n_iter, b_eval = r["sizes"]
    bias = MU * K * DT * r["w_star"]
    jump_exact = LAM_F / (2 + MU * K * T_F)
    return {
        "work_optimum_exact": r["w_star"],
        "work_optimised_exact": r["w_opt_exact"],
        "work_linear_protocol_exact": r["w_linear_exact"],
        "work_optimised_simulated": float(w_opt.mean()),
        "work_optimised_simulated_stderr": _stderr(w_opt),
        "work_optimum_simulated": float(w_ref.mean()),
        "work_optimum_simulated_stderr": _stderr(w_ref),
        "work_difference_simulated": float((w_opt - w_ref).mean()),
        "work_difference_simulated_stderr": _stderr(w_opt - w_ref),
        "time_step_bias_bound": bias,
        "jump_start": float(values[0]),
        "jump_end": float(LAM_F - values[-1]),
        "jump_exact": jump_exact,
        "max_abs_protocol_error_interior": float(
            np.abs(np.asarray(values - optimum_grid))[1:-1].max()
        ),
        "max_abs_protocol_error": float(np.abs(np.asarray(values - optimum_grid)).max()),
        "protocol_at_grid": np.asarray(values).tolist(),
        "optimum_at_grid_interior_limits": np.asarray(optimum_grid).tolist(),
        "optimum_at_grid_with_jumps": np.asarray(r["optimum"]).tolist(),
        "members": b,
        "iterations": n_iter,
        "members_evaluation": b_eval,
        "knots": n_knots,
        "dt": DT,
        "table": _rows(r, bias, jump_exact),
    }
