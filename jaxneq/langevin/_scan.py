r"""The pure scan core of `simulate`: one step body and the loops that run it (units: k_B = 1).

Both ways `simulate` runs (one traced scan inside `jit`/`vmap`/`grad`, or the eager chunk
driver in `_driver.py`) build their loop body with `make_step` and run it with
`run_steps`, so the two paths compute bitwise the same numbers by construction: the step
body is the same function, only the loop around it differs (`adjoint.scan` over a static
number of steps, or a `fori_loop` over a traced number of steps for chunks).

The carry is a `Carry`: the batched state, the integrator's auxiliary state (`aux`, e.g.
the previous step's noise; None for plain one-step schemes), the observables' accumulators,
for every member the first step at which it became non-finite (-1: never), and the global
step counter `k`. The noise of step `k` comes from `jax.random.fold_in(key, k)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, PyTree

from ._adjoint import AbstractAdjoint
from ._integrators import StepFunction
from ._systems import AbstractSystem

INIT_STREAM = 2**32 - 1  # fold_in data for the initial state's randomness
AUX_STREAM = 2**32 - 2  # fold_in data for the integrator's auxiliary state


def as_integrator(method: Any):
    """`resolve_method`'s answer as an integrator, i.e. an object with `init(system, state,
    key) -> aux` and `step(system, state, aux, t, dt, key) -> (state, aux)`: returned as is,
    or a plain step callable wrapped in `StepFunction` (aux None)."""
    if callable(getattr(method, "init", None)) and callable(getattr(method, "step", None)):
        return method
    if callable(method):
        return StepFunction(method)
    raise ValueError(
        "`method` must be an integrator name, an integrator with init/step methods, or a step "
        f"callable step(system, state, t, dt, key) -> state, got {type(method).__name__}"
    )


class Problem(eqx.Module):
    """Everything a step needs that does not change along the run."""

    integrator: Any
    system: AbstractSystem
    observables: dict[str, Any]
    key: Array
    dt: Array
    t0: Array


class Carry(eqx.Module):
    """What the scan carries from one step to the next (see the module docstring)."""

    state: PyTree
    aux: PyTree
    acc: dict[str, PyTree]
    bad: Array
    k: Array


def cast_like(new: PyTree, old: PyTree) -> PyTree:
    """`new` with the dtypes of `old` (keeps the scan carry type fixed)."""
    return jtu.tree_map(lambda n, o: jnp.asarray(n).astype(jnp.result_type(o)), new, old)


def member_finite(state: PyTree, b: int) -> Array:
    """`[b]` bool: every inexact entry of the member's state is finite."""
    ok = jnp.ones((b,), bool)
    for leaf in jtu.tree_leaves(state):
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            ok = ok & jnp.all(jnp.isfinite(leaf.reshape(b, -1)), axis=1)
    return ok


def _as_arrays(tree: PyTree) -> PyTree:
    return jtu.tree_map(lambda a: jnp.asarray(a, jnp.result_type(a)), tree)


def initialise(problem: Problem, x0: Array, start: int | Array = 0) -> Carry:
    """The carry at step `start` (0 unless resuming): state from `system.init`, the
    integrator's aux, the observables' accumulators (`obs.init(state, system)`)."""
    system, key = problem.system, problem.key
    state = _as_arrays(system.init(x0, key=jr.fold_in(key, INIT_STREAM)))
    aux = _as_arrays(problem.integrator.init(system, state, jr.fold_in(key, AUX_STREAM)))
    acc = {name: _as_arrays(obs.init(state, system)) for name, obs in problem.observables.items()}
    bad = jnp.full((x0.shape[0],), -1, jnp.int32)
    return Carry(state, aux, acc, bad, jnp.asarray(start, jnp.int32))


def make_step(problem: Problem, b: int, track: bool) -> Callable[[Carry], Carry]:
    """The scan body: one integrator step, the observables' updates, divergence tracking.

    Observables see the state before and after the step, never the integrator's aux. With
    `track=False` the per-step finiteness check is skipped (it costs 5-10 % of a cheap
    step); callers then check the state once at the end, and the eager driver replays a
    chunk that ended non-finite with tracking on to name the member and the step (NaN and
    inf do not come back to finite values through the integrator's arithmetic).
    """
    integrator, system, observables = problem.integrator, problem.system, problem.observables
    key, dt, t0 = problem.key, problem.dt, problem.t0

    def one_step(c: Carry) -> Carry:
        t = t0 + c.k.astype(dt.dtype) * dt
        new, aux = integrator.step(system, c.state, c.aux, t, dt, jr.fold_in(key, c.k))
        new, aux = cast_like(new, c.state), cast_like(aux, c.aux)
        acc = {
            name: cast_like(obs.update(c.acc[name], c.state, new, system, t, dt), c.acc[name])
            for name, obs in observables.items()
        }
        bad = c.bad
        if track:
            bad = jnp.where((bad < 0) & ~member_finite(new, b), c.k, bad)
        return Carry(new, aux, acc, bad, c.k + 1)

    return one_step


def auto_unroll(b: int, backend: str | None = None) -> int:
    """The steps per loop iteration that `simulate(unroll=None)` uses for `b` members.

    On a GPU/TPU every loop iteration costs a kernel launch and a trip of the loop condition,
    whatever the ensemble size: 8 steps per iteration. Measured on an H200
    (`benchmarks/langevin.py --full`, billion particle-steps per second, 1 step per
    iteration against 8): the same at N = 1e3-1e6 and 1e8 (57 against 58), 103 against 162
    at N = 1e7. On a CPU the per-step cost at small ensembles is the kernels inside the step
    (threefry, drift, update), which unrolling does not remove. Measured
    (`benchmarks/langevin.py --quick`, 2-core CPU, round-robin, per CPU-second, two runs):
    `unroll=8` gave 1.0x at b = 1e2, 1.22x at 1e3, 0.9-1.03x at 1e4 and 0.83-0.90x at 1e5,
    for 1.5-3x the compile time: 1 on a CPU. The numbers are bitwise the same for any
    `unroll`; `b` is kept in the signature for a size-dependent rule.
    """
    del b
    backend = jax.default_backend() if backend is None else backend
    return 1 if backend == "cpu" else 8


def run_steps(
    one_step: Callable[[Carry], Carry],
    carry: Carry,
    n: int | Array,
    adjoint: AbstractAdjoint | None = None,
    unroll: int = 1,
) -> Carry:
    """`n` applications of `one_step`: with a Python int `n` through `adjoint.scan` (so
    reverse-mode autodiff works with the adjoint's memory/time trade-off), with a traced
    `n` (eager chunks of any length sharing one compiled function) as a `fori_loop`.

    `unroll` steps run per loop iteration (the loop overhead is paid once per block); the
    sequence of `one_step` applications, hence every number, is the same for any `unroll`.
    With a traced `n` the loop runs `n // unroll` blocks, then the `n % unroll` remaining
    steps one by one.
    """
    if isinstance(n, int):
        carry, _ = adjoint.scan(lambda c: (one_step(c), None), carry, n, unroll=unroll)
        return carry
    if unroll <= 1:
        return jax.lax.fori_loop(0, n, lambda i, c: one_step(c), carry)

    def block(i, c):
        for _ in range(unroll):
            c = one_step(c)
        return c

    carry = jax.lax.fori_loop(0, n // unroll, block, carry)
    return jax.lax.fori_loop(0, n % unroll, lambda i, c: one_step(c), carry)


def run_traced(
    problem: Problem,
    carry: Carry,
    n_steps: int,
    save_every: int | None,
    adjoint: AbstractAdjoint,
    unroll: int = 1,
) -> tuple[Carry, Array | None]:
    """All `n_steps` steps (a Python int) for a traced call: the carry and the positions
    saved after every `save_every` steps (`[n_steps // save_every, b, *event]`) or None."""
    b = jtu.tree_leaves(carry.state)[0].shape[0]
    one_step = make_step(problem, b, track=False)
    if save_every is None:
        return run_steps(one_step, carry, n_steps, adjoint, unroll), None

    def block(c):
        c = run_steps(one_step, c, save_every, adjoint, min(unroll, save_every))
        return c, problem.system.position(c.state)

    return adjoint.scan(block, carry, n_steps // save_every)


@eqx.filter_jit
def run_chunk(
    problem: Problem,
    carry: Carry,
    n_blocks: Array,
    block: int,
    capacity: int | None,
    track: bool,
    unroll: int = 1,
) -> tuple[Carry, Array | None, Array]:
    """`n_blocks * block` steps from `carry.k`, for the eager driver.

    Returns the carry, the saved positions (a buffer of `capacity` blocks, or None) and `[b]`
    finiteness of the final state. `n_blocks` is traced, so chunks of any length, including
    the last, shorter one, share one compiled function. `unroll` steps per loop iteration
    (see `run_steps`); it never changes the numbers.
    """
    b = jtu.tree_leaves(carry.state)[0].shape[0]
    one_step = make_step(problem, b, track)
    if capacity is None:
        c = run_steps(one_step, carry, n_blocks * block, unroll=unroll)
        return c, None, member_finite(c.state, b)

    x = problem.system.position(carry.state)
    buffer = jnp.zeros((capacity, *x.shape), x.dtype)

    def one_block(j, cb):
        c, buffer = cb
        c = run_steps(one_step, c, jnp.asarray(block, jnp.int32), unroll=min(unroll, block))
        buffer = jax.lax.dynamic_update_index_in_dim(buffer, problem.system.position(c.state), j, 0)
        return c, buffer

    c, buffer = jax.lax.fori_loop(0, n_blocks, one_block, (carry, buffer))
    return c, buffer, member_finite(c.state, b)


@eqx.filter_jit
def initialise_eager(problem: Problem, x0: Array) -> tuple[Carry, Array]:
    """`initialise` compiled, and `[b]` finiteness of `x0`."""
    return initialise(problem, x0), member_finite(x0, x0.shape[0])


def finalise(problem: Problem, carry: Carry, n_steps: int) -> tuple[Array, dict[str, Any]]:
    """Final positions and the finalised observable values."""
    values = {
        name: obs.finalise(carry.acc[name], n_steps, problem.dt)
        for name, obs in problem.observables.items()
    }
    return problem.system.position(carry.state), values


def check_observables(observables: Mapping[str, Any], n_steps: int) -> dict[str, Any]:
    """Validate the `observables` argument of `simulate`; returns it as a dict."""
    if observables is None:
        return {}
    if not isinstance(observables, Mapping):
        raise ValueError(
            "`observables` must be a dict name -> observable (e.g. {'x2': Mean(lambda x: "
            f"x**2)}}), got {type(observables).__name__}"
        )
    observables = dict(observables)
    for name, obs in observables.items():
        if not isinstance(name, str):
            raise ValueError(f"`observables` keys must be str, got {name!r}")
        if not all(hasattr(obs, m) for m in ("init", "update", "finalise")):
            raise ValueError(
                f"`observables[{name!r}]` must be an observable with init/update/finalise "
                f"methods (e.g. jaxneq.observables.Mean), got {type(obs).__name__}"
            )
        burn_in = getattr(obs, "burn_in", 0)
        is_int = isinstance(burn_in, int | np.integer) and not isinstance(burn_in, bool)
        if is_int and burn_in > 0 and burn_in >= n_steps:
            raise ValueError(
                f"`observables[{name!r}]` has burn_in={burn_in} >= n_steps={n_steps}: it "
                "would measure nothing; lower burn_in or raise n_steps"
            )
        every = getattr(obs, "every", 1)
        is_int = isinstance(every, int | np.integer) and not isinstance(every, bool)
        if is_int and every > 1 and n_steps > 0 and n_steps // every <= burn_in // every:
            raise ValueError(
                f"`observables[{name!r}]` has every={every} and burn_in={burn_in}: no step "
                f"number in ({burn_in}, {n_steps}] is a multiple of {every}, so it would "
                "measure nothing; lower every or burn_in, or raise n_steps"
            )
    return observables
