"""Fields and snapshots: densities with current arrows, particles of an ensemble (k_B = 1)."""

from __future__ import annotations

import numpy as np

from ._layout import as_float_array, axes_or_new, legend


def _bin_edges(shape, grid, edges) -> list[np.ndarray]:
    """The bin edges along each axis, from a `Grid` or from histogram edges."""
    if (grid is None) == (edges is None):
        raise ValueError(
            "give exactly one of `grid` (a jaxneq.fokker_planck.Grid) or `edges` (the "
            "histogram's bin edges, one array per axis)"
        )
    if grid is not None:
        if not hasattr(grid, "spacing") or not hasattr(grid, "shape"):
            raise TypeError(f"`grid` must be a jaxneq.fokker_planck.Grid, got {grid!r}")
        lower, h = np.asarray(grid.lower, np.float64), np.asarray(grid.spacing, np.float64)
        out = [lower[k] + h[k] * np.arange(n + 1) for k, n in enumerate(grid.shape)]
    else:
        if isinstance(edges, (list, tuple)):
            out = [as_float_array(e, f"edges[{k}]", 1) for k, e in enumerate(edges)]
        else:
            out = [as_float_array(edges, "edges", 1)]
        for k, e in enumerate(out):
            if e.size < 2 or not np.all(np.diff(e) > 0):
                raise ValueError(f"`edges[{k}]` must be increasing bin edges (at least 2)")
    expected = tuple(len(e) - 1 for e in out)
    if tuple(shape) != expected:
        raise ValueError(
            f"`density` has shape {tuple(shape)} but the grid/edges have {expected} cells: "
            "axis k of the density must be coordinate k"
        )
    return out


def _arrows(ax, edges, current, arrow_scale, max_arrows):
    centres = [0.5 * (e[1:] + e[:-1]) for e in edges]
    stride = [max(1, -(-len(c) // max_arrows)) for c in centres]
    sub = (slice(None, None, stride[0]), slice(None, None, stride[1]))
    X, Y = np.meshgrid(centres[0][sub[0]], centres[1][sub[1]], indexing="ij")
    U, V = current[sub + (0,)], current[sub + (1,)]
    if arrow_scale is None:  # the longest arrow spans 90 % of the spacing between arrows
        spacing = min(stride[k] * np.diff(edges[k]).min() for k in range(2))
        largest = float(np.hypot(U, V).max())
        arrow_scale = largest / (0.9 * spacing) if largest > 0 else 1.0
    return ax.quiver(
        X, Y, U, V, color="white", angles="xy", scale_units="xy", scale=arrow_scale, width=0.004
    )


def density_map(
    density,
    *,
    grid=None,
    edges=None,
    current=None,
    ax=None,
    xlabel: str = "x",
    ylabel: str | None = None,
    colorbar_label: str = "probability density",
    label: str | None = None,
    title: str | None = None,
    vmax: float | None = None,
    arrow_scale: float | None = None,
    max_arrows: int = 20,
    cmap: str = "magma",
):
    r"""A density on a grid or on histogram bins, with its current field.

    A heat map with current arrows (2D) or a profile (1D).

    **Arguments:**

    - `density`: `[n]` or `[n0, n1]`, axis k = coordinate k (as `jaxneq.fokker_planck`
      and the `Histogram` observable return it).
    - `grid`: a `jaxneq.fokker_planck.Grid`, or `edges`: the bin edges (one array per
      axis) of a `Histogram`/`CurrentField`; exactly one of the two.
    - `current`: optional probability current `[n0, n1, 2]` at the cell centres (from
      `jaxneq.fokker_planck.current_field` or the `CurrentField` observable), drawn as
      arrows (2D only), at most `max_arrows` per axis.
    - `ax`: axes to draw into (default: a new figure).
    - `xlabel`, `ylabel`, `colorbar_label`, `title`: text; say the units.
    - `label`: legend label of a 1D profile.
    - `vmax`: top of the colour scale (default: the largest density); share it, and
      `arrow_scale` (current per unit of arrow length), between panels that are compared.

    **Returns:** the axes.

    **Example:**

    ```python
    grid = jn.fokker_planck.Grid((-2.0, -2.0), (2.0, 2.0), (40, 40))
    p = jn.fokker_planck.stationary_density(system, grid)
    jn.plot.density_map(p, grid=grid, current=jn.fokker_planck.current_field(system, grid, p))
    ```
    """
    p = as_float_array(density, "density", (1, 2))
    if not np.all(np.isfinite(p)):
        raise ValueError("`density` has NaN or infinite entries")
    edges_ = _bin_edges(p.shape, grid, edges)
    ax = axes_or_new(ax)
    if p.ndim == 1:
        if current is not None:
            raise ValueError("`current` is drawn for 2D densities only (in 1D it is one number)")
        ax.plot(0.5 * (edges_[0][1:] + edges_[0][:-1]), p, label=label)
        ax.set(xlabel=xlabel, ylabel=ylabel or colorbar_label)
        legend(ax)
    else:
        mesh = ax.pcolormesh(*edges_, p.T, cmap=cmap, vmin=0.0, vmax=vmax, shading="flat")
        ax.figure.colorbar(mesh, ax=ax, label=colorbar_label)
        if current is not None:
            J = as_float_array(current, "current", 3)
            if J.shape != p.shape + (2,):
                raise ValueError(
                    f"`current` must have shape {p.shape + (2,)} (the density's shape + (2,)), "
                    f"got {J.shape}"
                )
            if not np.all(np.isfinite(J)):
                raise ValueError("`current` has NaN or infinite entries")
            _arrows(ax, edges_, J, arrow_scale, max_arrows)
        ax.set(xlabel=xlabel, ylabel=ylabel or "y")
        ax.set_aspect("auto")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def _discs(ax, x, diameter, c, cmap, label):
    """Discs of `diameter` (data units) at the points `x`, coloured by `c` (or one colour)."""
    from matplotlib.collections import EllipseCollection

    if not (np.isfinite(diameter) and diameter > 0):
        raise ValueError(f"`diameter` must be finite and > 0 (data units), got {diameter}")
    d = np.full(x.shape[0], diameter)
    discs = EllipseCollection(
        d,
        d,
        np.zeros_like(d),
        units="xy",
        offsets=x,
        offset_transform=ax.transData,
        cmap=cmap,
        label=label,
        edgecolors="none",
    )
    if c is None:
        discs.set_facecolor("C0")
    else:
        discs.set_array(c)
    ax.add_collection(discs)
    if ax.get_autoscale_on():
        ax.update_datalim(x)
        ax.autoscale_view()
    return discs


def ensemble_snapshot(
    positions,
    *,
    color_by=None,
    box=None,
    ax=None,
    xlabel: str = "x",
    ylabel: str = "y",
    colorbar_label: str = "value",
    label: str | None = None,
    title: str | None = None,
    marker: str = "o",
    size: float = 12.0,
    cmap: str = "coolwarm",
    diameter: float | None = None,
):
    r"""Particles of one ensemble member (or points of a set) in the plane.

    **Arguments:**

    - `positions`: `[n, 2]`, e.g. `result.x[0]` of a 2D many-body simulation.
    - `color_by`: optional value per particle `[n]` (e.g. its temperature), shown with a
      colour bar labelled `colorbar_label`.
    - `box`: optional periodic box side (a number or `(Lx, Ly)`): positions are wrapped into
      it and the axes span it, with equal aspect.
    - `diameter`: optional particle diameter in data units: each particle is drawn as a disc
      of that size (so a dense cluster looks dense at any zoom), instead of a marker of
      `size` points^2.
    - `ax`, `xlabel`, `ylabel`, `label` (legend), `title`, `marker`, `size`, `cmap`.

    **Returns:** the axes.

    **Example:**

    ```python
    jn.plot.ensemble_snapshot(result.x[0], color_by=temperatures, box=10.0,
                              colorbar_label="temperature T")
    ```
    """
    x = as_float_array(positions, "positions", 2)
    if x.shape[1] != 2:
        raise ValueError(f"`positions` must have shape [n, 2] (points in the plane), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("`positions` has NaN or infinite entries")
    ax = axes_or_new(ax)
    if box is not None:
        side = np.broadcast_to(as_float_array(box, "box", (0, 1)), (2,))
        if not np.all(side > 0):
            raise ValueError(f"`box` must be positive (the periodic box side), got {box!r}")
        x = np.mod(x, side)
        ax.set(xlim=(0, side[0]), ylim=(0, side[1]))
        ax.set_aspect("equal")
    c = None
    if color_by is not None:
        c = as_float_array(color_by, "color_by", 1)
        if c.shape != (x.shape[0],):
            raise ValueError(
                f"`color_by` must have one value per particle ({x.shape[0]}), got {c.shape}"
            )
    if diameter is None and c is None:
        points = ax.scatter(x[:, 0], x[:, 1], s=size, marker=marker, label=label)
    elif diameter is None:
        points = ax.scatter(x[:, 0], x[:, 1], s=size, marker=marker, c=c, cmap=cmap, label=label)
    else:
        points = _discs(ax, x, float(diameter), c, cmap, label)
    if c is not None:
        ax.figure.colorbar(points, ax=ax, label=colorbar_label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    legend(ax)
    return ax
