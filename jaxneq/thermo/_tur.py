r"""Entropy production from data by the thermodynamic uncertainty relation (TUR).

Units: k_B = 1; entropy production rates in nats per unit time. For any time-integrated
current $J_t$ of a system in a nonequilibrium steady state (a Markov jump process, or
overdamped Langevin dynamics), the TUR bounds the entropy production rate from below,

$$\sigma \;\geq\; \frac{2\langle J_t\rangle^2}{t\,\mathrm{Var}(J_t)}.$$

`tur_bound` evaluates the right-hand side from samples of one current. `short_time_tur`
evaluates it for currents built from a basis of functions along sampled trajectories, over
one time step (the short-time limit), with the optimal linear combination of the basis
currents: the bound is then tight as the step goes to zero when the basis spans the
thermodynamic force (Manikandan et al. 2020; Otsubo et al. 2020), so a linear basis
recovers the exact entropy production rate of linear (Ornstein–Uhlenbeck) systems.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact
from ._checks import check_samples, eager_checks, positive_time_message
from ._results import Estimate


class ShortTimeTUREstimate(eqx.Module):
    """Short-time TUR estimate of the entropy production rate with its optimal current.

    **Fields:**

    - `value`: the estimated entropy production rate (nats per unit time).
    - `stderr`: its delta-method standard error.
    - `weights`: `[m]` the optimal coefficients of the basis currents (up to scale), so the
      optimal current is $J = \\sum_k w_k J_k$; for a linear system and the linear basis it
      is proportional to the entropy production itself.
    """

    value: Float[Array, ""]
    stderr: Float[Array, ""]
    weights: Float[Array, " m"]

    def __float__(self) -> float:
        return float(self.value)


def _check_time(t, name: str, dtype) -> Array:
    t = as_inexact(t, name)
    if t.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar time, got shape {t.shape}")
    t = t.astype(dtype)
    return eqx.error_if(t, ~((t > 0) & jnp.isfinite(t)), positive_time_message(name))


def _tur_ratio(samples, t):
    """2 mean^2 / (t var) of 1-D samples and its delta-method standard error."""
    n = samples.shape[0]
    mean = jnp.mean(samples)
    centred = samples - mean
    var = jnp.sum(centred**2) / (n - 1)
    mu3 = jnp.mean(centred**3)
    mu4 = jnp.mean(centred**4)
    value = 2 * mean**2 / (t * var)
    # delta method: Var(mean) = var/n, Var(s^2) ~ (mu4 - var^2)/n, Cov(mean, s^2) ~ mu3/n
    d_mean = 4 * mean / (t * var)
    d_var = -value / var
    variance = (d_mean**2 * var + 2 * d_mean * d_var * mu3 + d_var**2 * (mu4 - var**2)) / n
    return value, jnp.sqrt(jnp.maximum(variance, 0.0))


def tur_bound(currents: Float[ArrayLike, " n"], t: Float[ArrayLike, ""]) -> Estimate:
    r"""Lower bound on the entropy production rate from samples of one current (the TUR).

    $$\sigma \;\geq\; \frac{2\langle J\rangle^2}{t\,\mathrm{Var}(J)},$$

    with the mean and (unbiased) variance taken over independent samples of the current $J$
    integrated over a time $t$ in the steady state. The standard error is the delta-method
    one from the sample mean and variance (third and fourth central moments included).

    **Arguments:**

    - `currents`: `[n]` independent samples of a time-integrated current $J_t$ (e.g. the net
      number of jumps across one edge, or the displacement of a driven particle), $n \geq 2$.
    - `t`: the integration time $t > 0$.

    **Returns:** an `Estimate` with `.value` (a lower bound on $\sigma$ in nats per unit
    time) and `.stderr`.

    **Example:**

    ```python
    # net jumps across one edge of a driven ring, per trajectory of duration t
    bound = jn.thermo.tur_bound(net_jumps, t)  # <= jn.markov.entropy_production_rate(rates)
    ```

    References: Barato and Seifert, Phys. Rev. Lett. 114, 158101 (2015); Gingrich, Horowitz,
    Perunov and England, Phys. Rev. Lett. 116, 120601 (2016).
    """
    currents, t = jnp.asarray(currents), jnp.asarray(t)
    eager_checks([("currents", currents)], [("t", t, positive_time_message("t"))])
    return _tur_bound(currents, t)


@eqx.filter_jit
def _tur_bound(currents, t):
    currents = check_samples(currents, "currents", what="current samples")
    if currents.shape[0] < 2:
        raise ValueError("`currents` needs at least 2 samples to estimate a variance")
    t = _check_time(t, "t", currents.dtype)
    dtype = jnp.result_type(currents.dtype, t.dtype)
    value, stderr = _tur_ratio(currents.astype(dtype), t.astype(dtype))
    return Estimate(value=value, stderr=stderr)


def linear_basis(x: Float[Array, " d"]) -> Float[Array, "m d"]:
    r"""The linear basis of currents, $\phi_{(a,c)}(x) = x_c\,e_a$ ($m = d^2$ functions).

    The current of $\phi_{(a,c)}$ over one step is $x_c \circ \Delta x_a$. Together they
    span $x^\top G\,\dot x$ for any matrix $G$, which contains the entropy production of every
    linear (Ornstein–Uhlenbeck) system: the default basis of `short_time_tur`.

    **Arguments:**

    - `x`: `[d]` one configuration.

    **Returns:** `[d * d, d]`, row `a * d + c` is $x_c e_a$.
    """
    d = x.shape[-1]
    eye = jnp.eye(d, dtype=x.dtype)
    return (eye[:, None, :] * x[None, :, None]).reshape(d * d, d)


def short_time_tur(
    trajectory: Float[ArrayLike, "n_times b ..."],
    dt: Float[ArrayLike, ""],
    basis: Callable[[Array], Array] | None = None,
    *,
    debias: bool = True,
) -> ShortTimeTUREstimate:
    r"""Entropy production rate of a steady state from trajectories by the short-time TUR.

    For each basis function $\phi_k$ the current over one step is the Stratonovich increment
    $j_k = \phi_k\!\left(\tfrac{x_t + x_{t+\Delta t}}2\right) \cdot (x_{t+\Delta t} - x_t)$.
    With $\mu$ the mean and $\Sigma$ the covariance of $j$ over all steps and members, the
    best TUR bound over all currents $\sum_k w_k j_k$ is reached at $w = \Sigma^{-1}\mu$:

    $$\hat\sigma = \frac{2}{\Delta t}\,\mu^\top \Sigma^{-1} \mu .$$

    In the limit $\Delta t \to 0$ this equals the entropy production rate whenever the
    thermodynamic force lies in the span of the basis (exact for linear systems with
    `linear_basis`), and a lower bound otherwise; at finite $\Delta t$ the bias is
    $O(\Delta t)$ (measure it by halving the step). The standard error is the delta-method
    error of the TUR ratio of the optimal current (the error of the weights enters only at
    second order, the ratio being stationary at its maximum); it treats the steps as
    independent, which holds to leading order in $\Delta t$ for increments of a diffusion.

    Fitting the weights on the same sample biases $\mu^\top\Sigma^{-1}\mu$ upwards: with
    $N$ steps and $m$ independent basis currents, $\mathbb E[\hat\mu^\top\hat\Sigma^{-1}
    \hat\mu] = \frac{N-1}{N-m-2}\,(\mu^\top\Sigma^{-1}\mu + m/N)$ (Hotelling's $T^2$:
    $\hat\mu$ has covariance $\Sigma/N$, and the inverse Wishart mean), i.e. about
    $2m/(N\Delta t)$ on the rate: 2.5 nats per unit time for 25 currents, 2000 steps and
    $\Delta t = 0.01$. `debias=True` (the default) removes it,
    $\hat\sigma = \frac2{\Delta t}\big(\frac{N-m-2}{N-1}\,\hat\mu^\top\hat\Sigma^{-1}\hat\mu
    - \frac mN\big)$, with $m$ the rank of $\hat\Sigma$; the estimate can then be negative
    (within its error) when there is little entropy production to see.

    **Arguments:**

    - `trajectory`: `[n_times, b, ...]` positions of `b` members at `n_times` equally spaced
      times in the steady state (e.g. `simulate(..., save_every=k).trajectory`); the event
      axes after the member axis are flattened to `d` coordinates.
    - `dt`: time between consecutive frames (> 0).
    - `basis`: callable `x [d] -> [m, d]`, the vector fields $\phi_k$; default `linear_basis`.
    - `debias`: remove the upward bias of fitting the weights on the sample (above); `False`
      gives the plain plug-in value, which is a lower bound only in expectation over the
      weights, not over their fit.

    **Returns:** a `ShortTimeTUREstimate` with `.value`, `.stderr` and `.weights` `[m]`.

    **Example:**

    ```python
    system = jn.models.two_temperature_pair(k=1.0, lam=1.0, T1=10.0, T2=1.0)
    out = jn.langevin.simulate(system, x0, key=key, dt=1e-3, n_steps=50_000, save_every=10)
    sigma = jn.thermo.short_time_tur(out.trajectory, dt=1e-2)
    ```

    References: Manikandan, Gupta and Krishnamurthy, Phys. Rev. Lett. 124, 120603 (2020);
    Otsubo, Ito, Dechant and Sagawa, Phys. Rev. E 101, 062106 (2020); Barato and Seifert,
    Phys. Rev. Lett. 114, 158101 (2015).
    """
    trajectory, dt = jnp.asarray(trajectory), jnp.asarray(dt)
    eager_checks([("trajectory", trajectory)], [("dt", dt, positive_time_message("dt"))])
    return _short_time_tur(trajectory, dt, basis, debias)


@eqx.filter_jit
def _short_time_tur(trajectory, dt, basis, debias):
    trajectory = as_inexact(trajectory, "trajectory")
    if trajectory.ndim < 3:
        raise ValueError(
            "`trajectory` must have shape [n_times, b, ...] (time, ensemble member, "
            f"coordinates), got {trajectory.shape}; add a member axis for one trajectory"
        )
    if trajectory.shape[0] < 2 or trajectory.shape[1] < 1:
        raise ValueError(
            f"`trajectory` needs at least 2 times and 1 member, got shape {trajectory.shape}"
        )
    n_times, b = trajectory.shape[:2]
    x = trajectory.reshape(n_times, b, -1)
    x = check_samples(x, "trajectory", ndim=3, what="positions")
    dt = _check_time(dt, "dt", x.dtype)
    dtype = jnp.result_type(x.dtype, dt.dtype)
    x, dt = x.astype(dtype), dt.astype(dtype)
    basis = linear_basis if basis is None else basis
    d = x.shape[-1]
    mid = (0.5 * (x[1:] + x[:-1])).reshape(-1, d)
    dx = (x[1:] - x[:-1]).reshape(-1, d)
    phi = jax.vmap(basis)(mid)
    if phi.ndim != 3 or phi.shape[-1] != d:
        raise ValueError(
            f"`basis` must map a configuration [d] = [{d}] to [m, {d}] (m vector fields), "
            f"got {phi.shape[1:]}"
        )
    j = jnp.einsum("smd,sd->sm", phi, dx)
    if j.shape[0] < 2:
        raise ValueError("`trajectory` gives fewer than 2 steps: the covariance needs >= 2")
    mean = jnp.mean(j, axis=0)
    cov = jnp.cov(j, rowvar=False, ddof=1).reshape(j.shape[1], j.shape[1])
    weights = jnp.linalg.pinv(cov, hermitian=True) @ mean
    value, stderr = _tur_ratio(j @ weights, dt)
    if debias:
        n_steps, m = j.shape
        if n_steps <= m + 2:
            raise ValueError(
                f"`trajectory` gives {n_steps} steps for {m} basis currents: debias=True "
                f"needs more than m + 2 = {m + 2} (pass more frames or members, or a "
                "smaller basis)"
            )
        rank = jnp.linalg.matrix_rank(cov).astype(dtype)
        factor = (n_steps - rank - 2) / (n_steps - 1)
        value = factor * value - 2 * rank / (n_steps * dt)
        stderr = factor * stderr
    return ShortTimeTUREstimate(value=value, stderr=stderr, weights=weights)
