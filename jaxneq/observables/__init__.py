"""jaxneq.observables (units: k_B = 1)."""

from ._base import (
    AbstractObservable as AbstractObservable,
    Histogram as Histogram,
    Mean as Mean,
)
from ._thermodynamic import (
    CurrentField as CurrentField,
    EntropyProduction as EntropyProduction,
    Heat as Heat,
    Work as Work,
)
