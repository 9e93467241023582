"""Helpers shared by the tests: statistics with tolerances derived from the sample size, and
central finite differences. One place for them; test files import from here, never copy."""

import jax
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


def central_difference(fun, x, h=1e-6, jit=False):
    """Central finite-difference gradient of a scalar `fun` at `x` (float64, entrywise).

    `jit=True` compiles `fun` once (for jittable functions evaluated many times)."""
    if jit:
        fun = jax.jit(fun)
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


def central_difference_step(third_derivative_bound, value_error):
    """Step h and error bound of a central difference (f(x+h) - f(x-h)) / 2h.

    The truncation error is at most h^2/6 max|f'''| and the rounding error at most
    value_error / h, where value_error bounds the absolute error of each evaluation of f
    (e.g. `float_sum_error_bound`, or a few u |f| for a smooth closed form). The h that
    minimises their sum is (3 value_error / max|f'''|)^(1/3). Returns (h, bound); pass h to
    `central_difference` and use the bound (plus the error of the gradient it is compared
    with) as the absolute tolerance. The bound needs max|f'''| over [x - h, x + h]: f must
    be C^3 there.
    """
    m3 = float(third_derivative_bound)
    eps = float(value_error)
    if m3 <= 0:
        raise ValueError("`third_derivative_bound` must be > 0 (use an upper bound)")
    h = (3 * eps / m3) ** (1 / 3)
    return h, h * h * m3 / 6 + eps / h


def assert_pytrees_bitwise_equal(a, b):
    """Same structure, dtypes and shapes, and bit-for-bit the same leaves (NaNs included;
    PRNG keys compared through their key data, non-numeric dtypes through their bytes)."""
    import jax

    leaves_a, tree_a = jax.tree_util.tree_flatten(a)
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    assert tree_a == tree_b, (tree_a, tree_b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, (x.dtype, y.dtype, x.shape, y.shape)
        if x.dtype.kind not in "biu":  # bits: -0.0 != 0.0, NaN payloads and bfloat16 count
            x, y = (np.ascontiguousarray(v).view(np.uint8) for v in (x, y))  # any itemsize
        np.testing.assert_array_equal(x, y, strict=True)


def compiled_temp_bytes(fun, *args):
    """Temporary (scratch) bytes XLA allocates for `jax.jit(fun)(*args)`, from the compiled
    executable's memory analysis: how memory claims (O(N), O(log n_steps)) are tested
    without running the computation."""
    import jax

    return jax.jit(fun).lower(*args).compile().memory_analysis().temp_size_in_bytes
