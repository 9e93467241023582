r"""Figures for jaxneq results (matplotlib, the optional extra `plot`; units: k_B = 1).

Every function draws into the axes `ax=` it is given (or a new figure when omitted) and
returns the axes; none calls `show`. `panels` makes a figure of several axes with a title,
`save` writes a PNG and closes the figure.

- `density_map`: a density on a `jaxneq.fokker_planck.Grid` or on histogram edges, with the
  probability current as arrows (2D), or a profile (1D);
- `ensemble_snapshot`: particles of one ensemble member, coloured by a value per particle;
- `estimates`: measured values with error bars against an exact curve;
- `optimisation_trace`: a loss or an estimate per optimiser step, with the optimum;
- `rattling_law`: $p$ against $e^{-\gamma \mathcal R}/Z$ for a rattling fit.

Install with `pip install "jaxneq[plot]"`; importing `jaxneq.plot` works without
matplotlib, calling a function raises an `ImportError` that says so.
"""

from ._curves import (
    estimates as estimates,
    optimisation_trace as optimisation_trace,
    rattling_law as rattling_law,
)
from ._fields import density_map as density_map, ensemble_snapshot as ensemble_snapshot
from ._layout import panels as panels, save as save
