r"""Ensemble simulation of Langevin systems: `simulate` (units: k_B = 1).

`simulate` advances a whole ensemble (leading axis `b` of `x0`) with one integrator step
per time step, inside a compiled `jax.lax.scan` that carries the state, the observable
accumulators and, for every member, the first step at which it became non-finite. Memory
is O(ensemble + observables), not O(steps), unless a trajectory is asked for.

Random numbers: the noise of step `k` (counted from the start of the run, whatever `t0`)
comes from `jax.random.fold_in(key, k)` and is drawn in bulk over the GLOBAL ensemble shape
(with `jax_threefry_partitionable`, JAX's default), so the numbers depend only on the key
and the ensemble shape: not on `chunk_size`, on checkpoints and resumption, nor on how the
ensemble is sharded over devices. Initial velocities and other random parts of the initial
state (`system.init`) use `jax.random.fold_in(key, 2**32 - 1)`.

Two ways to run:

- eager call (no `jit`/`vmap`/`grad` around it): a Python loop over chunks of
  `chunk_size` steps, each chunk one jitted scan (compiled once and cached). Between chunks
  it prints progress, writes the checkpoint and checks for divergence, which raises a
  `FloatingPointError` naming the member and the step.
- traced call (inside `jit`, `vmap`, `grad`, ...): one scan over all steps; divergence is
  reported by `equinox.error_if`. `progress` is ignored and `checkpoint` is refused there.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import sys
import time
import types
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike, PyTree

from .._util import as_inexact, first_bad_index, is_concrete
from ._checkpoint import load_checkpoint, save_checkpoint
from ._integrators import INTEGRATORS, resolve_method
from ._systems import AbstractSystem

_INIT_STREAM = 2**32 - 1  # fold_in data for the initial state's randomness
_MAX_STEPS = 2**31 - 2  # step indices are int32
_AUTO_CHUNKS = 20  # chunks of an eager run with progress/checkpoint and chunk_size=None


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
# helpers


def _under_transformation() -> bool:
    """True inside jit/vmap/grad (also catches tracers hidden in closures)."""
    try:
        from jax._src import core

        return not core.trace_ctx.is_top_level()
    except Exception:  # pragma: no cover - private API moved: fall back to the leaves
        return False


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _cast_like(new: PyTree, old: PyTree) -> PyTree:
    """`new` with the dtypes of `old` (keeps the scan carry type fixed)."""
    return jtu.tree_map(lambda n, o: jnp.asarray(n).astype(jnp.result_type(o)), new, old)


def _member_finite(state: PyTree, b: int) -> Array:
    """`[b]` bool: every inexact entry of the member's state is finite."""
    ok = jnp.ones((b,), bool)
    for leaf in jtu.tree_leaves(state):
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            ok = ok & jnp.all(jnp.isfinite(leaf.reshape(b, -1)), axis=1)
    return ok


def _init_takes_system(observable) -> bool:
    try:
        sig = inspect.signature(observable.init)
    except (TypeError, ValueError):  # pragma: no cover
        return False
    params = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _method_name(method, step) -> str:
    if isinstance(method, str):
        return method
    for name, fn in INTEGRATORS.items():
        if fn is step:
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


def _key_data(key) -> list[int]:
    dtype = key.dtype
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        key = jr.key_data(key)
    return [int(v) for v in np.asarray(key).ravel()]


def _hash_static(h, obj, depth: int = 0) -> None:
    """Feed a process-independent description of a non-array leaf to the hash `h`.

    Functions are hashed by name, bytecode, names, constants (nested code recursively; no
    reprs with memory addresses), defaults and closure cells, so that two lambdas that
    differ only in a constant or a captured value get different fingerprints.
    """
    if depth > 6:
        h.update(b"<deep>")
        return
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        h.update(repr(obj).encode())
        return
    if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
        a = np.asarray(obj)
        h.update(str((a.shape, a.dtype.name)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
        return
    if isinstance(obj, (tuple, list)):
        h.update(f"{type(obj).__name__}{len(obj)}".encode())
        for item in obj:
            _hash_static(h, item, depth + 1)
        return
    if isinstance(obj, frozenset):  # e.g. in co_consts; sorted: set order varies by process
        h.update(repr(sorted(map(repr, obj))).encode())
        return
    if isinstance(obj, types.CodeType):
        h.update(obj.co_code)
        h.update(repr(obj.co_names).encode())
        for const in obj.co_consts:
            _hash_static(h, const, depth + 1)
        return
    h.update(getattr(obj, "__qualname__", type(obj).__qualname__).encode())
    code = getattr(obj, "__code__", None)
    if code is not None:
        _hash_static(h, code, depth + 1)
        _hash_static(h, getattr(obj, "__defaults__", None), depth + 1)
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            _hash_static(h, value, depth + 1)
        owner = getattr(obj, "__self__", None)  # bound method of a Module
        if isinstance(owner, eqx.Module):
            _hash_static(h, owner, depth + 1)
    elif isinstance(obj, eqx.Module):
        for leaf in jtu.tree_leaves(obj):
            _hash_static(h, leaf, depth + 1)


def _fingerprint(system, x0) -> str:
    """Hash of the system's arrays, functions (code, constants, closures) and x0 (to match
    a checkpoint)."""
    h = hashlib.sha256()
    h.update(type(system).__qualname__.encode())
    arrays, other = eqx.partition(system, eqx.is_array)
    for leaf in jtu.tree_leaves(arrays) + [x0]:
        a = np.asarray(leaf)
        h.update(str((a.shape, a.dtype.name)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    for leaf in jtu.tree_leaves(other):
        _hash_static(h, leaf)
    return h.hexdigest()[:32]


def _format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


# --------------------------------------------------------------------------------------
# the scan


def _make_step(step_fn, system, observables, key, dt, t0, b, track=True):
    """The scan body: one integrator step, the observables' updates, divergence tracking.

    With `track=False` the per-step finiteness check is skipped (it costs 5-10 % of a cheap
    step); callers then check the state once at the end, and eager runs replay a chunk that
    ended non-finite with tracking on to name the member and the step (NaN and inf do not
    come back to finite values through the integrator's arithmetic).
    """
    dtype = dt.dtype

    def one_step(c):
        state, acc, bad, k = c
        t = t0 + k.astype(dtype) * dt
        new = _cast_like(step_fn(system, state, t, dt, jr.fold_in(key, k)), state)
        acc = {
            name: _cast_like(obs.update(acc[name], state, new, system, t, dt), acc[name])
            for name, obs in observables.items()
        }
        if track:
            bad = jnp.where((bad < 0) & ~_member_finite(new, b), k, bad)
        return new, acc, bad, k + 1

    return one_step


def _run_steps(step_fn, system, observables, carry, key, dt, t0, n, save_every):
    """All `n` steps from step 0 as one `lax.scan` (nested in blocks when saving); used
    under transformations, so reverse-mode autodiff works."""
    b = jtu.tree_leaves(carry[0])[0].shape[0]
    one_step = _make_step(step_fn, system, observables, key, dt, t0, b, track=False)
    scan_body = lambda c, _: (one_step(c), None)
    c = (*carry, jnp.zeros((), jnp.int32))
    if save_every is None:
        c, _ = jax.lax.scan(scan_body, c, length=n)
        return c[:3], None

    def block(c, _):
        c, _ = jax.lax.scan(scan_body, c, length=save_every)
        return c, system.position(c[0])

    c, saved = jax.lax.scan(block, c, length=n // save_every)
    return c[:3], saved


@eqx.filter_jit
def _run_chunk(
    step_fn, system, observables, carry, key, dt, t0, start, n_blocks, block, capacity, track
):
    """`n_blocks * block` steps from global step `start`, for eager runs.

    Returns the carry, the saved positions (or None) and `[b]` finiteness of the final state.

    `n_blocks` is a traced value (a `while` loop), so chunks of any length, including the
    last, shorter one, share one compiled function. With `capacity` (saving), the positions
    after each block are written to a buffer of `capacity` blocks.
    """
    b = jtu.tree_leaves(carry[0])[0].shape[0]
    one_step = _make_step(step_fn, system, observables, key, dt, t0, b, track)
    c = (*carry, start)
    if capacity is None:
        c = jax.lax.fori_loop(0, n_blocks * block, lambda i, c: one_step(c), c)
        return c[:3], None, _member_finite(c[0], b)

    x = system.position(carry[0])
    buffer = jnp.zeros((capacity, *x.shape), x.dtype)

    def one_block(j, cb):
        c, buffer = cb
        c = jax.lax.fori_loop(0, block, lambda i, c: one_step(c), c)
        buffer = jax.lax.dynamic_update_index_in_dim(buffer, system.position(c[0]), j, 0)
        return c, buffer

    c, buffer = jax.lax.fori_loop(0, n_blocks, one_block, (c, buffer))
    return c[:3], buffer, _member_finite(c[0], b)


def _initialise(system, observables, x0, key):
    state = system.init(x0, key=jr.fold_in(key, _INIT_STREAM))
    state = jtu.tree_map(lambda a: jnp.asarray(a, jnp.result_type(a)), state)
    acc = {}
    for name, obs in observables.items():
        acc[name] = obs.init(state, system) if _init_takes_system(obs) else obs.init(state)
        acc[name] = jtu.tree_map(lambda a: jnp.asarray(a, jnp.result_type(a)), acc[name])
    bad = jnp.full((x0.shape[0],), -1, jnp.int32)
    return state, acc, bad


@eqx.filter_jit
def _initialise_eager(system, observables, x0, key):
    carry = _initialise(system, observables, x0, key)
    return carry, _member_finite(x0, x0.shape[0])


def _finalise(system, observables, state, acc, n_steps, dt):
    values = {name: obs.finalise(acc[name], n_steps, dt) for name, obs in observables.items()}
    return system.position(state), values


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
    (pathwise derivatives with common random numbers). A member whose state becomes NaN or
    infinite stops the run with an error naming the member and the step (eagerly a
    `FloatingPointError`; under `jit` via `equinox.error_if`): usually `dt` is too large.

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
    - `method`: integrator name (`"euler_maruyama"`, `"heun"`, `"baoab"`), a step callable
      `step(system, state, t, dt, key) -> state`, or None for `system.default_method`.
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
    # ---- static validation (trace time) ------------------------------------------------
    if not isinstance(system, AbstractSystem):
        raise ValueError(
            f"`system` must be a jaxneq.langevin system (an AbstractSystem such as "
            f"Overdamped or Underdamped), got {type(system).__name__}"
        )
    x0 = as_inexact(x0, "x0")
    if x0.ndim < 2:
        raise ValueError(
            f"`x0` must have shape [b, *event] (ensemble axis first, e.g. [b, d]), got shape "
            f"{x0.shape}; for b members of a 1D system pass x0[:, None] (shape "
            f"{(*x0.shape, 1)}), for a single trajectory pass x0[None]"
        )
    if x0.shape[0] == 0:
        raise ValueError("`x0` has an empty ensemble axis (b = 0); give at least one member")
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
    if observables is None:
        observables = {}
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
        if _is_int(burn_in) and burn_in > 0 and burn_in >= n_steps:
            raise ValueError(
                f"`observables[{name!r}]` has burn_in={burn_in} >= n_steps={n_steps}: it "
                "would measure nothing; lower burn_in or raise n_steps"
            )
    step_fn = resolve_method(method, system)
    key = _check_key(key)
    system = system.check(x0)
    dtype = x0.dtype
    dt = jnp.asarray(dt)
    if dt.shape != ():
        raise ValueError(f"`dt` must be a scalar, got shape {dt.shape}")
    dt = dt.astype(dtype)
    t0 = jnp.asarray(t0)
    if t0.shape != ():
        raise ValueError(f"`t0` must be a scalar, got shape {t0.shape}")
    t0 = t0.astype(dtype)

    traced = _under_transformation() or not is_concrete(
        eqx.filter(system, eqx.is_array), x0, key, dt, t0, eqx.filter(observables, eqx.is_array)
    )
    if traced:
        if checkpoint is not None:
            raise ValueError(
                "`checkpoint` needs an eager call of simulate (not inside jit/vmap/grad); "
                "call simulate outside the transformation or pass checkpoint=None"
            )
        return _simulate_traced(step_fn, system, observables, x0, key, dt, t0, n_steps, save_every)

    # ---- eager checks of values (on the host: no op-by-op dispatch) --------------------
    dt_value, t0_value = float(np.asarray(dt)), float(np.asarray(t0))
    if not (dt_value > 0 and math.isfinite(dt_value)):
        raise ValueError(f"`dt` must be finite and > 0, got {dt_value}")
    if not math.isfinite(t0_value):
        raise ValueError(f"`t0` must be finite, got {t0_value}")
    return _simulate_eager(
        step_fn,
        _method_name(method if method is not None else system.default_method, step_fn),
        system,
        observables,
        x0,
        key,
        dt,
        t0,
        n_steps,
        save_every,
        chunk_size,
        progress,
        checkpoint,
    )


def _simulate_traced(step_fn, system, observables, x0, key, dt, t0, n_steps, save_every):
    dt = eqx.error_if(dt, ~(dt > 0) | ~jnp.isfinite(dt), "`dt` must be finite and > 0")
    x0 = eqx.error_if(x0, ~jnp.all(jnp.isfinite(x0)), "`x0` has non-finite entries (NaN or inf)")
    carry = _initialise(system, observables, x0, key)
    (state, acc, bad), saved = _run_steps(
        step_fn, system, observables, carry, key, dt, t0, n_steps, save_every
    )
    x, values = _finalise(system, observables, state, acc, n_steps, dt)
    trajectory = None
    if save_every is not None:
        trajectory = jnp.concatenate([system.position(carry[0])[None], saved], axis=0)
    out = (x, state, values, trajectory)
    b = x0.shape[0]
    out = eqx.error_if(
        out,
        jnp.any(bad >= 0) | ~jnp.all(_member_finite(state, b)),
        "simulate: an ensemble member became non-finite (NaN or inf); the time step `dt` is "
        "probably too large for the forces: reduce dt (run simulate outside jit to see "
        "which member and which step)",
    )
    x, state, values, trajectory = out
    return SimulationResult(x, state, values, trajectory)


def _raise_divergence(bad, x0_shape, dt, t0):
    bad = np.asarray(bad)
    members = np.flatnonzero(bad >= 0)
    if members.size == 0:  # pragma: no cover - a replay that did not reproduce the failure
        raise FloatingPointError(
            "simulate: an ensemble member became non-finite (NaN or inf); use a smaller dt"
        )
    steps = bad[members]
    first = members[np.argmin(steps)]
    k = int(bad[first])
    dtf, t0f = float(dt), float(t0)
    more = f"; {len(members)} members diverged in total" if len(members) > 1 else ""
    raise FloatingPointError(
        f"simulate: ensemble member {int(first)} (of {x0_shape[0]}) became non-finite "
        f"(NaN or inf) at step {k} (from t = {t0f + k * dtf:.6g} to "
        f"t = {t0f + (k + 1) * dtf:.6g}){more}. The time step is probably too large for "
        f"the forces: use a smaller dt (now {dtf:.6g}), or check the potential and force "
        "for singularities at the visited states"
    )


def _simulate_eager(
    step_fn,
    method_name,
    system,
    observables,
    x0,
    key,
    dt,
    t0,
    n_steps,
    save_every,
    chunk_size,
    progress,
    checkpoint,
):
    block = save_every or 1
    if chunk_size is None:
        if progress or checkpoint is not None:
            chunk_size = max(1, math.ceil(n_steps / _AUTO_CHUNKS))
        else:
            chunk_size = max(n_steps, 1)
    chunk_blocks = max(1, chunk_size // block)  # whole save blocks per chunk
    capacity = chunk_blocks if save_every is not None else None

    carry, finite0 = _initialise_eager(system, observables, x0, key)
    finite0 = np.asarray(finite0)
    if not finite0.all():
        raise ValueError(
            f"`x0` has non-finite entries (NaN or inf) for member {first_bad_index(~finite0)[0]}"
        )
    start = 0
    x_init = system.position(carry[0])
    pieces = []  # saved positions, [n_blocks, b, *event] per chunk
    trajectory_host = None  # with a checkpoint the trajectory so far lives on the host

    meta_expect = None
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if save_every is not None:
            x_host = np.asarray(x_init)
            trajectory_host = np.zeros((n_steps // save_every + 1, *x_host.shape), x_host.dtype)
            trajectory_host[0] = x_host
        meta_expect = {
            "n_steps": n_steps,
            "dt": float(dt),
            "t0": float(t0),
            "method": method_name,
            "save_every": save_every,
            "shape": list(x0.shape),
            "dtype": x0.dtype.name,
            "key": _key_data(key),
            "observables": sorted(observables),
            "system": type(system).__name__,
            "fingerprint": _fingerprint(system, x0),
        }
        if os.path.exists(checkpoint):
            like = {"state": carry[0], "acc": carry[1], "bad": carry[2]}
            if trajectory_host is not None:
                like["trajectory"] = trajectory_host
            tree, meta = load_checkpoint(checkpoint, like, expect=meta_expect)
            start = meta.get("step")
            if not _is_int(start) or not 0 <= start <= n_steps or start % block:
                raise ValueError(
                    f"checkpoint {checkpoint!r} records an invalid step {start!r}; delete it"
                )
            carry = (tree["state"], tree["acc"], tree["bad"])
            if trajectory_host is not None:
                trajectory_host = np.array(tree["trajectory"])
            if np.any(np.asarray(carry[2]) >= 0):
                _raise_divergence(carry[2], x0.shape, dt, t0)

    resumed_at = start
    clock = None  # (time, step) after the first chunk: rates exclude compilation
    t_begin = time.perf_counter()
    while start < n_steps:
        n_blocks = min(chunk_blocks, (n_steps - start) // block)
        args = (step_fn, system, observables)
        where = (key, dt, t0, jnp.asarray(start, jnp.int32), jnp.asarray(n_blocks, jnp.int32))
        before = carry
        carry, buffer, finite = _run_chunk(*args, carry, *where, block, capacity, False)
        finite = np.asarray(finite)  # waits for the chunk: the timings below are real
        if not finite.all():  # replay the chunk step by step to name the member and step
            replay, _, _ = _run_chunk(*args, before, *where, block, capacity, True)
            _raise_divergence(replay[2], x0.shape, dt, t0)
        if buffer is not None:
            saved = buffer if n_blocks == capacity else buffer[:n_blocks]
            if trajectory_host is not None:
                i = start // block + 1
                trajectory_host[i : i + n_blocks] = np.asarray(saved)
            else:
                pieces.append(saved)
        start += n_blocks * block
        if checkpoint is not None:
            tree = {"state": carry[0], "acc": carry[1], "bad": carry[2]}
            if trajectory_host is not None:
                tree["trajectory"] = trajectory_host
            save_checkpoint(checkpoint, tree, {**meta_expect, "step": start})
        if progress:
            now = time.perf_counter()
            if clock is not None and start > clock[1]:
                rate = (start - clock[1]) / max(now - clock[0], 1e-9)
            else:
                rate = (start - resumed_at) / max(now - t_begin, 1e-9)
            if clock is None:
                clock = (now, start)
            eta = (n_steps - start) / rate if rate > 0 else float("inf")
            end = "\n" if start >= n_steps else ""
            sys.stderr.write(
                f"\rsimulate: step {start}/{n_steps} ({100 * start / n_steps:.0f}%), "
                f"{rate:.3g} steps/s, {_format_seconds(now - t_begin)} elapsed, "
                f"ETA {_format_seconds(eta)}   {end}"
            )
            sys.stderr.flush()

    state, acc, _ = carry
    x, values = _finalise(system, observables, state, acc, n_steps, dt)
    trajectory = None
    if save_every is not None:
        if trajectory_host is not None:
            trajectory = jnp.asarray(trajectory_host)
        else:
            trajectory = jnp.concatenate([x_init[None], *pieces], axis=0)
    return SimulationResult(x, state, values, trajectory)
