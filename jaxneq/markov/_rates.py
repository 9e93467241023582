r"""Rate representations of continuous-time Markov chains (units: k_B = 1).

Conventions (see DESIGN.md): `rates[i, j]` is the rate of the jump i -> j for i != j; the
diagonal is ignored. A distribution `p` is a row vector and $\dot p = p Q$ with
$Q = \mathrm{rates} - \mathrm{diag}(\sum_j \mathrm{rates}_{ij})$.

Two representations are first class and interchangeable everywhere in `jaxneq.markov`:

- a dense array of shape `[n, n]`;
- `EdgeRates(src, dst, rate, n_states)`, a sparse edge list (COO), whose duplicate edges add
  up and whose self-loops (src == dst) are ignored.
"""

from __future__ import annotations

from typing import TypeAlias

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jaxtyping import Array, ArrayLike, Float, Int
from scipy.sparse import csgraph

from .._util import as_inexact, first_bad_index, is_concrete


class EdgeRates(eqx.Module):
    """Sparse rates of a continuous-time Markov chain, as an edge list.

    Edge `k` is the jump `src[k] -> dst[k]` with rate `rate[k]`. Duplicate edges add up (as in
    a COO matrix) and self-loops are ignored. `rate` is a differentiable pytree leaf, so
    `jax.grad` with respect to an `EdgeRates` reaches the rate values; `src`, `dst` are integer
    leaves and `n_states` is static.

    **Arguments:**

    - `src`: integer array `[m]`, the state each jump leaves.
    - `dst`: integer array `[m]`, the state each jump enters.
    - `rate`: float array `[m]`, the rates (>= 0).
    - `n_states`: the number of states `n` (a Python int).

    **Example:**

    ```python
    ring = jn.markov.EdgeRates(jnp.array([0, 1, 2]), jnp.array([1, 2, 0]),
                               jnp.array([1.0, 2.0, 3.0]), 3)
    p = jn.markov.stationary(ring)
    ```
    """

    src: Int[Array, " m"]
    dst: Int[Array, " m"]
    rate: Float[Array, " m"]
    n_states: int = eqx.field(static=True)

    def __init__(self, src: ArrayLike, dst: ArrayLike, rate: ArrayLike, n_states: int):
        self.src = jnp.asarray(src)
        self.dst = jnp.asarray(dst)
        self.rate = as_inexact(rate, "rate")
        try:
            self.n_states = int(n_states)
        except TypeError as e:
            raise ValueError(
                f"`n_states` must be a Python int (it is static), got {n_states!r}"
            ) from e

    def __check_init__(self):
        if self.n_states < 1:
            raise ValueError(f"`n_states` must be >= 1, got {self.n_states}")
        for name, arr in (("src", self.src), ("dst", self.dst)):
            if not jnp.issubdtype(arr.dtype, jnp.integer):
                raise ValueError(
                    f"`{name}` must be an integer array of state indices, got dtype {arr.dtype}"
                )
            if arr.ndim != 1:
                raise ValueError(f"`{name}` must be 1D [m], got shape {arr.shape}")
        if self.rate.ndim != 1:
            raise ValueError(
                f"`rate` must be 1D [m], got shape {self.rate.shape}; to batch chains, "
                "vmap over a function that builds the EdgeRates"
            )
        if not (self.src.shape == self.dst.shape == self.rate.shape):
            raise ValueError(
                "`src`, `dst` and `rate` must have the same length, got "
                f"{self.src.shape[0]}, {self.dst.shape[0]} and {self.rate.shape[0]}"
            )
        if is_concrete(self.src, self.dst):
            for name, arr in (("src", self.src), ("dst", self.dst)):
                bad = (np.asarray(arr) < 0) | (np.asarray(arr) >= self.n_states)
                if bad.any():
                    k = first_bad_index(bad)[0]
                    raise ValueError(
                        f"`{name}` has an out-of-range state index {int(arr[k])} at edge {k}: "
                        f"indices must lie in [0, n_states) = [0, {self.n_states})"
                    )

    @property
    def dtype(self):
        return self.rate.dtype

    @property
    def offdiagonal_rate(self) -> Float[Array, " m"]:
        """The rates with self-loops set to zero."""
        return jnp.where(self.src == self.dst, jnp.zeros((), self.rate.dtype), self.rate)

    def exit_rates(self) -> Float[Array, " n"]:
        """Total rate out of each state, $\\sum_{j \\ne i} r_{ij}$."""
        return jax.ops.segment_sum(self.offdiagonal_rate, self.src, self.n_states)

    def to_dense(self) -> Float[Array, "n n"]:
        """Dense `[n, n]` rate matrix (duplicates summed, zero diagonal)."""
        n = self.n_states
        dense = jnp.zeros((n, n), self.rate.dtype).at[self.src, self.dst].add(self.offdiagonal_rate)
        return dense

    def pQ(self, p: Float[Array, " n"]) -> Float[Array, " n"]:
        """Row-vector product $p Q$ (the master-equation right-hand side), matrix free."""
        r = self.offdiagonal_rate
        inflow = jax.ops.segment_sum(p[self.src] * r, self.dst, self.n_states)
        return inflow - p * self.exit_rates()

    def Qv(self, v: Float[Array, " n"]) -> Float[Array, " n"]:
        """Column-vector product $Q v$, i.e. $(Qv)_i = \\sum_j r_{ij}(v_j - v_i)$, matrix free."""
        r = self.offdiagonal_rate
        return jax.ops.segment_sum(r * (v[self.dst] - v[self.src]), self.src, self.n_states)

    @classmethod
    def from_dense(cls, rates: ArrayLike) -> EdgeRates:
        """Edge list of the nonzero off-diagonal entries of a concrete dense rate matrix.

        Not traceable (the number of edges depends on the values); use it outside `jit`.
        """
        r = np.asarray(check_dense_shape(jnp.asarray(rates), "rates"))
        mask = (r != 0) & ~np.eye(r.shape[0], dtype=bool)
        src, dst = np.nonzero(mask)
        return cls(jnp.asarray(src), jnp.asarray(dst), jnp.asarray(r[src, dst]), r.shape[0])


Rates: TypeAlias = Float[Array, "n n"] | EdgeRates
"""Either representation of the rates of a chain."""


def check_dense_shape(rates: Array, name: str = "rates") -> Array:
    """Raise at trace time unless `rates` is a square 2D array."""
    if rates.ndim != 2 or rates.shape[0] != rates.shape[1]:
        raise ValueError(
            f"`{name}` must be a square [n, n] rate matrix (or an EdgeRates), got shape "
            f"{rates.shape}; for a batch of chains use jax.vmap"
        )
    return rates


def _check_values(values: Array, name: str, where: str) -> Array:
    """Reject negative, NaN or infinite entries: eagerly with the location, else error_if."""
    if is_concrete(values):
        v = np.asarray(values)
        checks = ((np.isnan(v), "a NaN"), (np.isinf(v), "an infinite"), (v < 0, "a negative"))
        for bad, what in checks:
            if bad.any():
                idx = first_bad_index(bad)
                loc = idx[0] if len(idx) == 1 else idx
                raise ValueError(
                    f"`{name}` has {what} entry at {where} {loc}: rates must be finite and >= 0"
                    " (the diagonal is ignored)"
                )
        return values
    # One check, not one per kind of bad entry: under `vmap` over thousands of small chains
    # each `error_if` costs about as much as the reduction itself (measured: 2.7 -> 1.7 ms
    # for 4096 chains of 16 states). NaN fails both comparisons.
    return eqx.error_if(
        values,
        ~jnp.all((values >= 0) & (values < jnp.inf)),
        f"`{name}` has a negative, NaN or infinite entry: rates must be finite and >= 0 "
        "(the diagonal is ignored)",
    )


def validate_rates(rates: Rates, name: str = "rates", *, check_traced_values: bool = True) -> Rates:
    """Check a dense matrix or `EdgeRates` and return it (use the returned value).

    **Arguments:**

    - `rates`: a dense `[n, n]` rate matrix (`rates[i, j]` the rate of the jump i -> j) or an
      `EdgeRates`.
    - `name`: the argument name used in error messages (default `"rates"`).
    - `check_traced_values`: keyword; whether traced values get the runtime value check
      (default True; see below).

    **Returns:** the rates, same type: a dense matrix comes back as a float array with zeros
    on the diagonal; an `EdgeRates` with its checks attached.

    Shape problems raise `ValueError` at trace time. Negative, NaN or infinite rates raise a
    `ValueError` naming the offending entry when the values are concrete, and an
    `eqx.error_if` runtime error under `jit`. The dense diagonal is ignored (it may hold
    anything finite or not) and comes back as zeros.

    `check_traced_values=False` skips the runtime value check on traced values, for a caller
    that checks them itself (`stationary` does, inside its solver, so that under `vmap` the
    error names the batch member).
    """
    if isinstance(rates, EdgeRates):
        rate = rates.rate
        if check_traced_values or is_concrete(rate):
            rate = _check_values(rate, f"{name}.rate", "edge")
        if not is_concrete(rates.src, rates.dst):
            n = rates.n_states
            src = eqx.error_if(
                rates.src,
                jnp.any((rates.src < 0) | (rates.src >= n) | (rates.dst < 0) | (rates.dst >= n)),
                f"`{name}` has an out-of-range state index: src/dst must lie in [0, {n})",
            )
            return EdgeRates(src, rates.dst, rate, n)
        return EdgeRates(rates.src, rates.dst, rate, rates.n_states)
    rates = as_inexact(rates, name)
    check_dense_shape(rates, name)
    n = rates.shape[0]
    off = jnp.where(jnp.eye(n, dtype=bool), jnp.zeros((), rates.dtype), rates)
    if check_traced_values or is_concrete(off):
        off = _check_values(off, name, "index")
    return off


def invalid_values(values: Array, axis=None) -> Array:
    """Whether `values` holds a negative, NaN or infinite entry (reduced over `axis`).

    NaN fails both comparisons. This is the traced counterpart of the
    eager check in `validate_rates`, for solvers that report it themselves.
    """
    return ~jnp.all((values >= 0) & (values < jnp.inf), axis=axis)


def closed_classes(rates: Rates) -> list[np.ndarray]:
    """Closed communicating classes of a chain with concrete structure (host code, scipy).

    An edge counts when its rate is positive; when the rate values are traced, every edge of
    the structure counts (so a chain reported reducible here is reducible for any values).
    Returns the sorted state indices of each closed class, in order of their smallest
    state. Exactly one class means a unique stationary distribution.
    """
    if isinstance(rates, EdgeRates):
        src, dst, n = np.asarray(rates.src), np.asarray(rates.dst), rates.n_states
        if is_concrete(rates.rate):
            keep = np.asarray(rates.rate) > 0
            src, dst = src[keep], dst[keep]
    else:
        r = np.asarray(rates)
        n = r.shape[0]
        src, dst = np.nonzero(r > 0)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    graph = sp.csr_matrix((np.ones(src.size, np.int8), (src, dst)), shape=(n, n))
    n_comp, labels = csgraph.connected_components(graph, directed=True, connection="strong")
    leaves = np.zeros(n_comp, bool)
    leaves[labels[src[labels[src] != labels[dst]]]] = True
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_comp + 1))
    classes = [order[bounds[c] : bounds[c + 1]] for c in np.nonzero(~leaves)[0]]
    return sorted(classes, key=lambda c: int(c[0]))


def describe_classes(classes: list[np.ndarray], limit: int = 2, shown: int = 6) -> str:
    """`{0, 1} and {2, 3}` (at most `limit` classes, `shown` states each), for messages."""

    def one(c):
        states = ", ".join(str(int(i)) for i in c[:shown])
        return "{" + states + (f", ... ({c.size} states)" if c.size > shown else "") + "}"

    text = " and ".join(one(c) for c in classes[:limit])
    if len(classes) > limit:
        text += f" (and {len(classes) - limit} more)"
    return text


def n_states(rates: Rates) -> int:
    """Number of states of either representation (static)."""
    if isinstance(rates, EdgeRates):
        return rates.n_states
    return check_dense_shape(jnp.asarray(rates)).shape[0]


def to_dense(rates: Rates) -> Float[Array, "n n"]:
    """Dense rate matrix with zero diagonal, from either representation.

    **Arguments:**

    - `rates`: a dense `[n, n]` rate matrix (`rates[i, j]` is the rate of i -> j; the
      diagonal is ignored) or an `EdgeRates` edge list (duplicate edges add up).

    **Returns:** the `[n, n]` rate matrix with its diagonal set to zero.

    **Example:** `jn.markov.to_dense(jn.markov.EdgeRates([0, 1], [1, 0], [2.0, 1.0], 2))`
    is `[[0, 2], [1, 0]]`.
    """
    if isinstance(rates, EdgeRates):
        return rates.to_dense()
    rates = as_inexact(rates, "rates")
    check_dense_shape(rates)
    return jnp.where(jnp.eye(rates.shape[0], dtype=bool), jnp.zeros((), rates.dtype), rates)


def generator(rates: Rates) -> Float[Array, "n n"]:
    """Dense generator $Q = \\mathrm{rates} - \\mathrm{diag}(\\mathrm{rates}\\,\\mathbf 1)$.

    Rows sum to zero; `p Q` is the master-equation right-hand side for a row vector `p`.

    **Arguments:**

    - `rates`: a dense `[n, n]` rate matrix (diagonal ignored) or an `EdgeRates`.

    **Returns:** the `[n, n]` generator $Q$.

    **Example:** `jn.markov.generator(jnp.array([[0.0, 2.0], [1.0, 0.0]]))` is
    `[[-2, 2], [1, -1]]`.
    """
    r = to_dense(rates)
    return r - jnp.diag(r.sum(axis=1))
