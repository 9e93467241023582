"""Demonstrations run by `jaxneq tour`.

Each demo is a module in this package with

- `NAME` (str, the module name) and `TITLE` (str, one line);
- `run(out_dir: pathlib.Path, quick: bool, progress=None, full: bool = False) -> dict`,
  which prints nothing,
  writes its figures into `out_dir` (`f"{NAME}.png"`, or `f"{NAME}_*.png"` for several),
  plots only through `jaxneq.plot`, and returns the numbers worth keeping.

`progress`, when given, is a callable `progress(fraction: float, message: str)` that a
demo calls between its stages (fraction in [0, 1], non-decreasing, 1.0 when done) so that
the command can show a progress display for anything that takes more than a few seconds.
`full=True` (`jaxneq tour --full`) asks for the ensemble sizes of a GPU; a demo without
larger sizes runs its default ones. The command always passes both keywords.
`jaxneq._tour._table` has `row(...)` (one table row from JAX/NumPy scalars), `stage(progress)`
(a no-op when None) and `size(quick, full, quick_value, default_value, full_value)`.

The returned dict is JSON-serialisable. Its flat keys are the numbers the tests check; its
key `"table"` is what the command prints, a list of rows, one per compared quantity:

    {"quantity": "entropy production rate", "measured": 0.1262, "stderr": 0.0011,
     "reference": 0.1259, "reference_label": "exact for Euler–Maruyama at dt = 0.01",
     "unit": "k_B / time"}

`stderr` is None for a deterministic number (a solver's output), `reference` None when
there is nothing to compare with. Comparisons are honest: the reference is the exact value
for what was simulated (the discrete-time chain at the demo's dt, the grid at its spacing),
or the label says why the two differ (time-step bias, grid spacing).

Register a new demo by adding its module name to `DEMOS`, in README order.
"""

DEMOS: list[str] = [
    "blowtorch_chain",
    "double_well_conventions",
    "inverse_design",
    "blowtorch_design",
    "fp_design_2d",
    "driven_ring_design",
    "two_temperature",
    "hot_cold",
    "ratchet",
    "rattling_fit",
    "rattling_typicality",
    "rattling_design",
    "bit_erasure",
    "minimum_work",
]
