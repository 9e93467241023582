"""The tour's figures are written in the background while the next stage runs.

Rendering a PNG (matplotlib's Agg) takes 0.2-1 s per demo, about 7 s of a quick tour;
compiling the next demo (most of its time) releases the GIL. So `save` hands the figure to
ONE writer thread (figures are rendered one at a time, each its own `Figure` object) and
returns; `wait` blocks until every figure handed over is written and closes them on the
calling thread (pyplot's registry is only touched there).
"""

from __future__ import annotations

import pathlib
from concurrent.futures import Future, ThreadPoolExecutor

_WRITER: ThreadPoolExecutor | None = None
_PENDING: list[tuple[object, Future]] = []
_SAVED: list[pathlib.Path] = []


def save(fig, path, dpi: int = 120) -> pathlib.Path:
    """Write `fig` to `path` (PNG) in the background; `wait()` makes sure it is written."""
    global _WRITER
    if _WRITER is None:
        _WRITER = ThreadPoolExecutor(1, thread_name_prefix="jaxneq-tour-figures")
    path = pathlib.Path(path)
    _SAVED.append(path)
    _PENDING.append((fig, _WRITER.submit(fig.savefig, path, dpi=dpi)))
    return path


def saved() -> list[pathlib.Path]:
    """Every path handed to `save` so far, in order (written or still being written)."""
    return list(_SAVED)


def wait() -> None:
    """Block until every figure handed to `save` is written (re-raising a failed write)."""
    import matplotlib.pyplot as plt

    while _PENDING:
        fig, future = _PENDING.pop(0)
        try:
            future.result()
        finally:
            plt.close(fig)
