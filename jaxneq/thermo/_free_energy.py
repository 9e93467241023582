r"""Free-energy differences from nonequilibrium work and from samples of several states.

Units: k_B = 1. Work values $W$ are in energy units; with a bath temperature $T$ the reduced
work is $w = W / T$. The estimators:

- `jarzynski`: exponential averaging, $\Delta F = -T \ln\langle e^{-W/T}\rangle$;
- `bar`: Bennett's acceptance ratio from forward and reverse work;
- `mbar`: the multistate Bennett acceptance ratio for K thermodynamic states;
- `crooks`: the Crooks relation $P_F(W)/P_R(-W) = e^{(W - \Delta F)/T}$, bin by bin.

Each is pure JAX: it runs under `jit` and `vmap` (one problem per call; `vmap` for a batch)
and is differentiable with respect to the samples. The iterative solvers (BAR, MBAR) are
differentiated by the implicit function theorem (one Newton step taken from the converged,
gradient-stopped root), never by unrolling their iterations. The standard errors follow
pymbar's conventions so that the numbers agree with pymbar's on the same data.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jaxtyping import ArrayLike, Float

from .._util import is_concrete
from ._checks import (
    TEMPERATURE_MESSAGE,
    check_samples,
    check_temperature,
    common_dtype,
    eager_checks,
)
from ._results import CrooksCheck, Estimate, JarzynskiEstimate, MBAREstimate

_MAX_ITERS = 100


def _tolerance(dtype):
    return 8 * jnp.finfo(dtype).eps


def jarzynski(
    work: Float[ArrayLike, " n"], temperature: Float[ArrayLike, ""] = 1.0
) -> JarzynskiEstimate:
    r"""Free-energy difference from nonequilibrium work by Jarzynski's equality (EXP).

    $$\widehat{\Delta F} = -T \ln \frac1N \sum_{n=1}^N e^{-W_n/T},$$

    computed in log-sum-exp form (no overflow for any work values). The standard error is the
    delta-method one, $T\,s_x / (\sqrt N\,\bar x)$ with $x_n = e^{-W_n/T}$ and $s_x$ their
    standard deviation (normalised by $N$, as pymbar's `exp`). The estimator is biased
    upwards at finite $N$; the leading bias (Zuckerman & Woolf 2002),
    $T\,\mathrm{Var}[x] / (2 N \bar x^2)$, is returned as `.bias`. Both become unreliable when
    the work distribution is much wider than $T$ (the average is dominated by rare low-work
    trajectories): prefer `bar` when reverse work is available.

    **Arguments:**

    - `work`: `[n]` work values $W$ of independent forward realisations of the protocol,
      each started in equilibrium at the initial parameter value.
    - `temperature`: bath temperature $T > 0$ (scalar).

    **Returns:** a `JarzynskiEstimate` with `.value` ($\Delta F$), `.stderr` and `.bias`;
    `float(result)` is the value.

    **Example:**

    ```python
    work = 1.0 + jnp.sqrt(2.0) * jax.random.normal(key, (10_000,))  # Gaussian, mu = 1, T = 1
    result = jn.thermo.jarzynski(work)  # Delta F = mu - var / (2 T) = 0
    ```

    References: Jarzynski, Phys. Rev. Lett. 78, 2690 (1997); Zuckerman and Woolf, Phys. Rev.
    Lett. 89, 180602 (2002).
    """
    work, temperature = jnp.asarray(work), jnp.asarray(temperature)
    eager_checks([("work", work)], [("temperature", temperature, TEMPERATURE_MESSAGE)])
    return _jarzynski(work, temperature)


@eqx.filter_jit
def _jarzynski(work, temperature):
    work = check_samples(work, "work", what="work values")
    temperature = check_temperature(temperature, work.dtype)
    dtype = common_dtype(work, temperature)
    work, temperature = work.astype(dtype), temperature.astype(dtype)
    n = work.shape[0]
    a = -work / temperature
    value = -temperature * (logsumexp(a) - jnp.log(jnp.asarray(n, dtype)))
    x = jnp.exp(a - jax.lax.stop_gradient(jnp.max(a)))
    mean_x = jnp.mean(x)
    var_x = jnp.mean((x - mean_x) ** 2)
    relative_var = var_x / (n * mean_x**2)
    stderr = temperature * jnp.sqrt(relative_var)
    bias = 0.5 * temperature * relative_var
    return JarzynskiEstimate(value=value, stderr=stderr, bias=bias)


# ---------------------------------------------------------------------------------- BAR


def _bar_function(delta_f, w_f, w_r, m):
    # log sum_F 1/(1 + exp(w_F + C)) - log sum_R 1/(1 + exp(w_R - C)), C = M - Delta f:
    # strictly increasing in delta_f, from -inf to +inf (Shirts et al. 2003, eq. 8). The
    # Fermi functions are logistic sigmoids (one exp each, no overflow); each sum is exact to
    # a few ulps unless every one of its terms underflows (all w_F + C > 745 in float64),
    # where the bisection safeguard takes over.
    c = m - delta_f
    return jnp.log(jnp.sum(jax.nn.sigmoid(-(w_f + c)))) - jnp.log(jnp.sum(jax.nn.sigmoid(c - w_r)))


def _bar_root(w_f, w_r, m):
    """Root of `_bar_function` by Newton's method safeguarded by bisection on a bracket."""
    dtype = w_f.dtype
    tol = _tolerance(dtype)
    # g(lo) < 0 < g(hi): at lo every forward Fermi term is <= e^(lo - M - w_F), so the left sum
    # is <= N_R e^(-|M| - 1), while every reverse term is >= 1 / (1 + e^-1); the ratio of the
    # sums is then <= 0.51 < 1. The same argument mirrored holds at hi.
    lo = jnp.minimum(jnp.min(w_f), -jnp.max(w_r)) - jnp.abs(m) - 1.0
    hi = jnp.maximum(jnp.max(w_f), -jnp.min(w_r)) + jnp.abs(m) + 1.0
    # start between the two mean works (<W_F> >= Delta F >= -<W_R>)
    x0 = jnp.clip(0.5 * (jnp.mean(w_f) - jnp.mean(w_r)), lo, hi)
    g_and_dg = jax.value_and_grad(_bar_function)

    def cond(state):
        _, _, _, done, it = state
        return ~done & (it < _MAX_ITERS)

    def body(state):
        x, lo, hi, _, it = state
        g, dg = g_and_dg(x, w_f, w_r, m)
        lo = jnp.where(g < 0, x, lo)
        hi = jnp.where(g > 0, x, hi)
        newton = x - g / dg
        inside = (newton > lo) & (newton < hi) & jnp.isfinite(newton)
        x_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        scale = 1.0 + jnp.abs(x)
        # a Newton step of size d leaves an error ~ d^2: stop at d <= sqrt(eps) and let the
        # final (differentiable) Newton step in `bar` take the root to the rounding level
        done = (
            (g == 0)
            | (inside & (jnp.abs(x_new - x) <= jnp.sqrt(tol) * scale))
            | (hi - lo <= tol * scale)
        )
        return x_new, lo, hi, done, it + 1

    state = (x0, lo, hi, jnp.asarray(False), jnp.asarray(0))
    x, *_ = jax.lax.while_loop(cond, body, state)
    return x


def bar(
    w_forward: Float[ArrayLike, " n_f"],
    w_reverse: Float[ArrayLike, " n_r"],
    temperature: Float[ArrayLike, ""] = 1.0,
) -> Estimate:
    r"""Free-energy difference from forward and reverse work by Bennett's acceptance ratio.

    With reduced work $w = W / T$ and $M = \ln(N_F / N_R)$, $\Delta f = \Delta F / T$ is the
    root of

    $$\sum_{n \in F} \frac{1}{1 + e^{M + w_n - \Delta f}} = \sum_{n \in R}
      \frac{1}{1 + e^{-M + w_n + \Delta f}},$$

    the minimum-variance combination of the two directions (Bennett 1976; Shirts et al. 2003,
    who showed it is the maximum-likelihood estimate). The root is found by Newton's method
    safeguarded by bisection on a bracket (the left side minus the right side, in logs, is
    strictly increasing), inside `lax.while_loop`, to a few ulps. The gradient with respect
    to the work values comes from the implicit function theorem. The standard error is the
    one of Shirts et al. 2003, eq. 10 (pymbar's `uncertainty_method="BAR"`):

    $$\sigma^2 = \frac{\langle f^2\rangle_F}{N_F \langle f\rangle_F^2} +
      \frac{\langle f^2\rangle_R}{N_R \langle f\rangle_R^2} - \frac{1}{N_F} - \frac{1}{N_R},$$

    with $f$ the Fermi function of each sum above, times $T$. It is meaningful when the two
    work distributions overlap; with no overlap it is clipped at zero, and the estimate is
    unreliable.

    **Arguments:**

    - `w_forward`: `[n_f]` work values $W_F$ of the forward protocol A -> B, started in
      equilibrium in A.
    - `w_reverse`: `[n_r]` work values $W_R$ of the time-reversed protocol B -> A, started in
      equilibrium in B (so that $\Delta F_{A \to B} \approx \langle W_F\rangle \approx
      -\langle W_R\rangle$ near equilibrium).
    - `temperature`: bath temperature $T > 0$ (scalar).

    **Returns:** an `Estimate` with `.value` ($\Delta F = F_B - F_A$) and `.stderr`.

    **Example:**

    ```python
    w_f = 1.0 + jnp.sqrt(2.0) * jax.random.normal(k1, (5000,))  # Delta F = 0, T = 1
    w_r = 1.0 + jnp.sqrt(2.0) * jax.random.normal(k2, (5000,))
    result = jn.thermo.bar(w_f, w_r)
    grads = jax.grad(lambda w: jn.thermo.bar(w, w_r).value)(w_f)
    ```

    References: Bennett, J. Comput. Phys. 22, 245 (1976); Shirts, Bair, Hooker and Pande,
    Phys. Rev. Lett. 91, 140601 (2003).
    """
    w_forward, w_reverse = jnp.asarray(w_forward), jnp.asarray(w_reverse)
    temperature = jnp.asarray(temperature)
    eager_checks(
        [("w_forward", w_forward), ("w_reverse", w_reverse)],
        [("temperature", temperature, TEMPERATURE_MESSAGE)],
    )
    return _bar(w_forward, w_reverse, temperature)


@eqx.filter_jit
def _bar(w_forward, w_reverse, temperature):
    w_forward = check_samples(w_forward, "w_forward", what="forward work values")
    w_reverse = check_samples(w_reverse, "w_reverse", what="reverse work values")
    temperature = check_temperature(temperature, w_forward.dtype)
    dtype = common_dtype(w_forward, w_reverse, temperature)
    temperature = temperature.astype(dtype)
    w_f = w_forward.astype(dtype) / temperature
    w_r = w_reverse.astype(dtype) / temperature
    n_f, n_r = w_f.shape[0], w_r.shape[0]
    m = jnp.log(jnp.asarray(n_f / n_r, dtype))

    root = jax.lax.stop_gradient(_bar_root(*jax.lax.stop_gradient((w_f, w_r)), m))
    # One Newton step from the converged root: the same value, and (g = 0 there) the
    # implicit-function-theorem derivative -g_w / g_f with respect to the work values.
    g, dg = jax.value_and_grad(_bar_function)(root, w_f, w_r, m)
    delta_f = root - g / jax.lax.stop_gradient(dg)

    c = m - delta_f
    f_f = jax.nn.sigmoid(-(w_f + c))
    f_r = jax.nn.sigmoid(c - w_r)
    # <f^2> / <f>^2 of each direction
    ratio_f = n_f * jnp.sum(f_f**2) / jnp.sum(f_f) ** 2
    ratio_r = n_r * jnp.sum(f_r**2) / jnp.sum(f_r) ** 2
    variance = ratio_f / n_f + ratio_r / n_r - (1.0 / n_f + 1.0 / n_r)
    stderr = temperature * jnp.sqrt(jnp.maximum(variance, 0.0))
    return Estimate(value=temperature * delta_f, stderr=stderr)


# --------------------------------------------------------------------------------- MBAR


def _mbar_log_denominator(f, u_kn, log_n):
    # log D_n = log sum_k N_k exp(f_k - u_kn), [N]
    return logsumexp(log_n[:, None] + f[:, None] - u_kn, axis=0)


def _mbar_self_consistent(f, u_kn, log_n):
    # f_k <- -log sum_n exp(-u_kn) / D_n (unnormalised)
    return -logsumexp(-u_kn - _mbar_log_denominator(f, u_kn, log_n)[None, :], axis=1)


def _mbar_gradient(f, u_kn, log_n, n_k):
    # gradient of the convex MBAR objective sum_n log D_n - sum_k N_k f_k
    return n_k * (jnp.exp(f - _mbar_self_consistent(f, u_kn, log_n)) - 1.0)


def _mbar_hessian(f, u_kn, log_n, n_k):
    log_w = f[:, None] - u_kn - _mbar_log_denominator(f, u_kn, log_n)[None, :]  # [K, N]
    w = jnp.exp(log_w)
    nw = n_k[:, None] * w
    return jnp.diag(jnp.sum(nw, axis=1)) - nw @ nw.T


def _mbar_newton_step(f, u_kn, log_n, n_k, fixed):
    g = jnp.where(fixed, 0.0, _mbar_gradient(f, u_kn, log_n, n_k))
    h = _mbar_hessian(f, u_kn, log_n, n_k)
    h = jnp.where(fixed[:, None] | fixed[None, :], 0.0, h) + jnp.diag(fixed.astype(f.dtype))
    return jnp.linalg.solve(h, g), g


def _mbar_solve(u_kn, n_k, log_n, fixed, ref):
    dtype = u_kn.dtype
    tol = 100 * jnp.finfo(dtype).eps
    n_total = jnp.sum(n_k)

    def gauge(f):
        return f - f[ref]

    def residual(f):
        g = jnp.where(fixed, 0.0, _mbar_gradient(f, u_kn, log_n, n_k))
        return jnp.max(jnp.abs(g)) / n_total

    def cond(state):
        _, r, it = state
        return (r > tol) & (it < 500)

    def body(state):
        f, r, it = state
        # adaptive: take the better of a self-consistent and a Newton update (as pymbar does)
        f_sc = gauge(jnp.where(n_k > 0, _mbar_self_consistent(f, u_kn, log_n), 0.0))
        step, _ = _mbar_newton_step(f, u_kn, log_n, n_k, fixed)
        f_nr = gauge(f - step)
        r_sc, r_nr = residual(f_sc), residual(f_nr)
        use_nr = jnp.isfinite(r_nr) & (r_nr < r_sc)
        f_new = jnp.where(use_nr, f_nr, f_sc)
        r_new = jnp.where(use_nr, r_nr, r_sc)
        # stop when no update improves any more (rounding floor reached)
        r_new = jnp.where((r_new >= r) & (r < jnp.sqrt(tol)), 0.0, r_new)
        return f_new, r_new, it + 1

    f0 = jnp.zeros(u_kn.shape[0], dtype)
    f, _, _ = jax.lax.while_loop(cond, body, (f0, residual(f0), jnp.asarray(0)))
    return f


def _n_k_message(n: int) -> str:
    return f"`n_k` must be >= 0 and sum to the number of samples N = {n} (the columns of `u_kn`)"


def mbar(u_kn: Float[ArrayLike, "K N"], n_k: Float[ArrayLike, " K"]) -> MBAREstimate:
    r"""Free energies of K thermodynamic states from samples by MBAR, with their covariance.

    The samples $x_n$ ($n = 1..N$, pooled from all states, $N_k$ drawn from state $k$) enter
    only through the reduced potentials $u_{kn} = u_k(x_n)$ (e.g. $U_k(x_n)/T_k$). The
    reduced free energies $f_k = -\ln \int e^{-u_k}$ solve

    $$f_i = -\ln \sum_{n=1}^N \frac{e^{-u_{in}}}{\sum_k N_k e^{f_k - u_{kn}}},$$

    found by self-consistent iteration combined with Newton steps on the convex MBAR objective
    (the better of the two each iteration, as pymbar's adaptive solver), to a gradient at the
    rounding level; the final Newton step is taken from the gradient-stopped solution, so
    derivatives with respect to `u_kn` follow the implicit function theorem. The asymptotic
    covariance is that of Shirts and Chodera 2008 (appendix D; pymbar's
    `"svd-ew"` method): with the weights $W_{nk} = e^{f_k - u_{kn}} / \sum_j N_j
    e^{f_j - u_{jn}}$ and $W = U \Sigma V^\top$, $\Theta = V\Sigma(I - \Sigma V^\top
    \mathrm{diag}(N) V \Sigma)^{+}\Sigma V^\top$, and
    $\mathrm{Cov}(f_i - f_0, f_j - f_0) = \Theta_{ij} - \Theta_{i0} - \Theta_{0j} + \Theta_{00}$.

    States with $N_k = 0$ (unsampled) are allowed: their free energies are reweighted from
    the others. The order of the samples does not matter. The derivative of `.stderr` and
    `.covariance` goes through an eigendecomposition and is not reliable for states with
    equal weights; differentiate `.value`.

    **Arguments:**

    - `u_kn`: `[K, N]` reduced potential of every sample in every state (dimensionless).
    - `n_k`: `[K]` number of samples drawn from each state; must sum to `N` (checked).

    **Returns:** an `MBAREstimate` with `.value` `[K]` ($f_k - f_0$, reduced units),
    `.stderr` `[K]` and `.covariance` `[K, K]`.

    **Example:**

    ```python
    stiffness = jnp.array([1.0, 2.0, 4.0])  # harmonic traps at T = 1, 1000 samples each
    keys = jax.random.split(jax.random.key(0), 3)
    x = jnp.concatenate([jax.random.normal(k, (1000,)) / jnp.sqrt(s)
                         for k, s in zip(keys, stiffness)])
    u_kn = 0.5 * stiffness[:, None] * x[None, :] ** 2
    result = jn.thermo.mbar(u_kn, jnp.full(3, 1000))  # value ~ 0.5 ln(stiffness / 1)
    ```

    References: Shirts and Chodera, J. Chem. Phys. 129, 124105 (2008); Bennett, J. Comput.
    Phys. 22, 245 (1976).
    """
    u_kn, n_k = jnp.asarray(u_kn), jnp.asarray(n_k)
    eager_checks([("u_kn", u_kn)])
    if is_concrete(n_k) and u_kn.ndim == 2 and n_k.shape == u_kn.shape[:1]:
        counts = np.asarray(n_k)
        if np.any(counts < 0) or counts.sum() != u_kn.shape[1]:
            raise ValueError(_n_k_message(u_kn.shape[1]))
    return _mbar(u_kn, n_k)


@eqx.filter_jit
def _mbar(u_kn, n_k):
    u_kn = check_samples(u_kn, "u_kn", ndim=2, what="reduced potentials [K states, N samples]")
    n_k = jnp.asarray(n_k)
    if n_k.shape != (u_kn.shape[0],):
        raise ValueError(
            f"`n_k` must have shape ({u_kn.shape[0]},) (one count per state, the rows of "
            f"`u_kn`), got {n_k.shape}"
        )
    dtype = u_kn.dtype
    n_k = n_k.astype(dtype)
    n_k = jax.lax.stop_gradient(n_k)
    n_k = eqx.error_if(
        n_k,
        jnp.any(n_k < 0) | (jnp.sum(n_k) != u_kn.shape[1]),
        _n_k_message(u_kn.shape[1]),
    )
    k = u_kn.shape[0]
    log_n = jnp.where(n_k > 0, jnp.log(jnp.where(n_k > 0, n_k, 1.0)), -jnp.inf)
    ref = jnp.argmax(n_k > 0)
    fixed = (n_k == 0) | (jnp.arange(k) == ref)

    f_star = jax.lax.stop_gradient(_mbar_solve(jax.lax.stop_gradient(u_kn), n_k, log_n, fixed, ref))
    # Newton polish from the converged solution: same value, implicit-function derivatives.
    step, _ = _mbar_newton_step(f_star, u_kn, log_n, n_k, fixed)
    f = f_star - step
    # unsampled states (and the gauge) from the self-consistent equation
    f = jnp.where(n_k > 0, f, _mbar_self_consistent(f, u_kn, log_n))
    f = f - f[0]

    # asymptotic covariance (pymbar's "svd-ew")
    log_w = f[:, None] - u_kn - _mbar_log_denominator(f, u_kn, log_n)[None, :]
    w = jnp.exp(log_w).T  # [N, K]
    s2, v = jnp.linalg.eigh(w.T @ w)
    sigma = jnp.diag(jnp.sqrt(jnp.maximum(s2, 0.0)))
    inner = jnp.eye(k, dtype=dtype) - sigma @ v.T @ jnp.diag(n_k) @ v @ sigma
    rtol = max(1e-10, 100 * float(jnp.finfo(dtype).eps))
    theta = v @ sigma @ jnp.linalg.pinv(inner, rtol=rtol, hermitian=True) @ sigma @ v.T
    covariance = theta - theta[:, :1] - theta[:1, :] + theta[0, 0]
    covariance = 0.5 * (covariance + covariance.T)
    stderr = jnp.sqrt(jnp.abs(jnp.diagonal(covariance)))
    return MBAREstimate(value=f, stderr=stderr, covariance=covariance)


# ------------------------------------------------------------------------------- Crooks


def crooks(
    w_forward: Float[ArrayLike, " n_f"],
    w_reverse: Float[ArrayLike, " n_r"],
    bins: int | Float[ArrayLike, " n_edges"] = 20,
    temperature: Float[ArrayLike, ""] = 1.0,
    delta_f: Float[ArrayLike, ""] | None = None,
) -> CrooksCheck:
    r"""Check the Crooks fluctuation theorem on forward and reverse work histograms.

    $$\ln\frac{P_F(W)}{P_R(-W)} = \frac{W - \Delta F}{T}.$$

    Both work distributions are histogrammed on the same bins (the forward one at $W$, the
    reverse one at $-W$) and their log ratio is returned per bin next to the expected line,
    with a standard error from the counts. Plot `log_ratio` against `work` with `expected`
    as the line, or test `|log_ratio - expected| <= n * stderr` on the `valid` bins.

    **Arguments:**

    - `w_forward`: `[n_f]` forward work values.
    - `w_reverse`: `[n_r]` reverse work values (of the time-reversed protocol).
    - `bins`: number of bins (a Python int; they span the overlap of the forward work and
      the negated reverse work) or an increasing array of bin edges.
    - `temperature`: bath temperature $T > 0$.
    - `delta_f`: $\Delta F$ for the expected line; `None` uses `bar(w_forward, w_reverse)`.

    **Returns:** a `CrooksCheck` with `work` (bin centres), `log_ratio`, `stderr`,
    `expected`, `valid` and `delta_f`.

    **Example:**

    ```python
    check = jn.thermo.crooks(w_f, w_r, bins=15)
    ok = jnp.abs(check.log_ratio - check.expected) <= 5 * check.stderr  # where check.valid
    ```

    Reference: Crooks, Phys. Rev. E 60, 2721 (1999).
    """
    delta_f = None if delta_f is None else jnp.asarray(delta_f)
    w_forward, w_reverse = jnp.asarray(w_forward), jnp.asarray(w_reverse)
    temperature = jnp.asarray(temperature)
    eager_checks(
        [("w_forward", w_forward), ("w_reverse", w_reverse)],
        [("temperature", temperature, TEMPERATURE_MESSAGE)],
    )
    return _crooks(w_forward, w_reverse, bins, temperature, delta_f)


@eqx.filter_jit
def _crooks(w_forward, w_reverse, bins, temperature, delta_f):
    w_forward = check_samples(w_forward, "w_forward", what="forward work values")
    w_reverse = check_samples(w_reverse, "w_reverse", what="reverse work values")
    temperature = check_temperature(temperature, w_forward.dtype)
    dtype = common_dtype(w_forward, w_reverse, temperature)
    w_f, w_r = w_forward.astype(dtype), -w_reverse.astype(dtype)
    temperature = temperature.astype(dtype)
    if isinstance(bins, int):
        if bins < 1:
            raise ValueError(f"`bins` must be a positive number of bins, got {bins}")
        lo = jnp.maximum(jnp.min(w_f), jnp.min(w_r))
        hi = jnp.minimum(jnp.max(w_f), jnp.max(w_r))
        hi = jnp.where(hi > lo, hi, lo + 1.0)
        edges = jnp.linspace(lo, hi, bins + 1)
    else:
        edges = jnp.asarray(bins, dtype)
        if edges.ndim != 1 or edges.shape[0] < 2:
            raise ValueError(
                f"`bins` given as edges must be 1-D with >= 2 entries, got {edges.shape}"
            )
    edges = jax.lax.stop_gradient(edges)
    count_f, _ = jnp.histogram(w_f, edges)
    count_r, _ = jnp.histogram(w_r, edges)
    count_f, count_r = count_f.astype(dtype), count_r.astype(dtype)
    valid = (count_f > 0) & (count_r > 0)
    safe_f, safe_r = jnp.where(valid, count_f, 1.0), jnp.where(valid, count_r, 1.0)
    n_f, n_r = w_f.shape[0], w_r.shape[0]
    log_ratio = jnp.where(valid, jnp.log(safe_f / n_f) - jnp.log(safe_r / n_r), jnp.nan)
    stderr = jnp.where(valid, jnp.sqrt(1.0 / safe_f + 1.0 / safe_r), jnp.nan)
    if delta_f is None:
        delta_f = bar(w_forward, w_reverse, temperature).value
    delta_f = jnp.asarray(delta_f, dtype)
    centres = 0.5 * (edges[1:] + edges[:-1])
    expected = (centres - delta_f) / temperature
    return CrooksCheck(
        work=centres,
        log_ratio=log_ratio,
        stderr=stderr,
        expected=expected,
        valid=valid,
        delta_f=delta_f,
    )
