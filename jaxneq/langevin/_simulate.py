r"""Ensemble simulation of Langevin systems: `simulate` (units: k_B = 1).

`simulate` validates its arguments, decides whether the call is traced or eager, and runs
the steps with the pure scan core of `_scan.py`:

- traced call (inside `jit`, `vmap`, `grad`, ...): one scan over all steps through the
  chosen adjoint (`_adjoint.py`), divergence reported by `equinox.error_if`;
- eager call: the chunk driver of `_driver.py` (chunks, progress, checkpoints, divergence
  replay naming the member and the step).

Both paths use the same step body, so they give bitwise the same numbers.

Random numbers: the noise of step `k` (counted from the start of the run, whatever `t0`)
comes from `jax.random.fold_in(key, k)` and is drawn in bulk over the GLOBAL ensemble shape
(with `jax_threefry_partitionable`, JAX's default), so the numbers depend only on the key
and the ensemble shape: not on `chunk_size`, on checkpoints and resumption, nor on how the
ensemble is sharded over devices. Initial velocities and other random parts of the initial
state (`system.init`) use `jax.random.fold_in(key, 2**32 - 1)`, the integrator's auxiliary
state (`integrator.init`) `jax.random.fold_in(key, 2**32 - 2)`.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike, PyTree

from .._util import as_inexact, error_if_tied
from ._adjoint import AbstractAdjoint, RecursiveCheckpointAdjoint
from ._driver import DriverOptions, run_eager
from ._integrators import INTEGRATORS, resolve_method
from ._scan import (
    Problem,
    as_integrator,
    auto_unroll,
    check_observables,
    finalise,
    initialise,
    member_finite,
    run_traced,
)
from ._systems import AbstractSystem

_MAX_STEPS = 2**31 - 2  # step indices are int32
_DEFAULT_ADJOINT = RecursiveCheckpointAdjoint()
_NAMED_MEMBERS = 32  # under jit, the error names the first diverged member below this index


class SimulationResult(eqx.Module):
    """What `simulate` returns.

    - `x`: final positions `[b, *event]` (`system.position(state)`).
    - `state`: final full state (e.g. `UnderdampedState(x, v)`), batched.
    - `observables`: dict of finalised observable values, with the keys given.
    - `trajectory`: positions `[n_saved, b, *event]` at steps `0, save_every, 2 save_every,
      ..., n_steps` (the initial positions first, so `n_saved = n_steps // save_every + 1`),
      or None without `save_every`.
    """

    x: Array
    state: PyTree
    observables: dict[str, Any]
    trajectory: Array | None


# --------------------------------------------------------------------------------------
# traced or eager


def _hidden_values(obj):
    """The values a callable closes over (closure cells, defaults, bound object, partial
    arguments), to look for tracers that `jax.tree_util` does not see."""
    if isinstance(obj, functools.partial):
        yield from (obj.func, obj.args, obj.keywords)
        return
    for cell in getattr(obj, "__closure__", None) or ():
        try:
            yield cell.cell_contents
        except ValueError:  # an empty cell
            continue
    yield getattr(obj, "__defaults__", None)
    yield getattr(obj, "__kwdefaults__", None)
    owner = getattr(obj, "__self__", None)
    if owner is not None and not isinstance(owner, type):
        yield owner


def _has_tracer(tree, seen: set[int] | None = None, depth: int = 0) -> bool:
    """True when a leaf of `tree`, or a value closed over by a callable leaf (recursively,
    each callable once, at most 8 closures deep), is a tracer."""
    seen = set() if seen is None else seen
    for leaf in jtu.tree_leaves(tree):
        if isinstance(leaf, jax.core.Tracer):
            return True
        if callable(leaf) and not isinstance(leaf, type) and id(leaf) not in seen:
            seen.add(id(leaf))
            hidden = [v for v in _hidden_values(leaf) if v is not None]
            if hidden and depth < 8 and _has_tracer(hidden, seen, depth + 1):
                return True
    return False


def _is_traced(*trees) -> bool:
    """The traced/eager rule of `simulate` (public JAX means only).

    Traced when any array leaf of the arguments (the system, x0, key, dt, t0, the
    observables, the integrator), or any value closed over by one of their callables, is a
    `jax.core.Tracer`, or when a freshly created array is one (the probe: true inside
    `jit`/`make_jaxpr` tracing, whatever the arguments).
    """
    return _has_tracer(trees) or isinstance(jnp.zeros(()), jax.core.Tracer)


# --------------------------------------------------------------------------------------
# validation helpers


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _method_name(method, integrator) -> str:
    if isinstance(method, str):
        return method
    step = getattr(integrator, "step_fn", integrator)
    for name, fn in INTEGRATORS.items():
        if fn is step or fn is integrator:
            return name
    return getattr(step, "__qualname__", type(step).__name__)


def _check_key(key):
    if key is None:
        raise ValueError("`key` is required: pass key=jax.random.key(seed)")
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"`key` must be ONE key (shape ()), got a key array of shape {key.shape}; "
                "simulate draws independent noise for every member itself"
            )
        return key
    if dtype == jnp.uint32 and jnp.ndim(key) == 1:
        return key  # a raw jax.random.PRNGKey
    raise ValueError(
        f"`key` must be a JAX PRNG key (jax.random.key(seed)), got {type(key).__name__}"
        + (f" with shape {jnp.shape(key)} and dtype {dtype}" if dtype is not None else "")
    )


def _check_x0(x0) -> Array:
    x0 = as_inexact(x0, "x0")
    if x0.ndim < 2:
        raise ValueError(
            f"`x0` must have shape [b, *event] (ensemble axis first, e.g. [b, d]), got shape "
            f"{x0.shape}; for b members of a 1D system pass x0[:, None] (shape "
            f"{(*x0.shape, 1)}), for a single trajectory pass x0[None]"
        )
    if x0.shape[0] == 0:
        raise ValueError("`x0` has an empty ensemble axis (b = 0); give at least one member")
    return x0


def _check_steps(n_steps, save_every, chunk_size) -> tuple[int, int | None]:
    if not _is_int(n_steps) or n_steps < 0:
        raise ValueError(f"`n_steps` must be a Python int >= 0, got {n_steps!r}")
    n_steps = int(n_steps)
    if n_steps > _MAX_STEPS:
        raise ValueError(f"`n_steps` must be < 2**31 - 1, got {n_steps}; split the run")
    if save_every is not None:
        if not _is_int(save_every) or save_every < 1:
            raise ValueError(
                f"`save_every` must be an int >= 1 (steps) or None, got {save_every!r}"
            )
        save_every = int(save_every)
        if n_steps % save_every:
            raise ValueError(
                f"`save_every`={save_every} must divide `n_steps`={n_steps}, so that the "
                f"final state is saved; e.g. use n_steps={n_steps - n_steps % save_every} "
                f"or {n_steps - n_steps % save_every + save_every}"
            )
    if chunk_size is not None and (not _is_int(chunk_size) or chunk_size < 1):
        raise ValueError(f"`chunk_size` must be an int >= 1 (steps) or None, got {chunk_size!r}")
    return n_steps, save_every


def _check_scalar(value, name: str, dtype) -> Array:
    value = jnp.asarray(value)
    if value.shape != ():
        raise ValueError(f"`{name}` must be a scalar, got shape {value.shape}")
    return value.astype(dtype)


# --------------------------------------------------------------------------------------
# the entry point


def simulate(
    system: AbstractSystem,
    x0: ArrayLike,
    *,
    key: Array,
    dt: ArrayLike,
    n_steps: int,
    observables: Mapping[str, Any] | None = None,
    save_every: int | None = None,
    method: str | Callable | None = None,
    chunk_size: int | None = None,
    t0: ArrayLike = 0.0,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    adjoint: AbstractAdjoint = _DEFAULT_ADJOINT,
    unroll: int | None = None,
) -> SimulationResult:
    r"""Simulate an ensemble of independent copies of a Langevin system.

    Each member follows the system's SDE $\mathrm{d}s = a(s, t)\,\mathrm{d}t + b(s, t)
    \odot \mathrm{d}W$ (Ito form, see `AbstractSystem`), integrated with `method` for
    `n_steps` steps of size `dt` from time `t0`. The ensemble axis is an array axis: the
    whole run is a compiled `lax.scan` carrying the state and the observables' accumulators
    (streaming reducers, see `jaxneq.observables`), so memory does not grow with `n_steps`
    unless `save_every` asks for a trajectory.

    The noise of step `k` comes from `jax.random.fold_in(key, k)` drawn over the global
    ensemble shape, so results are bitwise the same for any `chunk_size`, after resuming
    from a checkpoint, and with the ensemble sharded over devices
    (`jax.device_put(x0, NamedSharding(mesh, PartitionSpec("b")))` is all it takes).

    Works under `jit`, `vmap` (e.g. over a batched system: a parameter sweep) and `grad`
    (pathwise derivatives with common random numbers).

    **Traced or eager.** The call is *traced* when any array leaf of its arguments is a JAX
    tracer: `x0`, `key`, `dt`, `t0`, the leaves of the system, the observables and the
    integrator (they are `eqx.Module`s), and the values their callables close over (closure
    cells, default arguments, `functools.partial` arguments, bound objects; so a system
    built inside `grad` from a lambda closing over the differentiated parameter counts), or
    when a freshly created array is a tracer (true while `jit` traces, whatever the
    arguments). A traced call is one scan over all steps through `adjoint`; an eager call
    runs the chunk driver (progress, checkpoints, divergence replay). Both use the same
    step body and give the same numbers. A tracer hidden where none of these look (e.g. in
    a global variable under `vmap`/`grad`) is not seen: keep parameters in the system's
    fields or in closures.

    **Gradients and memory (`adjoint`).** Reverse mode goes through the steps as the
    adjoint says; without differentiation all adjoints run the same computation.

    - `RecursiveCheckpointAdjoint()` (default): nested `jax.checkpoint`-ed scans, segments
      of 128 steps per level; the memory of `jit(grad(...))` grows with log(n_steps)
      (measured for an OU ensemble of 1024 float32 members: compiled temporaries 0.59 MB at
      1e3 steps, 1.1 MB at 1e5, against 4.1 MB and 410 MB with `DirectAdjoint`), for one
      extra forward pass per level (value-and-grad at 1e4 steps: 1.8 forward passes on CPU).
      Use it for anything long.
    - `DirectAdjoint()`: plain backprop through one scan; memory O(n_steps * ensemble).
      For short runs where the memory is no concern.

    A saved trajectory (`save_every`) is differentiable too and costs its own
    O(n_steps / save_every) memory. Observables (`Mean`, `EntropyProduction`, `Work`, user
    ones) are differentiated through the same scan.

    **Divergence.** A member whose state becomes NaN or infinite stops the run with an
    error naming the member (usually `dt` is too large). Eagerly: a `FloatingPointError`
    naming the member and the step. Traced: `equinox.error_if` (the message names the
    first diverged member if its index is < 32; the step is only named eagerly). Under
    `vmap` over a batch of systems equinox merges the check over the batch, so the error
    cannot name the batch index; with the environment variable `EQX_ON_ERROR=nan`,
    simulate instead sets the outputs of the failing call to NaN, and under `vmap` only
    those of the diverged batch elements: the NaN rows name them.

    **Arguments:**

    - `system`: an `AbstractSystem` (`Overdamped`, `Underdamped`, ...).
    - `x0`: initial positions `[b, *event]`, e.g. `[b, d]`; the leading axis is the
      ensemble. One trajectory of a 1D particle is `x0` of shape `[1, 1]`.
    - `key`: a PRNG key (`jax.random.key(seed)`).
    - `dt`: time step, > 0.
    - `n_steps`: number of steps (a Python int >= 0).
    - `observables`: dict `name -> observable` (e.g. `jaxneq.observables.Mean`); the
      finalised values come back in `result.observables[name]`.
    - `save_every`: store the positions every `save_every` steps (must divide `n_steps`);
      None stores no trajectory.
    - `method`: integrator name (see `jaxneq.langevin.METHODS`: `"euler_maruyama"`,
      `"heun"`, `"leimkuhler_matthews"`, `"baoab"`), an integrator (`init(system, state,
      key) -> aux`, `step(system, state, aux, t, dt, key) -> (state, aux)`; the aux, e.g.
      the previous step's noise, rides in the carry next to the state, is checkpointed and
      is never seen by observables; its `init` gets `fold_in(key, 2**32 - 2)`), a plain
      step callable `step(system, state, t, dt, key) -> state`, or None for
      `system.default_method`.
    - `chunk_size`: steps per compiled chunk of an eager run (rounded down to a multiple of
      `save_every`). None: the whole run in one chunk, or about 20 chunks with `progress` or
      `checkpoint`. It never changes the numbers.
    - `t0`: initial time (time-dependent potentials and forces see `t = t0 + k dt`).
    - `progress`: print steps done, steps/s and the remaining time to stderr between chunks
      (eager runs only).
    - `checkpoint`: path of a `.npz` checkpoint written atomically after every chunk (eager
      runs only). If the file exists and was written by the same run (same system arrays,
      x0, key, dt, n_steps, t0, method, save_every, observables and dtype), the run resumes
      from it and gives bitwise the numbers of an uninterrupted run; a checkpoint of a
      finished run returns its result at once. A checkpoint of a different run raises
      `ValueError` (delete it or pass another path).

    - `adjoint`: how reverse-mode autodiff goes through the steps (see above):
      `RecursiveCheckpointAdjoint()` (default) or `DirectAdjoint()`. No effect on values.
    - `unroll`: integrator steps per iteration of the compiled loop (an int >= 1), so the
      per-iteration cost of the loop (on a GPU a kernel launch) is paid once per `unroll`
      steps, for a longer compilation. None (default) chooses by backend: 1 on a CPU
      (where the loop costs little next to the kernels of a step; `unroll=8` measured 1.2x
      faster at 1e3 members, no gain at 1e2 and 1e4, 10-17 % slower at 1e5), 8 on a
      GPU/TPU (one kernel launch per iteration; on an H200 1.6x faster at 1e7 members, the
      same elsewhere from 1e3 to 1e8). It
      never changes the numbers: the steps and their noise (`fold_in(key, k)` for step k)
      are the same, only the loop around them differs.

    **Returns:** a `SimulationResult` with `.x` (final positions `[b, *event]`), `.state`,
    `.observables` (dict) and `.trajectory` (`[n_steps // save_every + 1, b, *event]`, the
    initial positions first, or None).

    **Example:**

    ```python
    import jax.numpy as jnp, jax.random as jr, jaxneq as jn

    system = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2, temperature=0.5)
    res = jn.langevin.simulate(
        system, jnp.zeros((10_000, 1)), key=jr.key(0), dt=1e-2, n_steps=5_000,
        observables={"x2": jn.observables.Mean(lambda x: x**2, burn_in=1_000)},
    )
    res.observables["x2"].mean()  # ~ 0.5 = T / k
    ```

    Reference: P. E. Kloeden and E. Platen, Numerical Solution of Stochastic Differential
    Equations (Springer, 1992).
    """
    if not isinstance(system, AbstractSystem):
        raise ValueError(
            f"`system` must be a jaxneq.langevin system (an AbstractSystem such as "
            f"Overdamped or Underdamped), got {type(system).__name__}"
        )
    if not isinstance(adjoint, AbstractAdjoint):
        raise ValueError(
            "`adjoint` must be jaxneq.langevin.RecursiveCheckpointAdjoint() or "
            f"jaxneq.langevin.DirectAdjoint(), got {type(adjoint).__name__}"
        )
    x0 = _check_x0(x0)
    n_steps, save_every = _check_steps(n_steps, save_every, chunk_size)
    if unroll is None:
        unroll = auto_unroll(x0.shape[0])
    elif not _is_int(unroll) or unroll < 1:
        raise ValueError(
            f"`unroll` must be None (automatic) or an int >= 1 (steps per loop iteration), "
            f"got {unroll!r}"
        )
    unroll = int(unroll)
    observables = check_observables(observables, n_steps)
    integrator = as_integrator(resolve_method(method, system))
    key = _check_key(key)
    system = system.check(x0)
    dt = _check_scalar(dt, "dt", x0.dtype)
    t0 = _check_scalar(t0, "t0", x0.dtype)
    problem = Problem(integrator, system, observables, key, dt, t0)

    if _is_traced(problem, x0):
        if checkpoint is not None:
            raise ValueError(
                "`checkpoint` needs an eager call of simulate (not inside jit/vmap/grad); "
                "call simulate outside the transformation or pass checkpoint=None"
            )
        return _simulate_traced(problem, x0, n_steps, save_every, adjoint, unroll)

    dt_value, t0_value = float(np.asarray(dt)), float(np.asarray(t0))  # host-side checks
    if not (dt_value > 0 and math.isfinite(dt_value)):
        raise ValueError(f"`dt` must be finite and > 0, got {dt_value}")
    if not math.isfinite(t0_value):
        raise ValueError(f"`t0` must be finite, got {t0_value}")
    method_name = _method_name(method if method is not None else system.default_method, integrator)
    checkpoint = None if checkpoint is None else os.fspath(checkpoint)
    options = DriverOptions(chunk_size, bool(progress), checkpoint, method_name, unroll)
    return SimulationResult(*run_eager(problem, x0, n_steps, save_every, options))


def _divergence_messages(b: int) -> list[str]:
    advice = (
        "; the time step `dt` is probably too large for the forces: reduce dt (call "
        "simulate outside jit/vmap to see the step as well)"
    )
    named = [
        f"simulate: ensemble member {i} (of {b}) became non-finite (NaN or inf){advice}"
        for i in range(min(b, _NAMED_MEMBERS))
    ]
    rest = f"simulate: an ensemble member >= {_NAMED_MEMBERS} (of {b}) became non-finite"
    return named + ([rest + advice] if b > _NAMED_MEMBERS else [])


def _simulate_traced(problem, x0, n_steps, save_every, adjoint, unroll=1) -> SimulationResult:
    dt = problem.dt
    dt = eqx.error_if(dt, ~(dt > 0) | ~jnp.isfinite(dt), "`dt` must be finite and > 0")
    x0 = error_if_tied(x0, ~jnp.all(jnp.isfinite(x0)), "`x0` has non-finite entries (NaN or inf)")
    problem = eqx.tree_at(lambda p: p.dt, problem, dt)
    carry0 = initialise(problem, x0)
    carry, saved = run_traced(problem, carry0, n_steps, save_every, adjoint, unroll)
    x, values = finalise(problem, carry, n_steps)
    trajectory = None
    if save_every is not None:
        trajectory = jnp.concatenate([problem.system.position(carry0.state)[None], saved])
    return SimulationResult(
        *_report_divergence((x, carry.state, values, trajectory), carry, b=x0.shape[0])
    )


def _nan_where(pred, a):
    return jnp.where(pred, jnp.nan, a) if jnp.issubdtype(a.dtype, jnp.inexact) else a


def _report_divergence(out, carry, b: int):
    """`out` after the divergence check of a traced run.

    Default (`EQX_ON_ERROR` unset or `raise`): `eqx.branched_error_if`, naming the first
    non-finite member if its index is < 32. Under `vmap` equinox merges the batch (any
    member of any batch element fires; the index is the largest over the batch), so the
    batch index cannot be named. With `EQX_ON_ERROR=nan` every output of the call is set to
    NaN where the check fails, with a per-call predicate: under `vmap` over a batch of
    systems only the diverged batch elements become NaN (equinox's own `nan` mode would
    NaN the whole batch).
    """
    finite = member_finite(carry.state, b)
    failed = ~jnp.all(finite)
    if os.environ.get("EQX_ON_ERROR") == "nan":
        return jtu.tree_map(functools.partial(_nan_where, failed), out)
    first = jnp.argmin(finite)  # the first non-finite member (0 when all are finite)
    index = jnp.minimum(first, _NAMED_MEMBERS)
    # checked on a scalar the outputs then depend on: a check tied to the (sharded) state
    # itself would gather the whole ensemble onto one device
    return error_if_tied(out, failed, _divergence_messages(b), index=index)
