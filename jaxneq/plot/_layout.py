"""Figures and axes: the lazy matplotlib import, panels of axes, saving (units: k_B = 1)."""

from __future__ import annotations

import pathlib
import textwrap

import numpy as np

_INSTALL = 'jaxneq.plot needs matplotlib: pip install "jaxneq[plot]"'


def pyplot():
    """`matplotlib.pyplot`, imported on first use (an `ImportError` naming the extra if
    matplotlib is missing)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - exercised without matplotlib only
        raise ImportError(_INSTALL) from error
    return plt


def axes_or_new(ax, figsize=(5.0, 4.0)):
    """The given axes, or the axes of a new figure."""
    if ax is not None:
        if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
            raise TypeError(f"`ax` must be matplotlib axes (or None for a new figure), got {ax!r}")
        return ax
    _, new = pyplot().subplots(figsize=figsize, layout="constrained")
    return new


def legend(ax):
    """A legend where it covers the least data, when anything is labelled: below the axes
    when a heat map fills them, else at matplotlib's "best" place."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    filled = any(type(c).__name__ == "QuadMesh" for c in ax.collections)
    if filled:
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncols=min(len(labels), 3),
            fontsize=8,
            frameon=False,
        )
    else:
        ax.legend(loc="best", fontsize=8, framealpha=0.8)


def as_float_array(value, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """`value` as a float64 NumPy array, with a clear error if it is not numeric or has the
    wrong number of dimensions."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be an array of numbers, got {type(value).__name__}") from (
            error
        )
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and out.ndim not in allowed:
        raise ValueError(
            f"`{name}` must have {' or '.join(map(str, allowed))} dimension(s), got shape "
            f"{out.shape}"
        )
    return out


def panels(
    n: int = 1,
    *,
    title: str | None = None,
    ncols: int | None = None,
    panel_size: tuple[float, float] = (4.6, 3.8),
):
    r"""A figure with `n` axes in a row (or `ncols` columns) and an overall title.

    **Arguments:**

    - `n`: the number of panels (>= 1).
    - `title`: the figure's title: say what agrees with what.
    - `ncols`: panels per row (default: all in one row).
    - `panel_size`: (width, height) of one panel in inches.

    **Returns:** `(figure, axes)`, `axes` a list of `n` matplotlib axes.

    **Example:**

    ```python
    fig, (left, right) = jn.plot.panels(2, title="simulation vs exact")
    ```
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`n` must be a positive int (the number of panels), got {n!r}")
    ncols = int(n) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"`ncols` must be >= 1, got {ncols}")
    nrows = -(-int(n) // ncols)
    width, height = panel_size
    fig, grid = pyplot().subplots(
        nrows,
        ncols,
        figsize=(width * ncols, height * nrows + (0.4 if title else 0.0)),
        layout="constrained",
        squeeze=False,
    )
    axes = list(grid.ravel())
    for extra in axes[n:]:
        extra.remove()
    if title:  # wrapped to the figure's width (about 11 characters per inch at 10 pt)
        fig.suptitle(textwrap.fill(title, width=int(11 * width * ncols)), fontsize=10)
    return fig, axes[:n]


def save(fig, path: str | pathlib.Path, dpi: int = 120) -> pathlib.Path:
    """Write `fig` as a PNG to `path` and close it (no window is ever opened).

    **Arguments:**

    - `fig`: a matplotlib figure (e.g. from `panels`).
    - `path`: the file to write (str or `pathlib.Path`).
    - `dpi`: resolution (default 120).

    **Returns:** the path written.
    """
    if not hasattr(fig, "savefig"):
        raise TypeError(f"`fig` must be a matplotlib figure, got {type(fig).__name__}")
    path = pathlib.Path(path)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
