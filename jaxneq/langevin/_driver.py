r"""The eager chunk driver of `simulate` (units: k_B = 1).

An eager call of `simulate` (nothing traced, see `_simulate.py`) runs here: a Python loop
over chunks of `chunk_size` steps, each chunk one compiled call of `_scan.run_chunk`
(compiled once and cached; the last, shorter chunk reuses it). Between chunks the driver

- checks that every member is still finite; if not, it replays the chunk with per-step
  tracking (`track=True`, the same step body) and raises a `FloatingPointError` naming the
  member and the step;
- writes the checkpoint (state, integrator aux, accumulators, divergence record and the
  trajectory so far) atomically, with the run's fingerprint (`_checkpoint.fingerprint`);
- prints progress (steps done, steps/s, ETA) to stderr.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._util import first_bad_index
from ._checkpoint import fingerprint, key_data, load_checkpoint, save_checkpoint
from ._scan import Carry, Problem, finalise, initialise_eager, run_chunk

_AUTO_CHUNKS = 20  # chunks of an eager run with progress/checkpoint and chunk_size=None


class DriverOptions(eqx.Module):
    """How an eager run is cut and reported (no influence on the numbers)."""

    chunk_size: int | None = eqx.field(static=True)
    progress: bool = eqx.field(static=True)
    checkpoint: str | None = eqx.field(static=True)
    method_name: str = eqx.field(static=True)
    unroll: int = eqx.field(default=1, static=True)


def format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def raise_divergence(bad, b: int, dt, t0):
    """Raise the `FloatingPointError` naming the first member to diverge and its step."""
    bad = np.asarray(bad)
    members = np.flatnonzero(bad >= 0)
    if members.size == 0:  # pragma: no cover - a replay that did not reproduce the failure
        raise FloatingPointError(
            "simulate: an ensemble member became non-finite (NaN or inf); use a smaller dt"
        )
    first = members[np.argmin(bad[members])]
    k = int(bad[first])
    dtf, t0f = float(dt), float(t0)
    more = f"; {len(members)} members diverged in total" if len(members) > 1 else ""
    raise FloatingPointError(
        f"simulate: ensemble member {int(first)} (of {b}) became non-finite "
        f"(NaN or inf) at step {k} (from t = {t0f + k * dtf:.6g} to "
        f"t = {t0f + (k + 1) * dtf:.6g}){more}. The time step is probably too large for "
        f"the forces: use a smaller dt (now {dtf:.6g}), or check the potential and force "
        "for singularities at the visited states"
    )


class _Progress:
    """Steps done, steps/s (excluding the first chunk's compilation) and ETA on stderr."""

    def __init__(self, n_steps: int, start: int):
        self.n_steps, self.resumed_at = n_steps, start
        self.clock = None
        self.t_begin = time.perf_counter()

    def report(self, start: int) -> None:
        now = time.perf_counter()
        if self.clock is not None and start > self.clock[1]:
            rate = (start - self.clock[1]) / max(now - self.clock[0], 1e-9)
        else:
            rate = (start - self.resumed_at) / max(now - self.t_begin, 1e-9)
        if self.clock is None:
            self.clock = (now, start)
        eta = (self.n_steps - start) / rate if rate > 0 else float("inf")
        end = "\n" if start >= self.n_steps else ""
        sys.stderr.write(
            f"\rsimulate: step {start}/{self.n_steps} ({100 * start / self.n_steps:.0f}%), "
            f"{rate:.3g} steps/s, {format_seconds(now - self.t_begin)} elapsed, "
            f"ETA {format_seconds(eta)}   {end}"
        )
        sys.stderr.flush()


def _tree(carry: Carry, trajectory_host) -> dict[str, Any]:
    tree = {"state": carry.state, "aux": carry.aux, "acc": carry.acc, "bad": carry.bad}
    if trajectory_host is not None:
        tree["trajectory"] = trajectory_host
    return tree


def _metadata(problem: Problem, x0, n_steps, save_every, options) -> dict[str, Any]:
    return {
        "n_steps": n_steps,
        "dt": float(problem.dt),
        "t0": float(problem.t0),
        "method": options.method_name,
        "save_every": save_every,
        "shape": list(x0.shape),
        "dtype": x0.dtype.name,
        "key": key_data(problem.key),
        "observables": sorted(problem.observables),
        "system": type(problem.system).__name__,
        "fingerprint": fingerprint(problem.system, x0, problem.integrator),
    }


def _resume(path, carry: Carry, trajectory_host, meta, n_steps, block, problem):
    """Carry, trajectory and step from an existing checkpoint of the same run."""
    tree, saved_meta = load_checkpoint(path, _tree(carry, trajectory_host), expect=meta)
    start = saved_meta.get("step")
    is_int = isinstance(start, int) and not isinstance(start, bool)
    if not is_int or not 0 <= start <= n_steps or start % block:
        raise ValueError(f"checkpoint {path!r} records an invalid step {start!r}; delete it")
    carry = Carry(
        tree["state"], tree["aux"], tree["acc"], tree["bad"], jnp.asarray(start, jnp.int32)
    )
    if trajectory_host is not None:
        trajectory_host = np.array(tree["trajectory"])
    if np.any(np.asarray(carry.bad) >= 0):
        raise_divergence(carry.bad, carry.bad.shape[0], problem.dt, problem.t0)
    return carry, trajectory_host, start


def _start(problem: Problem, x0, n_steps, save_every, options: DriverOptions):
    """Initial carry, first step, host trajectory buffer and checkpoint metadata (resuming
    from `options.checkpoint` when it holds this run)."""
    carry, finite0 = initialise_eager(problem, x0)
    finite0 = np.asarray(finite0)
    if not finite0.all():
        raise ValueError(
            f"`x0` has non-finite entries (NaN or inf) for member {first_bad_index(~finite0)[0]}"
        )
    start, trajectory_host, meta = 0, None, None  # with a checkpoint the trajectory is on host
    if options.checkpoint is not None:
        if save_every is not None:
            x_host = np.asarray(problem.system.position(carry.state))
            trajectory_host = np.zeros((n_steps // save_every + 1, *x_host.shape), x_host.dtype)
            trajectory_host[0] = x_host
        meta = _metadata(problem, x0, n_steps, save_every, options)
        if os.path.exists(options.checkpoint):
            carry, trajectory_host, start = _resume(
                options.checkpoint, carry, trajectory_host, meta, n_steps, save_every or 1, problem
            )
    return carry, start, trajectory_host, meta


def run_eager(
    problem: Problem, x0: Array, n_steps: int, save_every: int | None, options: DriverOptions
) -> tuple[Array, Any, dict[str, Any], Array | None]:
    """Run `simulate` eagerly; returns (x, state, observables, trajectory)."""
    block, checkpoint = save_every or 1, options.checkpoint
    chunk_size = options.chunk_size
    if chunk_size is None:  # one chunk, or about 20 when there is something to do between
        auto = options.progress or checkpoint is not None
        chunk_size = max(1, math.ceil(n_steps / _AUTO_CHUNKS)) if auto else max(n_steps, 1)
    chunk_blocks = max(1, chunk_size // block)  # whole save blocks per chunk
    capacity = chunk_blocks if save_every is not None else None

    carry, start, trajectory_host, meta = _start(problem, x0, n_steps, save_every, options)
    x_init = problem.system.position(carry.state)  # used without a checkpoint (start = 0)
    b = x0.shape[0]
    pieces = []  # saved positions, [n_blocks, b, *event] per chunk (without a checkpoint)
    progress = _Progress(n_steps, start) if options.progress else None
    while start < n_steps:
        n_blocks = jnp.asarray(min(chunk_blocks, (n_steps - start) // block), jnp.int32)
        before = carry
        carry, buffer, finite = run_chunk(
            problem, carry, n_blocks, block, capacity, False, options.unroll
        )
        finite = np.asarray(finite)  # waits for the chunk: the timings below are real
        if not finite.all():  # replay the chunk step by step to name the member and step
            replay, _, _ = run_chunk(
                problem, before, n_blocks, block, capacity, True, options.unroll
            )
            raise_divergence(replay.bad, b, problem.dt, problem.t0)
        n_blocks = int(n_blocks)
        if buffer is not None:
            saved = buffer if n_blocks == capacity else buffer[:n_blocks]
            if trajectory_host is not None:
                i = start // block + 1
                trajectory_host[i : i + n_blocks] = np.asarray(saved)
            else:
                pieces.append(saved)
        start += n_blocks * block
        if checkpoint is not None:
            save_checkpoint(checkpoint, _tree(carry, trajectory_host), {**meta, "step": start})
        if progress is not None:
            progress.report(start)

    x, values = finalise(problem, carry, n_steps)
    trajectory = None
    if save_every is not None:
        if trajectory_host is not None:
            trajectory = jnp.asarray(trajectory_host)
        else:
            trajectory = jnp.concatenate([x_init[None], *pieces], axis=0)
    return x, carry.state, values, trajectory
