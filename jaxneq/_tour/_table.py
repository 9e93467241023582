"""Rows of a demo's table and their aligned text, numbers rounded to their standard error.

A row is a dict {quantity, measured, stderr, reference, reference_label, unit} (the protocol
in `jaxneq._tour`); `row` builds one from JAX or NumPy scalars, `format_table` prints rows
as a physicist reads them: measured ± SE, the reference, the agreement in standard errors
(|measured - reference| / SE), or the relative error for a deterministic number.
"""

from __future__ import annotations

import math

COLUMNS = ("quantity", "measured", "reference", "agreement", "unit", "reference is")


def _number(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "item"):  # JAX / NumPy scalars
        value = value.item()
    return int(value) if isinstance(value, int) else float(value)


def row(quantity, measured, stderr=None, reference=None, reference_label="", unit=""):
    """One row of a demo's table, with plain Python numbers (JSON-serialisable)."""
    return {
        "quantity": str(quantity),
        "measured": _number(measured),
        "stderr": _number(stderr),
        "reference": _number(reference),
        "reference_label": str(reference_label),
        "unit": str(unit),
    }


def _decimals(stderr: float) -> int:
    """Decimal places that keep two significant digits of the standard error."""
    return max(0, 1 - math.floor(math.log10(stderr)))


def _scaled(values, stderr):
    """A common power of ten for numbers outside [1e-3, 1e5) (or None)."""
    big = max(abs(v) for v in values if v is not None)
    big = max(big, stderr or 0.0)
    if big == 0 or 1e-3 <= big < 1e5:
        return 0
    return math.floor(math.log10(big))


def format_measured(value, stderr=None) -> str:
    """`value ± stderr` with the standard error to two significant digits and the value to
    the same decimal place; a deterministic value to six significant digits."""
    if value is None:
        return "—"
    if isinstance(value, int) and stderr is None:
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if stderr is None or not math.isfinite(stderr) or stderr <= 0:
        return f"{value:.6g}"
    power = _scaled([value], stderr)
    v, s = value / 10**power, stderr / 10**power
    d = _decimals(s)
    text = f"{v:.{d}f} ± {s:.{d}f}"
    return f"({text})e{power}" if power else text


def format_reference(reference, stderr=None) -> str:
    """The reference with one digit more than the measured value shows (six significant
    digits next to a deterministic value)."""
    if reference is None:
        return "—"
    if isinstance(reference, int):
        return str(reference)
    if stderr is None or not math.isfinite(stderr) or stderr <= 0:
        return f"{reference:.6g}"
    power = _scaled([reference], stderr)
    d = _decimals(stderr / 10**power) + 1
    text = f"{reference / 10**power:.{d}f}"
    return f"{text}e{power}" if power else text


def agreement(r: dict) -> str:
    """|measured - reference| / SE for a statistical number, the relative error for a
    deterministic one, "equal"/"differs" for integers, "—" without a reference."""
    m, ref, se = r.get("measured"), r.get("reference"), r.get("stderr")
    if m is None or ref is None:
        return "—"
    if isinstance(m, int) and isinstance(ref, int) and se is None:
        return "equal" if m == ref else "differs"
    diff = abs(m - ref)
    if se is not None and se > 0:
        return f"{diff / se:.1f} SE"
    if ref != 0:
        return f"rel. err {diff / abs(ref):.1e}"
    return f"abs. err {diff:.1e}"


def format_table(rows: list[dict], indent: str = "  ") -> str:
    """The rows as an aligned text table (one header line, one line per row)."""
    cells = [list(COLUMNS)]
    for r in rows:
        se = r.get("stderr")
        cells.append(
            [
                str(r.get("quantity", "?")),
                format_measured(r.get("measured"), se),
                format_reference(r.get("reference"), se),
                agreement(r),
                str(r.get("unit", "")),
                str(r.get("reference_label", "")),
            ]
        )
    widths = [max(len(line[k]) for line in cells) for k in range(len(COLUMNS))]
    right = {1, 2, 3}  # numbers align on the right
    lines = []
    for line in cells:
        parts = [
            cell.rjust(w) if k in right else cell.ljust(w)
            for k, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append(indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


def stage(progress):
    """A `progress(fraction, message)` callable that does nothing when `progress` is None."""
    return progress if progress is not None else (lambda fraction, message: None)


def size(quick: bool, full: bool, quick_value, default_value, full_value):
    """The value for the size asked for: `--quick`, the default, or `--full` (GPU)."""
    return quick_value if quick else full_value if full else default_value


def concurrently(*stages):
    """Run independent stages (callables without arguments) at once, in threads, and return
    their results in order. JAX compiles with the GIL released, so on a multi-core CPU the
    compilations (most of a quick demo's time) overlap; the numbers do not depend on the
    order, since every stage is pure with fixed keys."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(stages)) as pool:
        futures = [pool.submit(stage) for stage in stages]
        return [future.result() for future in futures]


def forward_only():
    """The adjoint for a `simulate` that is never differentiated: `DirectAdjoint`, one
    `lax.scan` over all steps. The default (`RecursiveCheckpointAdjoint`) nests checkpointed
    scans and compiles the step once more for every remainder level (e.g. 5000 steps = 39 x
    128 + 8: two copies of the step); without a gradient both run the same computation, so
    the numbers are identical and the compilation is 2-3 times shorter."""
    from jaxneq.langevin import DirectAdjoint

    return DirectAdjoint()
