r"""Streaming observables: reducers carried through `simulate`'s scan (units: k_B = 1).

An observable is an `eqx.Module` with three methods:

- `init(state, system)` -> `acc`: the initial accumulator for the batched initial state
  (`simulate` always passes both; an observable that does not need the system ignores it);
- `update(acc, before, after, system, t, dt)` -> `acc`: fold in one step from time `t` to
  `t + dt`, `before`/`after` the batched states (use `system.position(...)` for positions
  and `jax.vmap` of the system's methods for per-member quantities);
- `finalise(acc, n_steps, dt)` -> value: the result stored in
  `SimulationResult.observables[name]`.

Observables that discard the first steps (`burn_in`) count their own updates in the
accumulator, so they do not depend on the initial time `t0`. Accumulators are pytrees of
arrays (they are checkpointed with the state).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PyTree

from .._util import as_inexact, is_concrete


class AbstractObservable(eqx.Module):
    """A reducer over the steps of a simulation: `init`, `update`, `finalise`.

    See the module docstring for the protocol. Subclass it to write your own; `simulate`
    knows nothing about what an observable measures. The three signatures are fixed
    (nothing is inferred from them): `simulate` calls `init(state, system)`,
    `update(acc, before, after, system, t, dt)` and `finalise(acc, n_steps, dt)`.
    """

    @abc.abstractmethod
    def init(self, state: PyTree, system: Any) -> PyTree:
        """Initial accumulator for the batched initial `state` of `system`.

        **Arguments:**

        - `state`: the batched initial state (leading axis `b`), as returned by
          `system.init`; `system.position(state)` gives the positions `[b, *event]`.
        - `system`: the system being simulated (always passed; ignore it if not needed).

        **Returns:** the accumulator, a pytree of arrays (it is carried through the scan and
        checkpointed with the state).
        """

    @abc.abstractmethod
    def update(
        self, acc: PyTree, before: PyTree, after: PyTree, system: Any, t: Array, dt: Array
    ) -> PyTree:
        """Accumulator after one step from `before` (time t) to `after` (time t + dt)."""

    @abc.abstractmethod
    def finalise(self, acc: PyTree, n_steps: int, dt: Array) -> Any:
        """The value reported in `SimulationResult.observables`."""


def check_bin_edges(e: Array, name: str) -> None:
    """Raise a `ValueError` naming `name` unless `e` is 1D, >= 2 long and strictly increasing."""
    if e.ndim != 1 or e.shape[0] < 2:
        raise ValueError(
            f"`{name}` must be a 1D array of at least 2 increasing bin edges, got shape {e.shape}"
        )
    # numpy, not jnp: under a trace, jnp ops on concrete arrays are staged as tracers.
    if is_concrete(e) and not np.all(np.diff(np.asarray(e)) > 0):
        raise ValueError(f"`{name}` must be strictly increasing")


def _check_burn_in(burn_in) -> int:
    if isinstance(burn_in, bool) or not isinstance(burn_in, (int, np.integer)) or burn_in < 0:
        raise ValueError(f"`burn_in` must be an int >= 0 (a number of steps), got {burn_in!r}")
    return int(burn_in)


def _check_every(every) -> int:
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(
            f"`every` must be an int >= 1 (sample the state after every `every`-th step), "
            f"got {every!r}"
        )
    return int(every)


def every_step(steps_done: Array, every: int, update: Callable[[PyTree], PyTree], acc: PyTree):
    """`update(acc)` if the step being folded in (number `steps_done + 1`, counted from the
    start of the run) is a multiple of `every`, else `acc` unchanged (a `lax.cond`, so the
    skipped updates cost nothing; the step count is not batched, so this stays a real
    branch under `vmap`). The update's result is cast to the accumulator's dtypes."""
    if every == 1:
        return update(acc)

    def do(a):
        return jax.tree_util.tree_map(lambda n, o: jnp.asarray(n, o.dtype), update(a), a)

    return jax.lax.cond((steps_done + 1) % every == 0, do, lambda a: a, acc)


def sample_count(steps_done: Array, burn_in: int, every: int) -> Array:
    """Number of sampled steps among `1, ..., steps_done`: the multiples of `every` that are
    `> burn_in` (`steps_done - burn_in` for `every = 1`)."""
    return jnp.maximum(steps_done // every - burn_in // every, 0)


def _kahan_add(total: Array, comp: Array, value: Array) -> tuple[Array, Array]:
    """Compensated (Kahan) summation: keeps float32 time averages accurate over long runs."""
    y = value - comp
    new = total + y
    comp = (new - total) - y
    return new, comp


class Mean(AbstractObservable):
    r"""Time average of `fn(x)` for each ensemble member.

    $\bar f_i = \frac{1}{n - n_0} \sum_{k = n_0 + 1}^{n} f(x_i(t_0 + k\,\mathrm{d}t))$: the
    states after steps `burn_in + 1, ..., n_steps` (the initial state is not included).
    Sums are compensated (Kahan), so float32 averages stay accurate over millions of steps.

    **Arguments:**

    - `fn`: function of one member's position returning an array (any shape); `None` means
      the position itself.
    - `burn_in`: number of initial steps to discard (an int, < `n_steps`).
    - `every`: sample only the states after steps `every, 2 every, 3 every, ...` (step
      numbers counted from the start of the run, whatever `t0`) that exceed `burn_in`, so a
      costly `fn` is evaluated `every` times less often (keyword; default 1, every step).
      The average is over those samples: with `burn_in = 10` and `every = 4` the states
      after steps 12, 16, 20, ... are averaged.

    **Returns** (from `simulate`): array `[b, *fn_shape]`.

    **Example:**

    ```python
    obs = {"x2": jn.observables.Mean(lambda x: x**2, burn_in=1000)}
    res = jn.langevin.simulate(system, x0, key=key, dt=1e-2, n_steps=10_000, observables=obs)
    res.observables["x2"]  # [b, d]
    ```
    """

    fn: Callable | None = None
    burn_in: int = eqx.field(default=0, static=True)
    every: int = eqx.field(default=1, static=True, kw_only=True)

    def __check_init__(self):
        _check_burn_in(self.burn_in)
        _check_every(self.every)
        if self.fn is not None and not callable(self.fn):
            raise ValueError(f"`fn` must be a callable fn(x) or None, got {self.fn!r}")

    def _values(self, system, state) -> Array:
        x = system.position(state)
        if self.fn is None:
            return x
        out = jax.vmap(self.fn)(x)
        out = jnp.asarray(out)
        if not jnp.issubdtype(out.dtype, jnp.inexact):
            out = out.astype(x.dtype)
        return out

    def init(self, state, system):
        shape = jax.eval_shape(lambda s: self._values(system, s), state)
        zeros = jnp.zeros(shape.shape, shape.dtype)
        return {"n": jnp.zeros((), jnp.int32), "sum": zeros, "comp": zeros}

    def update(self, acc, before, after, system, t, dt):
        del before, t, dt

        def add(acc):
            value = self._values(system, after)
            if self.burn_in:
                value = jnp.where(acc["n"] >= self.burn_in, value, jnp.zeros_like(value))
            total, comp = _kahan_add(acc["sum"], acc["comp"], value)
            return {"n": acc["n"], "sum": total, "comp": comp}

        acc = every_step(acc["n"], self.every, add, acc)
        return {**acc, "n": acc["n"] + 1}

    def finalise(self, acc, n_steps, dt):
        del n_steps, dt
        count = sample_count(acc["n"], self.burn_in, self.every).astype(acc["sum"].dtype)
        return (acc["sum"] - acc["comp"]) / count


class _Binned(AbstractObservable):
    """Shared binning of `Histogram` and `CurrentField`: one edge rule, one choice of the
    binned points (`coordinates`/`fn`, same defaults), one normalisation."""

    edges: tuple[Array, ...]
    burn_in: int = eqx.field(static=True)
    coordinates: tuple[int, ...] | None = eqx.field(static=True)
    fn: Callable | None
    every: int = eqx.field(static=True)

    def _set_binning(self, edges, burn_in, coordinates, fn, every=1) -> None:
        if isinstance(edges, (tuple, list)) and len(edges) > 0 and jnp.ndim(edges[0]) == 1:
            edge_list = tuple(as_inexact(e, "edges") for e in edges)
        else:
            edge_list = (as_inexact(edges, "edges"),)
        self.edges = edge_list
        self.burn_in = burn_in
        if coordinates is not None:
            coordinates = (
                (int(coordinates),)
                if isinstance(coordinates, (int, np.integer))
                else tuple(int(c) for c in coordinates)
            )
        self.coordinates = coordinates
        self.fn = fn
        self.every = every

    def __check_init__(self):
        _check_burn_in(self.burn_in)
        _check_every(self.every)
        if len(self.edges) not in (1, 2):
            raise ValueError(
                f"`edges` must be one or two 1D arrays of bin edges (a 1D or 2D grid), got "
                f"{len(self.edges)} arrays"
            )
        for i, e in enumerate(self.edges):
            check_bin_edges(e, f"edges[{i}]" if len(self.edges) > 1 else "edges")
        if self.coordinates is not None and len(self.coordinates) != len(self.edges):
            raise ValueError(
                f"`coordinates` must name {len(self.edges)} coordinate(s), one per edges array,"
                f" got {self.coordinates}"
            )
        if self.fn is not None and self.coordinates is not None:
            raise ValueError("give either `coordinates` or `fn`, not both")
        if self.fn is not None and not callable(self.fn):
            raise ValueError(f"`fn` must be a callable of one member's position, got {self.fn!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        """The number of bins along each axis."""
        return tuple(int(e.shape[0]) - 1 for e in self.edges)

    @property
    def centres(self) -> tuple[Array, ...]:
        """Bin centres along each axis."""
        return tuple(0.5 * (e[1:] + e[:-1]) for e in self.edges)

    def _volume(self, dtype) -> Array:
        widths = [jnp.diff(e).astype(dtype) for e in self.edges]
        return widths[0] if len(widths) == 1 else widths[0][:, None] * widths[1][None, :]

    def _points(self, x: Array) -> Array:
        """Points to bin, `[m, k]` (k = 1 or 2) from the batched positions `x` `[b, *event]`."""
        k = len(self.edges)
        b = x.shape[0]
        if self.fn is not None:
            out = jnp.asarray(jax.vmap(self.fn)(x))
            if k == 1:
                return out.reshape(-1, 1)
            if out.shape[-1] != 2:
                raise ValueError(
                    f"a 2D {type(self).__name__}'s `fn` must return points [..., 2], got shape "
                    f"{out.shape[1:]} for one member"
                )
            return out.reshape(-1, 2)
        flat = x.reshape(b, -1)
        size = flat.shape[1]
        coords = self.coordinates
        if coords is None:
            if k == 1:  # every degree of freedom of every member is a sample
                return flat.reshape(-1, 1)
            if x.ndim >= 2 and x.shape[-1] == 2:  # points [..., 2]: pool particles
                return x.reshape(-1, 2)
            if size == 2:  # one point per member, e.g. two particles in 1D, [b, 2, 1]
                return flat
            raise ValueError(
                f"a 2D {type(self).__name__} bins points (x, y): positions of event shape "
                f"{x.shape[1:]} neither end in an axis of size 2 nor hold 2 coordinates; pass "
                "`coordinates=(i, j)` (indices into the flattened position) or `fn=` (a "
                "projection returning [..., 2])"
            )
        for c in coords:
            if not -size <= c < size:
                raise ValueError(
                    f"`coordinates` {coords} out of range for an event of {size} coordinates "
                    f"(event shape {x.shape[1:]}, flattened)"
                )
        return flat[:, jnp.asarray(coords)]

    def _bin_index(self, points: Array) -> Array:
        """Flat bin index of each point; `n_bins_total` for points outside the range.

        Bins are half-open, `[e_j, e_{j+1})`, except the last, which holds its upper edge.
        """
        index = jnp.zeros(points.shape[0], jnp.int32)
        inside = jnp.ones(points.shape[0], bool)
        for axis, e in enumerate(self.edges):
            p = points[:, axis]
            e = e.astype(p.dtype)
            n = e.shape[0] - 1
            method = "compare_all" if n <= 256 else "scan"
            i = jnp.searchsorted(e, p, side="right", method=method).astype(jnp.int32) - 1
            i = jnp.where(p == e[-1], n - 1, i)  # the last edge belongs to the last bin
            inside = inside & (i >= 0) & (i < n) & ~jnp.isnan(p)
            index = index * n + jnp.clip(i, 0, n - 1)
        total = int(np.prod(self.shape))
        return jnp.where(inside, index, total)


class Histogram(_Binned):
    r"""Density of visited states over the ensemble and all steps after `burn_in`.

    Every member's state after each step `burn_in + 1, ..., n_steps` is binned. The result is
    a density per unit volume over ALL binned samples: $p_j = n_j / (N \Delta_j)$ with $n_j$
    the samples in bin $j$, $N$ all samples (members $\times$ measured steps $\times$
    points per member, those outside the range or NaN included) and $\Delta_j$ the bin
    volume. So it estimates the (stationary) density itself, whatever the range, and
    $\sum_j p_j \Delta_j$ is the fraction of samples inside the range (1 when every sample is
    binned). Counts are exact 64-bit integers (two uint32 words), also without
    `jax_enable_x64`.

    `Histogram` and `CurrentField` bin identically (same `edges` rule: half-open bins
    $[e_j, e_{j+1})$, the last one closed; same `coordinates`/`fn` and defaults; same
    normalisation), so `CurrentField / Histogram[..., None]` estimates the local mean
    velocity $v = J/p$ without a bias from the binning.

    **Arguments:**

    - `edges`: a 1D array of increasing bin edges `[n_bins + 1]` (a 1D histogram), or a tuple
      of two such arrays (a 2D histogram; axis k of the result is coordinate k).
    - `burn_in`: number of initial steps to discard (an int).
    - `coordinates`: which coordinate(s) of the flattened position of one member to bin: an
      int for 1D, a pair of ints for 2D. By default a 1D histogram bins EVERY degree of
      freedom of every member (for `[b, 1]` positions: the position; for N particles in 1D,
      `[b, N, 1]`: all particles pooled), and a 2D histogram bins the points along the last
      axis when it has size 2 (`[b, 2]`: the position; `[b, N, 2]`: all particles pooled),
      or else the two coordinates of an event of size 2 (`[b, 2, 1]`: $(x_0, x_1)$).
    - `fn`: instead of `coordinates`, a projection of one member's position: for 1D it returns
      any array whose entries are all binned (e.g. `lambda x: x[:, 0]` pools the x
      coordinate of N particles); for 2D an array `[..., 2]` of points (e.g. `lambda x: x`
      for `[N, 2]` positions pools all particles).
    - `every`: bin only the states after steps `every, 2 every, ...` (numbers counted
      from the start of the run) that exceed `burn_in` (keyword; default 1, every step);
      $N$ then counts those samples only, so the density is normalised the same way.

    **Returns** (from `simulate`): the density, `[n_bins]` or `[n_bins_0, n_bins_1]`.

    **Example:**

    ```python
    obs = {"p": jn.observables.Histogram(jnp.linspace(-3, 3, 61), burn_in=1000)}
    res = jn.langevin.simulate(system, x0, key=key, dt=1e-2, n_steps=20_000, observables=obs)
    density = res.observables["p"]  # [60]
    ```
    """

    def __init__(
        self,
        edges: ArrayLike | Sequence[ArrayLike],
        burn_in: int = 0,
        *,
        coordinates: int | Sequence[int] | None = None,
        fn: Callable | None = None,
        every: int = 1,
    ):
        self._set_binning(edges, burn_in, coordinates, fn, every)

    def init(self, state, system):
        del state, system
        size = int(np.prod(self.shape)) + 1
        zeros = jnp.zeros(size, jnp.uint32)
        return {"n": jnp.zeros((), jnp.int32), "lo": zeros, "hi": zeros}

    def update(self, acc, before, after, system, t, dt):
        del before, t, dt

        def add(acc):
            points = self._points(system.position(after))
            index = self._bin_index(points)
            size = acc["lo"].shape[0]
            if self.burn_in:  # out of bounds: dropped
                index = jnp.where(acc["n"] >= self.burn_in, index, size)
            counts = jnp.zeros(size, jnp.uint32).at[index].add(jnp.uint32(1), mode="drop")
            lo = acc["lo"] + counts
            hi = acc["hi"] + (lo < counts).astype(jnp.uint32)  # carry on uint32 overflow
            return {"n": acc["n"], "lo": lo, "hi": hi}

        acc = every_step(acc["n"], self.every, add, acc)
        return {**acc, "n": acc["n"] + 1}

    def finalise(self, acc, n_steps, dt):
        del n_steps, dt
        dtype = self.edges[0].dtype
        counts = acc["hi"].astype(dtype) * 4294967296.0 + acc["lo"].astype(dtype)
        total = jnp.sum(counts)  # every binned sample, the outside slot (last entry) included
        counts = counts[:-1].reshape(self.shape)
        return counts / (total * self._volume(dtype))
