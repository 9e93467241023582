r"""Probability density, current and circulation of linear (Ornstein–Uhlenbeck) systems, and
the exact stationary values of their Euler–Maruyama discretisation (units: k_B = 1).

For $dx = -A x\,dt + \sqrt{2D}\,dW$ with stable $-A$ the stationary density is
$\mathcal N(0, C)$, $A C + C A^\top = 2D$ (`linear_stationary_covariance`), and the stationary
probability current is linear in $x$ times the density,

$$J(x) = (-A + D C^{-1})\, x\, p(x),$$

which vanishes iff detailed balance holds ($D^{-1}A$ symmetric). Its circulation
$\int (x_i J_j - x_j J_i)\,dx$ is the mean rate at which the probability rotates in the
$(x_i, x_j)$ plane.

These helpers are pure JAX, work under `jit`, `vmap` and `grad` and in float32/float64.
They moved here from `jaxneq.models`; `jn.models.linear_*` remain as deprecated aliases
(the same objects).
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, is_concrete
from ._linear import _check_linear, linear_stationary_covariance


def _points(x, n: int) -> Array:
    x = as_inexact(x, "x")
    if x.ndim == 0 or x.shape[-1] != n:
        raise ValueError(
            f"`x` must have shape [..., {n}] (points of the state space), got {x.shape}"
        )
    return x


def linear_stationary_density(
    A: Float[ArrayLike, "n n"],
    D: Float[ArrayLike, "n n"] | Float[ArrayLike, " n"],
    x: Float[ArrayLike, "... n"],
) -> Float[Array, "..."]:
    r"""Stationary Gaussian density $p(x) = \mathcal N(x; 0, C)$ of $dx = -Ax\,dt + \sqrt{2D}\,dW$.

    $$p(x) = \frac{e^{-x^\top C^{-1} x / 2}}{\sqrt{\det(2\pi C)}}, \qquad A C + C A^\top = 2D.$$

    **Arguments:**

    - `A`: drift matrix `[n, n]` ($-A$ stable).
    - `D`: diffusion matrix `[n, n]` or its diagonal `[n]`.
    - `x`: points `[..., n]`.

    **Returns:** the density at each point, shape `x.shape[:-1]`.

    **Example:**

    ```python
    g = jnp.stack(jnp.meshgrid(c, c, indexing="ij"), -1)   # [m, m, 2] grid of bin centres
    p = jn.thermo.linear_stationary_density(A, jnp.array([4.0, 1.0]), g)
    ```

    Reference: Risken, *The Fokker–Planck Equation* (Springer, 1989), section 3.2.
    """
    A, D = _check_linear(A, D)
    x = _points(x, A.shape[0]).astype(A.dtype)
    C = linear_stationary_covariance(A, D)
    quad = jnp.einsum("...i,...i->...", x, jnp.linalg.solve(C, x[..., None])[..., 0])
    _, logdet = jnp.linalg.slogdet(2 * jnp.pi * C)
    return jnp.exp(-0.5 * quad - 0.5 * logdet)


def linear_stationary_current(
    A: Float[ArrayLike, "n n"],
    D: Float[ArrayLike, "n n"] | Float[ArrayLike, " n"],
    x: Float[ArrayLike, "... n"],
) -> Float[Array, "... n"]:
    r"""Stationary probability current $J(x) = (-A + D C^{-1})\,x\,p(x)$ of a linear system.

    The Fokker–Planck current $J = -A x\,p - D\nabla p$ evaluated on the Gaussian steady
    state ($\nabla p = -C^{-1} x\, p$). It is divergence-free and vanishes iff $D^{-1}A$ is
    symmetric (detailed balance).

    **Arguments:** `A` `[n, n]`, `D` `[n, n]` or `[n]` as in `linear_stationary_density`;
    `x`: points `[..., n]`.

    **Returns:** $J$ at each point, shape `x.shape`.

    **Example:**

    ```python
    J = jn.thermo.linear_stationary_current(A, jnp.array([4.0, 1.0]), g)   # [m, m, 2]
    ```

    Reference: Risken, *The Fokker–Planck Equation* (Springer, 1989), section 6.2.
    """
    A, D = _check_linear(A, D)
    x = _points(x, A.shape[0]).astype(A.dtype)
    C = linear_stationary_covariance(A, D)
    G = -A + D @ jnp.linalg.inv(C)
    return jnp.einsum("ij,...j->...i", G, x) * linear_stationary_density(A, D, x)[..., None]


def linear_current_circulation(
    A: Float[ArrayLike, "n n"], D: Float[ArrayLike, "n n"] | Float[ArrayLike, " n"]
) -> Float[Array, "n n"]:
    r"""Circulation of the stationary current of a linear system in each coordinate plane.

    $$L_{ij} = \int (x_i J_j - x_j J_i)\,dx = (G C)_{ji} - (G C)_{ij}, \qquad
    G = -A + D C^{-1},$$

    the mean "probability angular momentum" in the $(x_i, x_j)$ plane (positive:
    anticlockwise from $x_i$ towards $x_j$). Antisymmetric; zero at detailed balance.

    **Arguments:** `A` `[n, n]`, `D` `[n, n]` or `[n]` (see `linear_stationary_density`).

    **Returns:** $L$, `[n, n]`.

    **Example:**

    ```python
    A = jnp.array([[2.0, -1.0], [-1.0, 2.0]])          # two-temperature pair, k = lam = 1
    jn.thermo.linear_current_circulation(A, jnp.array([4.0, 1.0]))[0, 1]
    ```

    Reference: Weiss, Phys. Rev. E 76, 061128 (2007); Li et al., Nat. Commun. 10, 1666 (2019).
    """
    A, D = _check_linear(A, D)
    C = linear_stationary_covariance(A, D)
    GC = -A @ C + D
    return GC.T - GC


def linear_euler_maruyama_stationary(
    A: Float[ArrayLike, "n n"],
    D: Float[ArrayLike, " n"],
    dt: float | Float[ArrayLike, ""],
    mobility: Float[ArrayLike, "..."] = 1.0,
) -> dict[str, Array]:
    r"""Exact stationary values of the Euler–Maruyama chain of a linear system, at step `dt`.

    Euler–Maruyama turns $dx = -Ax\,dt + \sqrt{2D}\,dW$ into the linear recursion
    $x' = M x + \sqrt{2 D\,dt}\,\xi$, $M = 1 - A\,dt$, whose stationary covariance solves
    the discrete Lyapunov equation $C_{dt} = M C_{dt} M^\top + 2 D\,dt$. The heat released
    into bath $i$ per unit time, measured with the midpoint (Stratonovich) rule as
    `jaxneq.observables.Heat` does, $\dot q_i = \langle F_i(\bar x)\,\Delta x_i\rangle/dt$
    with $F = -\mathrm{diag}(\mu)^{-1} A x$ and $\bar x = (x + x')/2$, is then exactly

    $$\dot q_i = -\frac{\bigl[(M C_{dt} - C_{dt} M^\top) A^\top\bigr]_{ii}}{2\,\mu_i\,dt},$$

    and the entropy production measured by `jaxneq.observables.EntropyProduction` is
    $\sigma_{dt} = \sum_i \dot q_i / T_i$ with $T_i = D_{ii}/\mu_i$. These are what a
    simulation at step `dt` converges to as the ensemble grows; their difference from
    `linear_stationary_covariance`, `linear_heat_rates` and
    `linear_entropy_production_rate` (the $dt \to 0$ values) is the time-step bias, $O(dt)$.

    **Arguments:**

    - `A`: drift matrix `[n, n]` ($-A$ stable and $\|1 - A\,dt\| < 1$, i.e. `dt` small
      enough for the chain to have a stationary state).
    - `D`: the diagonal `[n]` of the diffusion matrix, $D_{ii} = \mu_i T_i$.
    - `dt`: the time step (> 0).
    - `mobility`: $\mu$, scalar or `[n]`.

    **Returns:** a dict with `"covariance"` $C_{dt}$ `[n, n]`, `"heat_rates"` $\dot q$ `[n]`
    and `"entropy_production_rate"` $\sigma_{dt}$ (scalar).

    **Example:**

    ```python
    A = jnp.array([[2.0, -1.0], [-1.0, 2.0]])
    em = jn.thermo.linear_euler_maruyama_stationary(A, jnp.array([4.0, 1.0]), dt=0.01)
    em["entropy_production_rate"]   # 0.5668..., against 0.5625 for dt -> 0
    ```

    Reference: Leimkuhler and Matthews, *Molecular Dynamics* (Springer, 2015), ch. 7;
    Sekimoto, *Stochastic Energetics* (Springer, 2010).
    """
    D = as_inexact(D, "D")
    if D.ndim != 1:
        raise ValueError(
            f"`D` must be the diagonal [n] of a diagonal diffusion matrix (one bath per degree "
            f"of freedom), got shape {D.shape}"
        )
    A, Dm = _check_linear(A, D)
    dt = as_inexact(dt, "dt").astype(A.dtype)
    if dt.ndim != 0:
        raise ValueError(f"`dt` must be a scalar, got shape {dt.shape}")
    if is_concrete(dt) and not float(dt) > 0:
        raise ValueError(f"`dt` must be > 0, got {float(dt)}")
    n = A.shape[0]
    M = jnp.eye(n, dtype=A.dtype) - A * dt
    # vec(C) = (I - M (x) M)^-1 vec(2 D dt)
    lhs = jnp.eye(n * n, dtype=A.dtype) - jnp.kron(M, M)
    C = jnp.linalg.solve(lhs, (2 * dt * Dm).reshape(-1)).reshape(n, n)
    C = 0.5 * (C + C.T)
    mobility = jnp.broadcast_to(as_inexact(mobility, "mobility").astype(A.dtype), (n,))
    heat = -jnp.diagonal((M @ C - C @ M.T) @ A.T) / (2 * mobility * dt)
    temperature = jnp.diagonal(Dm) / mobility
    return {
        "covariance": C,
        "heat_rates": heat,
        "entropy_production_rate": jnp.sum(heat / temperature),
    }
