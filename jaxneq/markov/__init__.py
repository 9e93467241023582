r"""Master equations: continuous-time Markov chains (units: k_B = 1).

`rates[i, j]` is the rate of the jump i -> j (diagonal ignored); distributions are row
vectors with $\dot p = p Q$. Dense `[n, n]` arrays and `EdgeRates` edge lists are both
accepted everywhere.
"""

from ._rates import (
    EdgeRates as EdgeRates,
    generator as generator,
    to_dense as to_dense,
    validate_rates as validate_rates,
)
