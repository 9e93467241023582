r"""Exact stationary results for linear (Ornstein–Uhlenbeck) Langevin systems (units: k_B = 1).

A linear overdamped system with additive noise,

$$dx = -A x\,dt + \sqrt{2 D}\,dW,$$

is Gaussian. When $-A$ is stable (all eigenvalues of $A$ have a positive real part) its
stationary density is $\mathcal N(0, C)$, with $C$ the solution of the Lyapunov equation
$A C + C A^\top = 2 D$. For overdamped Langevin dynamics $dx_i = \mu_i F_i\,dt +
\sqrt{2\mu_i T_i}\,dW_i$ with a linear force $F = -K x$ (any non-conservative linear part
included): $A = \mathrm{diag}(\mu) K$ and $D = \mathrm{diag}(\mu_i T_i)$.

These helpers are pure JAX, work under `jit`, `vmap` and `grad` and in float32/float64.
They moved here from `jaxneq.models`; `jn.models.linear_*` remain as deprecated aliases
(the same objects).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact


def _check_linear(A, D) -> tuple[Array, Array]:
    A = as_inexact(A, "A")
    D = as_inexact(D, "D")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"`A` must be a square matrix [n, n], got shape {A.shape}")
    n = A.shape[0]
    if D.ndim == 1:
        if D.shape != (n,):
            raise ValueError(
                f"`D` given as a vector must have shape ({n},) (the diagonal of the diffusion "
                f"matrix), got {D.shape}"
            )
        D = jnp.diag(D)
    elif D.shape != (n, n):
        raise ValueError(
            f"`D` must be a diffusion matrix [{n}, {n}] or its diagonal [{n}], got shape {D.shape}"
        )
    dtype = jnp.result_type(A.dtype, D.dtype)
    return A.astype(dtype), D.astype(dtype)


def _lyapunov(A, D) -> Array:
    # vec(A C + C A^T) = (I (x) A + A (x) I) vec(C) with column-major vec; the same operator
    # works for row-major vec because it is symmetric under swapping the two Kronecker factors.
    n = A.shape[0]
    eye = jnp.eye(n, dtype=A.dtype)
    op = jnp.kron(eye, A) + jnp.kron(A, eye)
    C = jnp.linalg.solve(op, (2 * D).reshape(-1)).reshape(n, n)
    return 0.5 * (C + C.T)


def linear_stationary_covariance(
    A: Float[ArrayLike, "n n"], D: Float[ArrayLike, "n n"] | Float[ArrayLike, " n"]
) -> Float[Array, "n n"]:
    r"""Stationary covariance of the linear system $dx = -A x\,dt + \sqrt{2D}\,dW$.

    Solves the Lyapunov equation $A C + C A^\top = 2 D$ (the stationary condition of
    $\dot C = -A C - C A^\top + 2 D$). The solve is a dense Kronecker-product linear system
    of size $n^2$, so it is meant for $n \lesssim 50$.

    **Arguments:**

    - `A`: drift matrix `[n, n]`; $-A$ must be stable (eigenvalues of $A$ with positive real
      part). For overdamped Langevin dynamics with force $F = -K x$ and mobilities $\mu$,
      $A = \mathrm{diag}(\mu) K$.
    - `D`: symmetric positive-definite diffusion matrix `[n, n]`, or its diagonal `[n]`
      ($D_{ii} = \mu_i T_i$ for one heat bath per degree of freedom).

    **Returns:** the covariance $C$, `[n, n]`, symmetric. An unstable `A` (no positive-definite
    solution) raises an `eqx.error_if` error, also under `jit`.

    **Example:**

    ```python
    A = jnp.array([[2.0, -1.0], [-1.0, 2.0]])  # two-temperature pair, k = lambda = 1
    C = linear_stationary_covariance(A, jnp.array([2.0, 1.0]))
    ```

    Reference: Risken, *The Fokker–Planck Equation* (Springer, 1989), section 3.2.
    """
    A, D = _check_linear(A, D)
    C = _lyapunov(A, D)
    chol = jnp.linalg.cholesky(C)
    C = eqx.error_if(
        C,
        ~jnp.all(jnp.isfinite(chol)),
        "`A`: the Lyapunov equation A C + C A^T = 2 D has no positive-definite solution, so the "
        "linear system has no stationary state: every eigenvalue of A must have a positive real "
        "part (and D must be positive definite)",
    )
    return C


def linear_entropy_production_rate(
    A: Float[ArrayLike, "n n"], D: Float[ArrayLike, "n n"] | Float[ArrayLike, " n"]
) -> Float[Array, ""]:
    r"""Stationary entropy production rate of the linear system $dx = -A x\,dt + \sqrt{2D}\,dW$.

    $$\sigma = \mathrm{tr}(A^\top D^{-1} A C) - \mathrm{tr} A,$$

    with $C$ the stationary covariance (`linear_stationary_covariance`). Derivation: in the
    steady state $\langle g(x)\circ\dot x\rangle = \int g\cdot J\,dx$ with the probability
    current $J = (-A + D C^{-1}) x\, p(x)$ of the Gaussian density; with $g = -D^{-1} A x$
    (that is $F_i / T_i$ for $D = \mathrm{diag}(\mu_i T_i)$) this gives
    $\sigma = \sum_i \langle F_i \circ \dot x_i\rangle / T_i$, the medium entropy production
    rate measured by `jaxneq.observables.EntropyProduction`. It also equals the total rate
    $\langle v^\top D^{-1} v\rangle$ with $v = J/p$, and is zero iff the dynamics obey
    detailed balance, that is iff $D^{-1} A$ is symmetric (then $C = A^{-1} D$).

    For the two-temperature pair (`two_temperature_pair`) it reduces to
    $\sigma = k^2 (T_1 - T_2)^2 / (2 T_1 T_2 (k + \lambda))$ per spatial dimension.

    **Arguments:**

    - `A`: drift matrix `[n, n]` (see `linear_stationary_covariance`).
    - `D`: diffusion matrix `[n, n]` or its diagonal `[n]`.

    **Returns:** $\sigma$ (nats per unit time), a scalar.

    **Example:**

    ```python
    sigma = linear_entropy_production_rate(jnp.array([[2.0, -1.0], [-1.0, 2.0]]),
                                           jnp.array([2.0, 1.0]))  # = 1/8
    ```

    Reference: Li et al., Nat. Commun. 10, 1666 (2019); Dotsenko et al., Phys. Rev. E 87,
    062130 (2013).
    """
    A, D = _check_linear(A, D)
    C = linear_stationary_covariance(A, D)
    return jnp.trace(A.T @ jnp.linalg.solve(D, A @ C)) - jnp.trace(A)


def linear_heat_rates(
    A: Float[ArrayLike, "n n"],
    D: Float[ArrayLike, " n"],
    mobility: Float[ArrayLike, "..."] = 1.0,
) -> Float[Array, " n"]:
    r"""Stationary heat flow into the bath of each degree of freedom of a linear system.

    For $dx_i = \mu_i F_i\,dt + \sqrt{2 D_{ii}}\,dW_i$ with $F = -\mathrm{diag}(\mu)^{-1} A x$,
    the heat released into bath $i$ per unit time is
    $\dot q_i = \langle F_i \circ \dot x_i \rangle = (A C A^\top - A D)_{ii} / \mu_i$.
    In the steady state $\sum_i \dot q_i = 0$ (first law) and
    $\sum_i \dot q_i / T_i = \sigma$ with $T_i = D_{ii} / \mu_i$. For the two-temperature pair
    the heat carried from bath 1 to bath 2 is $\dot q_2 = k^2 (T_1 - T_2) / (2 (k + \lambda))$
    per dimension.

    **Arguments:**

    - `A`: drift matrix `[n, n]`.
    - `D`: the diagonal `[n]` of the (diagonal) diffusion matrix, $D_{ii} = \mu_i T_i$.
    - `mobility`: $\mu$, scalar or `[n]`.

    **Returns:** $\dot q$, `[n]` (positive: heat flows into bath $i$).

    Reference: Sekimoto, *Stochastic Energetics* (Springer, 2010).
    """
    D = as_inexact(D, "D")
    if D.ndim != 1:
        raise ValueError(
            f"`D` must be the diagonal [n] of a diagonal diffusion matrix (one bath per degree "
            f"of freedom), got shape {D.shape}"
        )
    A, Dm = _check_linear(A, D)
    C = linear_stationary_covariance(A, Dm)
    mobility = jnp.broadcast_to(as_inexact(mobility, "mobility"), D.shape)
    return jnp.diagonal(A @ C @ A.T - A @ Dm) / mobility


def linear_coefficients(system, x: Float[ArrayLike, "..."], t: float = 0.0) -> tuple[Array, Array]:
    r"""Drift and diffusion matrices of a linear overdamped system with additive noise.

    For a system whose Ito drift is linear, $a(x) = -A x$, and whose noise amplitude $b$ is
    constant, returns $A = -\partial a / \partial x$ (by autodiff at `x`) and the diagonal
    of $D = b^2/2$ ($D_{ii} = \mu_i T_i$), over the flattened event of one member: the
    inputs of `linear_stationary_covariance`, `linear_entropy_production_rate` and
    `linear_heat_rates`. The linearity of the system is not checked.

    **Arguments:**

    - `system`: e.g. `two_temperature_pair(...)` or `bead_chain(...)` (any system with
      `drift(x, t)` and `diffusion(x, t)` for one member whose state is its position).
    - `x`: one member's position (unbatched), giving the event shape, e.g. `jnp.zeros((2, 1))`.
    - `t`: the time at which to evaluate.

    **Returns:** `(A, D)` with `A` `[n, n]` and `D` `[n]`, `n = x.size`.

    **Example:**

    ```python
    A, D = linear_coefficients(two_temperature_pair(T1=2.0, T2=1.0), jnp.zeros((2, 1)))
    sigma = linear_entropy_production_rate(A, D)  # 1/8
    ```
    """
    x = as_inexact(x, "x")
    shape = x.shape

    def drift(flat):
        return jnp.ravel(system.drift(flat.reshape(shape), t))

    A = -jax.jacfwd(drift)(jnp.ravel(x))
    D = 0.5 * jnp.ravel(system.diffusion(x, t)) ** 2
    return A, D


def linear_stationary_samples(
    system, x: Float[ArrayLike, "..."], *, key: Array, n: int, t: float = 0.0
) -> Array:
    r"""Independent samples of the exact Gaussian steady state of a linear system.

    For the Ito drift $a(x) = a_0 - A x$ and constant noise (see `linear_coefficients`), the
    stationary density is $\mathcal N(A^{-1} a_0, C)$ with $C$ from
    `linear_stationary_covariance`. Useful as `x0` to start an ensemble in its steady state.

    **Arguments:**

    - `system`: a linear system (e.g. `two_temperature_pair(...)`, `bead_chain(...)`).
    - `x`: one member's position (unbatched), giving the event shape and dtype.
    - `key`: a JAX PRNG key (keyword); `n`: the number of samples (keyword, static).
    - `t`: the time at which to evaluate the system.

    **Returns:** samples `[n, *x.shape]`, in the dtype of `x`.

    **Example:**

    ```python
    system = two_temperature_pair(T1=2.0, T2=1.0)
    x0 = linear_stationary_samples(system, jnp.zeros((2, 1)), key=jr.key(0), n=10_000)
    ```
    """
    x = as_inexact(x, "x")
    A, D = linear_coefficients(system, x, t)
    mean = jnp.linalg.solve(A, jnp.ravel(system.drift(jnp.zeros_like(x), t)))
    C = linear_stationary_covariance(A, D)
    chol = jnp.linalg.cholesky(C)
    z = jax.random.normal(key, (n, x.size), x.dtype)
    return (mean + z @ chol.T).astype(x.dtype).reshape(n, *x.shape)
