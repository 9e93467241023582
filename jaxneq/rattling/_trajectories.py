r"""Rattling estimated from sampled trajectories, binned in state space next to the density
(units: k_B = 1)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, is_concrete
from ._checks import check_where

_ANCHORS = ("mean", "start")
_CHUNK_ELEMENTS = 1 << 22  # floats of one chunk of windows / frames (32 MiB in float64)


class RattlingField(eqx.Module):
    r"""Rattling and density of sampled trajectories on the bins of a state-space grid.

    Returned by `from_trajectories`. Arrays have the bin shape `[n_1, ..., n_d]` (axis k:
    coordinate k).

    **Fields:**

    - `edges`: tuple of the `d` 1D arrays of bin edges.
    - `rattling`: mean window rattling $\mathcal R$ of the windows anchored in each bin
      (NaN where none is).
    - `rattling_std`: the spread (standard deviation) of the window values in each bin.
    - `window_counts`: number of windows anchored in each bin.
    - `density`: the sampled density, counts / (all samples x bin volume): it integrates to
      the fraction of samples inside the edges.
    - `sample_counts`: number of samples (frames x members) in each bin.
    """

    edges: tuple[Float[Array, " e"], ...]
    rattling: Float[Array, "*bins"]
    rattling_std: Float[Array, "*bins"]
    window_counts: Float[Array, "*bins"]
    density: Float[Array, "*bins"]
    sample_counts: Float[Array, "*bins"]

    @property
    def centres(self) -> tuple[Float[Array, " n"], ...]:
        """The bin centres along each axis (a batched field keeps its batch axes first)."""
        return tuple(0.5 * (e[..., 1:] + e[..., :-1]) for e in self.edges)

    @property
    def observed(self) -> Float[Array, "*bins"]:
        """1.0 where the bin has both windows and samples, else 0.0: the natural `weights` of
        `fit_gamma(field.density, field.rattling, weights=field.observed)`."""
        mask = (self.window_counts > 0) & (self.sample_counts > 0)
        return mask.astype(self.density.dtype)


class RattlingNeighbours(eqx.Module):
    r"""Rattling and density of sampled trajectories over the k nearest windows of points.

    Each query point gets the mean and spread of the rattling over its k nearest windows.

    Returned by `from_trajectories(..., points=q, neighbours=k)`. Arrays have the leading
    shape `[m]` of the `m` query points.

    **Fields:**

    - `points`: the query points `[m, d]`.
    - `rattling`: mean window rattling $\mathcal R$ of the `k` windows whose anchors are
      nearest to each point (Euclidean distance).
    - `rattling_std`: the spread (standard deviation) of those `k` values.
    - `radius`: the distance $r_k$ to the k-th nearest anchor.
    - `density`: the k-nearest-neighbour density of the window anchors,
      $\hat p = (k - 1) / (N V_d r_k^d)$ ($N$ windows, $V_d$ the volume of the unit ball),
      an estimate of the density of states, asymptotically unbiased as $k \to \infty$,
      $k/N \to 0$.
    - `n_windows`: $N$, the number of windows.
    """

    points: Float[Array, "m d"]
    rattling: Float[Array, " m"]
    rattling_std: Float[Array, " m"]
    radius: Float[Array, " m"]
    density: Float[Array, " m"]
    n_windows: int = eqx.field(static=True)


def _check_edges(edges, d: int, dtype) -> tuple[Array, ...]:
    if isinstance(edges, (Sequence, tuple)) and not isinstance(edges, (str, bytes)):
        edges = tuple(edges)
        if len(edges) != d or any(jnp.ndim(e) != 1 for e in edges):
            raise ValueError(
                f"`edges` must be a sequence of {d} 1D arrays of bin edges (one per coordinate), "
                f"got {len(edges)} entries"
            )
    else:
        e = jnp.asarray(edges)
        if e.ndim == 1 and d == 1:
            edges = (e,)
        else:
            raise ValueError(
                f"`edges` must be a sequence of {d} 1D arrays of bin edges (one per coordinate; "
                f"a single 1D array only when d = 1), got an array of shape {e.shape}"
            )
    out = []
    for k, e in enumerate(edges):
        e = as_inexact(e, f"edges[{k}]").astype(dtype)
        if e.shape[0] < 2:
            raise ValueError(f"`edges[{k}]` needs at least 2 edges (one bin), got {e.shape[0]}")
        if is_concrete(e) and not np.all(np.diff(np.asarray(e)) > 0):
            raise ValueError(f"`edges[{k}]` must be strictly increasing")
        out.append(e)
    return tuple(out)


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{name}` must be a Python int >= {low}, got {value!r}")
    return int(value)


def _bin_index(points: Array, edges: tuple[Array, ...], shape: tuple[int, ...]) -> Array:
    """Flat bin index of each point `[..., d]`; `prod(shape)` for points outside the edges."""
    n_bins = math.prod(shape)
    flat = jnp.zeros(points.shape[:-1], jnp.int32)
    inside = jnp.ones(points.shape[:-1], bool)
    for k, e in enumerate(edges):
        coord = points[..., k]
        # a few hundred edges: comparing against all is ~25x faster than a binary search on CPU
        method = "compare_all" if e.shape[0] <= 256 else "scan_unrolled"
        i = jnp.searchsorted(e, coord, side="right", method=method) - 1
        # the upper edge belongs to the last bin, as in numpy.histogram
        i = jnp.where(coord == e[-1], shape[k] - 1, i)
        inside = inside & (i >= 0) & (i < shape[k])
        flat = flat * shape[k] + jnp.clip(i, 0, shape[k] - 1)
    return jnp.where(inside, flat, n_bins)


def _half_log_det(cov: Array) -> Array:
    d = cov.shape[-1]
    if d == 1:
        return 0.5 * jnp.log(cov[..., 0, 0])
    if d == 2:
        det = cov[..., 0, 0] * cov[..., 1, 1] - cov[..., 0, 1] * cov[..., 1, 0]
        return 0.5 * jnp.log(det)
    sign, logdet = jnp.linalg.slogdet(cov)
    return jnp.where(sign > 0, 0.5 * logdet, -jnp.inf)


def from_trajectories(
    x: Float[ArrayLike, "n_saved b d"],
    dt: float | Float[ArrayLike, ""],
    window: int,
    *,
    edges: Sequence[Float[ArrayLike, " e"]] | Float[ArrayLike, " e"] | None = None,
    points: Float[ArrayLike, "m d"] | None = None,
    neighbours: int | None = None,
    stride: int = 1,
    anchor: str = "mean",
    centre: bool = True,
    chunk_size: int | None = None,
) -> RattlingField | RattlingNeighbours:
    r"""Rattling estimated from trajectories, next to the density, on bins or k-NN points.

    On the bins of a grid (`edges`), or around query points over their k nearest windows
    (`points`, `neighbours`).

    The estimator of the rattling experiments (Chvykov et al. 2021). Within each window of
    `window` consecutive frames $x_0, \dots, x_{w-1}$ of one trajectory (windows start every
    `stride` frames), the diffusive displacements

    $$y_k = \frac{x_k - x_0}{\sqrt{k\,\Delta t}}, \qquad k = 1, \dots, w - 1,$$

    have a covariance $C$ (about their mean over the window when `centre`, else about 0),
    and the window's rattling is $\mathcal R = \tfrac12 \log\det C$. For a diffusion
    $\sqrt{2D}\,\mathrm dW$ that is locally constant over the window, $C = D^{1/2} W D^{1/2}$
    with $W$ a random matrix whose law does not depend on $D$, so
    $\mathcal R = \tfrac12\log\det D + \text{const}$: the estimate is $\tfrac12\log\det D(x)$
    up to an additive constant (which $Z$ absorbs), with a drift contributing only at order
    $|{\rm drift}|^2 \Delta t / D$. Each window is placed at its anchor (the mean position
    over the window, or its first frame) and the window values are averaged over the bins;
    every sample (frame x member) also counts in the density. So $\mathcal R$ and $p$ can be
    compared bin by bin (`fit_gamma(field.density, field.rattling, weights=field.observed)`).

    Memory: the windows and frames are processed in chunks (one compiled `lax.scan`), so
    the work space is O(`chunk_size` x (window + d^2) x b x d + bins) whatever the length of
    the trajectory (plus one padded copy of `x` when the last chunk runs past its end); 1e6+
    samples fit easily.

    **Arguments:**

    - `x`: trajectories `[n_saved, b, d]`: what `jaxneq.langevin.simulate(...,
      save_every=k).trajectory` returns (for one trajectory `[n, d]` pass `x[:, None, :]`).
    - `dt`: the time between saved frames (`dt * save_every` of `simulate`), > 0.
    - `window`: frames per window, a Python int; at least d + 2 when `centre` (d + 1
      otherwise), so that $C$ can be non-singular; at most `n_saved`.
    - `edges`: the bin edges, a sequence of d increasing 1D arrays (a single 1D array when
      d = 1). Points outside are left out. Give either `edges` (bins) or `points` and
      `neighbours` (k nearest neighbours).
    - `points`, `neighbours`: instead of bins, query points `[m, d]` and a Python int k
      >= 2: each point gets the mean rattling of the k windows whose anchors are nearest
      and the k-nearest-neighbour density of the anchors (a `RattlingNeighbours`). Exact
      search, streamed over chunks of windows: O(m x windows x b) work, memory
      O(m x (k + chunk x b)). Neighbourhoods adapt to the sampling (small where data are
      dense), where bins have a fixed size.
    - `stride`: frames between the starts of consecutive windows (default 1: all windows).
    - `anchor`: `"mean"` (default: the window's mean position) or `"start"` (its first
      frame), where a window's rattling is placed.
    - `centre`: subtract the window mean of the $y_k$ before forming $C$ (default True;
      removes most of the drift).
    - `chunk_size`: window starts per chunk (default: about 4M floats of work space).

    **Returns:** a `RattlingField` (`edges`, `rattling`, `rattling_std`, `window_counts`,
    `density`, `sample_counts`, and `.centres`, `.observed`), or with `points` and
    `neighbours` a `RattlingNeighbours` (`points`, `rattling`, `rattling_std`, `radius`,
    `density`, `n_windows`). Works under `jit` and `vmap`;
    float32 and float64.

    **Example:**

    ```python
    system = jn.langevin.Overdamped(lambda x: 0.5 * jnp.sum(x**2),
                                    temperature=lambda x: 1 + 0.5 * jnp.tanh(x[0]))
    run = jn.langevin.simulate(system, jnp.zeros((256, 1)), key=jax.random.key(0),
                               dt=1e-3, n_steps=20_000, save_every=1)
    field = jn.rattling.from_trajectories(run.trajectory, 1e-3, 10,
                                          edges=jnp.linspace(-2, 2, 21))
    fit = jn.rattling.fit_gamma(field.density, field.rattling, weights=field.observed)
    ```

    Reference: P. Chvykov et al., Science 371, 90 (2021) (the windowed covariance estimator
    of rattling in the supplementary materials).
    """
    x = as_inexact(x, "x")
    if x.ndim != 3:
        raise ValueError(
            f"`x` must be trajectories [n_saved, b, d] (simulate(..., save_every=k).trajectory), "
            f"got shape {x.shape}; for one trajectory [n, d] pass x[:, None, :]"
        )
    n_saved, b, d = x.shape
    dtype = x.dtype
    window = _check_int(window, "window", 2)
    stride = _check_int(stride, "stride", 1)
    need = d + 2 if centre else d + 1
    if window < need:
        raise ValueError(
            f"`window` = {window} is too short for d = {d}: the covariance of {window - 1} "
            f"displacements{' about their mean' if centre else ''} is singular; use "
            f"window >= {need}"
        )
    if window > n_saved:
        raise ValueError(f"`window` = {window} exceeds the number of frames n_saved = {n_saved}")
    if anchor not in _ANCHORS:
        raise ValueError(f"`anchor` must be one of {_ANCHORS}, got {anchor!r}")
    dt = as_inexact(dt, "dt").astype(dtype)
    if dt.ndim != 0:
        raise ValueError(f"`dt` must be a scalar, got shape {dt.shape}")
    dt = check_where(dt, ~(dt > 0) | ~jnp.isfinite(dt), "`dt` must be finite and > 0")
    knn = points is not None or neighbours is not None
    if knn == (edges is not None):
        raise ValueError(
            "give either `edges` (bins of a grid) or `points` and `neighbours` (the k "
            "nearest windows of each query point), not both and not neither"
        )
    n_windows = (n_saved - window) // stride + 1
    if knn:
        if points is None or neighbours is None:
            raise ValueError("`points` and `neighbours` go together: pass both")
        k = _check_int(neighbours, "neighbours", 2)
        points = as_inexact(points, "points").astype(dtype)
        if points.ndim != 2 or points.shape[1] != d:
            raise ValueError(
                f"`points` must have shape [m, {d}] (m query points), got {points.shape}"
            )
        if k > n_windows * b:
            raise ValueError(f"`neighbours` = {k} exceeds the number of windows ({n_windows * b})")
        m = points.shape[0]
        if chunk_size is None:
            chunk_size = max(1, _CHUNK_ELEMENTS // (4 * b * max(m, d * d)))
        chunk = min(_check_int(chunk_size, "chunk_size", 1), n_windows)
        r_mean, r_std, radius = _neighbours(
            x,
            dt,
            points,
            k=k,
            window=window,
            stride=stride,
            anchor=anchor,
            centre=centre,
            chunk=chunk,
        )
        n_total = n_windows * b
        unit_ball = math.pi ** (d / 2) / math.gamma(d / 2 + 1)
        density = (k - 1) / (n_total * unit_ball * radius**d)
        return RattlingNeighbours(points, r_mean, r_std, radius, density, n_total)
    edges = _check_edges(edges, d, dtype)
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_ELEMENTS // (4 * b * d * d))
    chunk = min(_check_int(chunk_size, "chunk_size", 1), n_windows)
    rattling, rattling_std, n_win, density, n_samples = _field(
        x, dt, edges, window=window, stride=stride, anchor=anchor, centre=centre, chunk=chunk
    )
    return RattlingField(edges, rattling, rattling_std, n_win, density, n_samples)


def _window_values(xt, c, scale, *, window, stride, anchor, centre, chunk, span):
    """Rattling `[chunk, b]` and anchor `[chunk, b, d]` of the windows of chunk `c` of the
    coordinate-major trajectories `xt` `[d, n, b]`."""
    d = xt.shape[0]
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    denominator = window - 2 if centre else window - 1
    block = jax.lax.dynamic_slice_in_dim(xt, c * chunk * stride, span, axis=1)
    # frame k of each window of the chunk, [d, chunk, b]; static strided slices, no gather
    frame = [block[:, k : k + (chunk - 1) * stride + 1 : stride] for k in range(window)]
    s_y = [jnp.zeros_like(frame[0][0]) for _ in range(d)]
    s_yy = {ij: jnp.zeros_like(frame[0][0]) for ij in pairs}
    for k in range(1, window):
        y = [(frame[k][i] - frame[0][i]) * scale[k - 1] for i in range(d)]
        s_y = [s + yi for s, yi in zip(s_y, y, strict=True)]
        s_yy = {(i, j): s_yy[i, j] + y[i] * y[j] for (i, j) in pairs}
    if centre:
        s_yy = {(i, j): s_yy[i, j] - s_y[i] * s_y[j] / (window - 1) for (i, j) in pairs}
    cov = jnp.stack(
        [jnp.stack([s_yy[min(i, j), max(i, j)] for j in range(d)], -1) for i in range(d)],
        -2,
    )
    r = _half_log_det(cov / denominator)  # [chunk, b]
    if anchor == "mean":
        where = jnp.moveaxis(sum(frame[1:], frame[0]) / window, 0, -1)
    else:
        where = jnp.moveaxis(frame[0], 0, -1)
    return r, where


@functools.partial(jax.jit, static_argnames=("window", "stride", "anchor", "centre", "chunk"))
def _field(x, dt, edges, *, window, stride, anchor, centre, chunk):
    """The chunked accumulation of `from_trajectories` (checked arguments), compiled once
    per shape and static choice."""
    n_saved, b, d = x.shape
    dtype = x.dtype
    shape = tuple(int(e.shape[0]) - 1 for e in edges)
    n_bins = math.prod(shape)
    n_windows = (n_saved - window) // stride + 1
    n_chunks = -(-n_windows // chunk)
    span = (chunk - 1) * stride + window  # frames one chunk of windows reads
    padded = (n_chunks - 1) * chunk * stride + span
    xp = x if padded <= n_saved else jnp.pad(x, ((0, padded - n_saved), (0, 0), (0, 0)))
    scale = 1.0 / jnp.sqrt(jnp.arange(1, window, dtype=dtype) * dt)

    # coordinates first, [d, n, b]: each coordinate of a frame is a contiguous [chunk, b]
    xt = jnp.moveaxis(xp, -1, 0)

    def window_chunk(acc, c):
        r, where = _window_values(
            xt,
            c,
            scale,
            window=window,
            stride=stride,
            anchor=anchor,
            centre=centre,
            chunk=chunk,
            span=span,
        )
        valid = c * chunk + jnp.arange(chunk) < n_windows
        bins = jnp.where(valid[:, None], _bin_index(where, edges, shape), n_bins).ravel()
        r = jnp.where(valid[:, None], r, 0).ravel()
        stats = jnp.stack([r, r * r, jnp.ones_like(r)], axis=-1)
        return acc + jax.ops.segment_sum(stats, bins, n_bins + 1), None

    zeros = jnp.zeros((n_bins + 1,), dtype)
    sums, _ = jax.lax.scan(window_chunk, jnp.zeros((n_bins + 1, 3), dtype), jnp.arange(n_chunks))
    s1, s2, n_win = sums[:, 0], sums[:, 1], sums[:, 2]

    frame_chunk = min(n_saved, max(1, _CHUNK_ELEMENTS // (b * d)))
    n_frame_chunks = -(-n_saved // frame_chunk)

    def frame_chunk_counts(acc, c):
        index = c * frame_chunk + jnp.arange(frame_chunk)
        valid = index < n_saved
        bins = _bin_index(x[jnp.clip(index, 0, n_saved - 1)], edges, shape)
        bins = jnp.where(valid[:, None], bins, n_bins).ravel()
        return acc + jax.ops.segment_sum(jnp.ones(bins.shape, dtype), bins, n_bins + 1), None

    n_samples, _ = jax.lax.scan(frame_chunk_counts, zeros, jnp.arange(n_frame_chunks))

    s1, s2, n_win, n_samples = (a[:n_bins].reshape(shape) for a in (s1, s2, n_win, n_samples))
    seen = n_win > 0
    safe_n = jnp.where(seen, n_win, 1)
    mean = s1 / safe_n
    var = jnp.maximum(s2 / safe_n - mean**2, 0)
    nan = jnp.asarray(jnp.nan, dtype)
    rattling = jnp.where(seen, mean, nan)
    rattling_std = jnp.where(seen, jnp.sqrt(jnp.where(seen, var, 1)), nan)
    volume = jnp.ones(shape, dtype)
    for k, e in enumerate(edges):
        width = jnp.diff(e).reshape([-1 if i == k else 1 for i in range(d)])
        volume = volume * width
    density = n_samples / (n_saved * b * volume)
    return rattling, rattling_std, n_win, density, n_samples


@functools.partial(jax.jit, static_argnames=("k", "window", "stride", "anchor", "centre", "chunk"))
def _neighbours(x, dt, points, *, k, window, stride, anchor, centre, chunk):
    """Streamed exact k-nearest-window search of `from_trajectories(..., neighbours=k)`:
    mean and spread of the k window values and the k-th distance, per query point."""
    n_saved, b, d = x.shape
    dtype = x.dtype
    m = points.shape[0]
    n_windows = (n_saved - window) // stride + 1
    n_chunks = -(-n_windows // chunk)
    span = (chunk - 1) * stride + window
    padded = (n_chunks - 1) * chunk * stride + span
    xp = x if padded <= n_saved else jnp.pad(x, ((0, padded - n_saved), (0, 0), (0, 0)))
    scale = 1.0 / jnp.sqrt(jnp.arange(1, window, dtype=dtype) * dt)
    xt = jnp.moveaxis(xp, -1, 0)
    inf = jnp.asarray(jnp.inf, dtype)

    def chunk_step(carry, c):
        best_d2, best_r = carry
        r, where = _window_values(
            xt,
            c,
            scale,
            window=window,
            stride=stride,
            anchor=anchor,
            centre=centre,
            chunk=chunk,
            span=span,
        )
        valid = jnp.broadcast_to((c * chunk + jnp.arange(chunk) < n_windows)[:, None], r.shape)
        where, r, valid = where.reshape(-1, d), r.ravel(), valid.ravel()
        d2 = jnp.sum((points[:, None, :] - where[None, :, :]) ** 2, axis=-1)  # [m, chunk b]
        d2 = jnp.where(valid[None, :], d2, inf)
        all_d2 = jnp.concatenate([best_d2, d2], axis=1)
        all_r = jnp.concatenate([best_r, jnp.broadcast_to(r, (m, r.shape[0]))], axis=1)
        neg, index = jax.lax.top_k(-all_d2, k)
        return (-neg, jnp.take_along_axis(all_r, index, axis=1)), None

    init = (jnp.full((m, k), inf), jnp.zeros((m, k), dtype))
    (best_d2, best_r), _ = jax.lax.scan(chunk_step, init, jnp.arange(n_chunks))
    mean = best_r.mean(axis=1)
    std = jnp.sqrt(jnp.maximum(jnp.mean(best_r**2, axis=1) - mean**2, 0))
    return mean, std, jnp.sqrt(best_d2[:, -1])
