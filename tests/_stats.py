"""Helpers shared by the tests: statistics with tolerances derived from the sample size, and
central finite differences. One place for them; test files import from here, never copy."""

import jax.numpy as jnp
import numpy as np

N_SE = 5.0
"""Default width of a statistical acceptance band in standard errors: a correct estimator
fails it with probability ~6e-7 per scalar (two-sided Gaussian tail)."""


def mean_and_stderr(values):
    """Mean over the leading (replica) axis and its standard error, in float64."""
    values = np.asarray(values, dtype=np.float64)
    return values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])


def assert_within_stderr(estimate, stderr, exact, n_se=N_SE, bias=0.0):
    """|estimate - exact| <= n_se * stderr + |bias| entrywise.

    `bias` is an explicit allowance for a known systematic error (time-step bias, grid
    spacing), to be derived in the calling test, never picked to make it pass.
    """
    estimate, stderr, exact = (np.asarray(v, dtype=np.float64) for v in (estimate, stderr, exact))
    err = np.abs(estimate - exact)
    assert np.all(err <= n_se * stderr + np.abs(bias)), (estimate, exact, stderr, bias)


def assert_samples_match(samples, expected, n_se=N_SE):
    """The mean over the leading (replica) axis of `samples` agrees with `expected` within
    n_se standard errors of the mean."""
    mean, se = mean_and_stderr(samples)
    assert_within_stderr(mean, se + 1e-12, expected, n_se)


def central_difference(fun, x, h=1e-6):
    """Central finite-difference gradient of a scalar `fun` at `x` (float64, entrywise)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        out[idx] = (float(fun(jnp.asarray(up))) - float(fun(jnp.asarray(down)))) / (2 * h)
    return out


def unit_roundoff(dtype):
    """u = eps / 2 of a floating dtype: the relative error of one correctly rounded operation."""
    return float(np.finfo(np.dtype(dtype)).eps) / 2


def float_sum_error_bound(terms, dtype, term_errors=0.0):
    """Forward error bound of a floating-point sum of `terms` computed in `dtype`.

    |fl(sum t_i) - sum t_i| <= gamma_{n-1} sum |t_i| + sum delta_i, with gamma_m =
    m u / (1 - m u), u the unit roundoff, n the number of nonzero terms (adding an exact
    zero is exact) and delta_i the absolute error of each computed term (`term_errors`).
    It holds for any summation order (Higham, *Accuracy and Stability of Numerical
    Algorithms*, 2nd ed., SIAM 2002, eq. (4.4)); pairwise summation does better. Use it as
    the tolerance when a sum computed by jaxneq is compared with an exact reference.
    """
    terms = np.abs(np.ravel(np.asarray(terms, dtype=np.float64)))
    terms = terms[terms != 0]
    m = max(terms.size - 1, 0) * unit_roundoff(dtype)
    return m / (1 - m) * terms.sum() + float(np.sum(term_errors))
