r"""Structure plans of the Krylov route: which states the multilevel preconditioner lumps
together (units: k_B = 1).

`krylov_plan` (host NumPy, structure only) relabels the states so that blocks of
consecutive labels are compact clusters, by recursive breadth-first bisection of the
graph or, given coordinates (a grid's cell indices), by recursive coordinate bisection;
it also compacts the coarse edge lists of every level. `_krylov.py` holds the solver that
uses the plan; see its docstring for the preconditioner and the iteration counts.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jaxtyping import Array, Int
from scipy.sparse import csgraph

BLOCK_SIZE = 16
"""Default aggregation factor: blocks of 16 consecutive states (or aggregates) per level."""

MAX_COARSE_STATES = 256
"""The coarsest level, at most this many aggregates, is factorised densely."""


class KrylovPlan(NamedTuple):
    """Structure-only set-up of the multilevel preconditioner (from `krylov_plan`).

    `perm[i]` is the solver's label of state i (a locality-preserving order, so that blocks
    of consecutive labels are compact clusters of the graph); `coarse[l]` holds the compacted
    edge list `(src, dst)` of level l + 1 and `slot`, the coarse edge of every fine edge
    (`len(src)` for an edge inside one aggregate).
    """

    perm: Int[Array, " n"]
    coarse: tuple


def _block(block_size: int | None) -> int:
    bs = BLOCK_SIZE if block_size is None else int(block_size)
    if bs < 2:
        raise ValueError(f"`block_size` must be >= 2, got {block_size}")
    return bs


def _n_levels(n: int, bs: int) -> int:
    levels = 0
    while math.ceil(n / bs**levels) > MAX_COARSE_STATES:
        levels += 1
    return levels


def _bfs_distances(adj, seeds):
    """Hop distances from the nearest seed (one multi-source breadth-first search)."""
    n = adj.shape[0]
    hub = sp.csr_matrix((np.ones(len(seeds)), (np.full(len(seeds), n), seeds)), (n + 1, n + 1))
    g = sp.block_diag([adj, sp.csr_matrix((1, 1))], format="csr") + hub
    return csgraph.dijkstra(g, directed=True, indices=n, unweighted=True)[:n]


def _bisect(n: int, bs: int, order_in_parts):
    """Recursive bisection into parts of at most `bs` states; the new label of each state.

    Every round, `order_in_parts(part, n_parts)` orders the states within each part (a
    permutation, grouped by part); each part with more than `bs` states is cut in that order
    into two, the first of a size that is a multiple of the largest power of `bs` below the
    part's size (so that parts stay aligned with the blocks of every level). States are
    then labelled part by part.
    """
    part = np.zeros(n, np.int64)
    ids = np.arange(n)
    while True:
        sizes = np.bincount(part)
        n_parts = sizes.size
        if sizes.max() <= bs:
            break
        order = order_in_parts(part, n_parts)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rank = np.empty(n, np.int64)
        rank[order] = ids - starts[part[order]]
        big = np.ones(n_parts, np.int64)
        while np.any(big * bs < sizes):
            big = np.where(big * bs < sizes, big * bs, big)
        k = np.minimum(np.maximum(big, np.round(sizes / 2 / big).astype(np.int64) * big), sizes)
        part = np.where((sizes > bs)[part], 2 * part + (rank >= k[part]), 2 * part)
        part = np.unique(part, return_inverse=True)[1].reshape(-1)
    new = np.empty(n, np.int64)
    new[np.lexsort((ids, part))] = ids
    return new


def _locality_order(src, dst, n: int, bs: int):
    """Recursive breadth-first bisection of the (undirected) graph; new label of each state.

    Each part is split by hop distance from a far node (a pseudo-peripheral node), until
    parts have at most `bs` states (`_bisect`). On a grid this gives clusters of `bs`,
    `bs**2`, ... consecutive labels without using any geometry, but shaped by the graph
    metric (diamonds and bands on a square grid, some of them split).
    """
    keep = src != dst
    a = sp.coo_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(n, n))
    a = (a + a.T).tocoo()
    ids = np.arange(n)

    def order_in_parts(part, n_parts):
        same = part[a.row] == part[a.col]
        adj = sp.csr_matrix((np.ones(int(same.sum())), (a.row[same], a.col[same])), (n, n))
        order = np.lexsort((ids, part))
        seeds = order[np.searchsorted(part[order], np.arange(n_parts))]
        d = _bfs_distances(adj, seeds)
        far = np.lexsort((-np.where(np.isfinite(d), d, -1), part))
        d = _bfs_distances(adj, far[np.searchsorted(part[far], np.arange(n_parts))])
        return np.lexsort((ids, np.where(np.isfinite(d), d, np.inf), part))

    return _bisect(n, bs, order_in_parts)


def _coordinate_order(coordinates, bs: int):
    """Recursive coordinate bisection; new label of each state.

    Each part is cut across its widest axis (ties broken by the other coordinates), until
    parts have at most `bs` states (`_bisect`). On a regular grid (coordinates = cell
    indices) the blocks are boxes: 4 x 4 cells, then 16 x 16, ... for `bs = 16` in 2D.
    """
    x = np.asarray(coordinates, np.float64)
    n, d = x.shape
    ids = np.arange(n)

    def order_in_parts(part, n_parts):
        lo = np.full((n_parts, d), np.inf)
        hi = np.full((n_parts, d), -np.inf)
        np.minimum.at(lo, part, x)
        np.maximum.at(hi, part, x)
        axis = np.argmax(hi - lo, axis=1)[part]
        others = tuple(x[:, j] for j in reversed(range(d)))
        return np.lexsort((ids, *others, x[ids, axis], part))

    return _bisect(n, bs, order_in_parts)


def krylov_plan(
    src, dst, n_states: int, *, block_size: int | None = None, coordinates=None
) -> KrylovPlan:
    """Structure-only set-up of the Krylov solver's preconditioner (host code, numpy).

    Computes a locality-preserving relabelling of the states (recursive breadth-first
    bisection of the edge graph: no geometry is assumed) and the compacted edge lists of the
    coarse levels, so that a coarse matrix-vector product costs as many operations as the
    coarse level has edges. `krylov_stationary` and `krylov_adjoint` build it themselves
    whenever `src` and `dst` are concrete (not traced); pass it explicitly (as a pytree of
    integer arrays, which may then be traced) when the edge list is a `jit` argument.

    **Arguments:** the edge list `src`, `dst` (concrete integer arrays), `n_states`, the
    aggregation factor `block_size` (default 16), and optionally `coordinates`, `[n_states,
    d]`: positions of the states (e.g. the cell indices of a regular grid). With
    coordinates the relabelling is recursive coordinate bisection, which cuts a grid into
    boxes (4 x 4 cells, then 16 x 16 in 2D): about half the iterations of the graph-only
    order on a 256 x 256 Fokker–Planck grid (`jaxneq.fokker_planck` passes them).

    **Returns:** a `KrylovPlan`.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    n = int(n_states)
    bs = _block(block_size)
    if coordinates is None:
        perm = _locality_order(src, dst, n, bs)
    else:
        coordinates = np.asarray(coordinates)
        if coordinates.ndim == 1:
            coordinates = coordinates[:, None]
        if coordinates.ndim != 2 or coordinates.shape[0] != n:
            raise ValueError(
                f"`coordinates` must have shape [n_states, d] = [{n}, d], got {coordinates.shape}"
            )
        perm = _coordinate_order(coordinates, bs)
    s, d = perm[src], perm[dst]
    coarse = []
    for level in range(1, _n_levels(n, bs) + 1):
        agg = bs**level
        sl, dl = s // agg, d // agg
        n_l = -(-n // agg)
        inner = sl == dl
        key = sl * n_l + dl
        uniq, slot = np.unique(key[~inner], return_inverse=True)
        full = np.full(src.shape, len(uniq), np.int64)
        full[~inner] = slot.reshape(-1)
        coarse.append((jnp.asarray(uniq // n_l), jnp.asarray(uniq % n_l), jnp.asarray(full)))
    return KrylovPlan(jnp.asarray(perm), tuple(coarse))
