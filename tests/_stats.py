"""Statistics shared by the statistical tests (tolerances derived from the sample size)."""

import numpy as np


def mean_and_stderr(values):
    """Mean over the leading (replica) axis and its standard error, in float64."""
    values = np.asarray(values, dtype=np.float64)
    return values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
