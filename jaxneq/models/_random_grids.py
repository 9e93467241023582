r"""Random smooth landscapes on a Fokker–Planck grid's box: rattling's continuous test bed
(units: k_B = 1).

A random system is an overdamped particle in a random smooth potential $U(x)$ and a random
smooth temperature field $T(x) > 0$, optionally pushed by a uniform non-conservative force
(around a periodic axis it drives a steady current). Both landscapes are random Fourier
series on the box $[\mathrm{lower}, \mathrm{upper}]$ of a `jaxneq.fokker_planck.Grid`, so
they are periodic with the box as period (smooth across a periodic axis) and evaluate at any
point, on the grid or along a Langevin trajectory.

In 1D, with $R = \tfrac12\log(\mu T)$ (`jaxneq.rattling.from_diffusion`), the rattling law
$p \propto e^{-\gamma R}$ is exact without potential and drive: $p \propto T^{\alpha - 1}$
for the convention $\alpha$, so $\gamma = 2(1 - \alpha)$. How much a potential and a drive
spoil it is what a typicality sweep over thousands of these systems measures.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._random_chains import _check_value, _finite, _non_negative, _positive


def _wavevectors(d: int, n_modes: int) -> tuple[tuple[int, ...], ...]:
    """The integer wavevectors k != 0 with |k_i| <= n_modes, one of each pair +-k (the
    first non-zero entry positive): a real Fourier basis without repeats."""
    ks = []
    for k in itertools.product(range(-n_modes, n_modes + 1), repeat=d):
        nonzero = [v for v in k if v != 0]
        if nonzero and nonzero[0] > 0:
            ks.append(k)
    return tuple(ks)


class FourierField(eqx.Module):
    r"""A smooth periodic scalar field on a box: a real Fourier series.

    $g(x) = \sum_m a_m \cos\phi_m(x) + b_m \sin\phi_m(x)$ with
    $\phi_m(x) = 2\pi\, k_m \cdot (x - \mathrm{lower}) / L$ and
    $L = \mathrm{upper} - \mathrm{lower}$ per axis: periodic with the box as period.

    The coefficients and the box are array leaves (`grad` reaches them, `vmap` over a batch of
    fields is a sweep); the integer wavevectors are static. Build random ones with
    `random_grid_system`.

    **Arguments:** `cos` ($a$, `[m]`), `sin` ($b$, `[m]`), `wavevectors` (a tuple of `m`
    integer tuples of length `d`), `lower` and `upper` (`[d]`).

    **Example:**

    ```python
    g = jn.models.FourierField(jnp.array([1.0]), jnp.array([0.0]), ((1,),),
                               jnp.array([0.0]), jnp.array([1.0]))
    g(jnp.array([0.5]))   # cos(pi) = -1
    ```
    """

    cos: Float[Array, " m"]
    sin: Float[Array, " m"]
    wavevectors: tuple[tuple[int, ...], ...] = eqx.field(static=True)
    lower: Float[Array, " d"]
    upper: Float[Array, " d"]

    def __check_init__(self):
        m, d = len(self.wavevectors), len(self.wavevectors[0]) if self.wavevectors else 0
        if m == 0 or any(len(k) != d for k in self.wavevectors):
            raise ValueError("`wavevectors` must be a non-empty tuple of equal-length int tuples")
        for name in ("cos", "sin"):
            if jnp.shape(getattr(self, name)) != (m,):
                raise ValueError(
                    f"`{name}` must have shape [{m}] (one coefficient per wavevector), got "
                    f"{jnp.shape(getattr(self, name))}"
                )
        for name in ("lower", "upper"):
            if jnp.shape(getattr(self, name)) != (d,):
                raise ValueError(
                    f"`{name}` must have shape [{d}], got {jnp.shape(getattr(self, name))}"
                )

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        k = jnp.asarray(self.wavevectors, x.dtype)  # [m, d]
        lower, upper = jnp.asarray(self.lower, x.dtype), jnp.asarray(self.upper, x.dtype)
        u = (jnp.reshape(x, (-1,)) - lower) / (upper - lower)
        phase = 2 * jnp.pi * (k @ u)
        return jnp.asarray(self.cos, x.dtype) @ jnp.cos(phase) + jnp.asarray(
            self.sin, x.dtype
        ) @ jnp.sin(phase)


class LogNormalField(eqx.Module):
    r"""A positive field $T(x) = T_0\, e^{g(x)}$ with $g$ a `FourierField`.

    A random temperature (or mobility) landscape.

    **Arguments:** `base` ($T_0 > 0$), `log_field` ($g$, a `FourierField`).
    """

    base: Float[Array, ""]
    log_field: FourierField

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        return jnp.asarray(self.base, x.dtype) * jnp.exp(self.log_field(x))


class UniformForce(eqx.Module):
    r"""The same force $f$ (`[d]`) at every point.

    Around a periodic axis a non-conservative drive with affinity $f_k L_k / T$ per turn;
    along a reflecting axis just a tilt.

    **Arguments:** `value` ($f$, `[d]`).
    """

    value: Float[Array, " d"]

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " d"]:
        return jnp.broadcast_to(jnp.asarray(self.value, x.dtype), x.shape)


def _scalar(x, name: str, what: str, ok) -> Array:
    x = _check_value(x, name, what, ok)
    if x.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {x.shape}; sweep with jax.vmap")
    return x


def random_grid_system(
    key: PRNGKeyArray,
    grid,
    *,
    potential_spread: float | Float[ArrayLike, ""] = 1.0,
    temperature_spread: float | Float[ArrayLike, ""] = 0.5,
    drive: float | Float[ArrayLike, ""] | Float[ArrayLike, " d"] = 0.0,
    temperature: float | Float[ArrayLike, ""] = 1.0,
    n_modes: int = 2,
    convention: str = "ito",
):
    r"""A random overdamped system on a grid's box: smooth random $U$ and $T$, uniform drive.

    $$U(x) = \sigma_U\, g_U(x), \qquad T(x) = T_0\, e^{\sigma_T\, g_T(x)}, \qquad
    F = -\nabla U + f,$$

    with $g_U, g_T$ independent random Fourier series (`FourierField`) over the integer
    wavevectors $0 < |k|_\infty \le$ `n_modes` (one of each $\pm k$), coefficients
    independent normal with variance $1/m$ for $m$ modes, so that each field has mean 0 and
    variance 1 over the box, on average over keys. Periodic with the box as period: smooth
    across periodic axes. With $\sigma_U = 0$ and $f = 0$ the rattling law is exact (in 1D
    $p \propto T^{\alpha-1}$, $\gamma = 2(1-\alpha)$); the potential, and the drive around a
    periodic axis, are what make it approximate.

    The coefficients are `jax.random.normal(key, (2, 2, m))` (potential, temperature) times
    the spreads, so the same key gives the same landscapes' shapes whatever the spreads: a
    sweep over spreads and drives compares like with like.

    **Arguments:**

    - `key`: a JAX PRNG key.
    - `grid`: a `jaxneq.fokker_planck.Grid` (its box sets the period and the dimension $d$).
    - `potential_spread`: $\sigma_U \ge 0$, the potential's typical size in units of
      k_B T (default 1).
    - `temperature_spread`: $\sigma_T \ge 0$, the standard deviation of $\log T$ (default 0.5).
    - `drive`: uniform force $f$, a scalar (along axis 0) or `[d]` (default 0).
    - `temperature`: $T_0 > 0$ (default 1).
    - `n_modes`: the largest wavenumber per axis, a Python int >= 1 (default 2).
    - `convention`: the Langevin convention of the returned system (default `"ito"`).

    **Returns:** a `jaxneq.langevin.Overdamped` whose potential, temperature and force are
    `FourierField`, `LogNormalField` and `UniformForce` modules (array leaves: `grad`
    reaches the spreads, `vmap` over keys is a sweep of systems). Use it with
    `jaxneq.fokker_planck.stationary_density` or `jaxneq.langevin.simulate`.

    **Example:**

    ```python
    grid = jn.fokker_planck.Grid(0.0, 1.0, 128, periodic=True)
    def gamma(key):
        system = jn.models.random_grid_system(key, grid, drive=2.0)
        p = jn.fokker_planck.stationary_density(system, grid)
        D = jax.vmap(system.diffusion_coefficient_at)(grid.centres.reshape(-1, 1))
        R = jn.rattling.from_diffusion(D[:, 0], kind="scalar")
        return jn.rattling.fit_gamma(p, R).gamma
    jax.vmap(gamma)(jax.random.split(jax.random.key(0), 1000))
    ```

    Reference: P. Chvykov et al., Science 371, 90 (2021) (rattling); R. Landauer, Phys. Rev.
    A 12, 636 (1975) (temperature fields).
    """
    from ..langevin import Overdamped

    if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or n_modes < 1:
        raise ValueError(f"`n_modes` must be a Python int >= 1, got {n_modes!r}")
    lower, upper = getattr(grid, "lower", None), getattr(grid, "upper", None)
    if lower is None or upper is None or jnp.ndim(lower) != 1:
        raise ValueError(f"`grid` must be a jaxneq.fokker_planck.Grid, got {type(grid).__name__}")
    d = int(jnp.shape(lower)[0])
    nonneg = "finite and >= 0"
    s_U = _scalar(potential_spread, "potential_spread", nonneg, _non_negative)
    s_T = _scalar(temperature_spread, "temperature_spread", nonneg, _non_negative)
    T0 = _scalar(temperature, "temperature", "finite and > 0", _positive)
    f = _check_value(drive, "drive", "finite", _finite)
    if f.ndim == 0:
        f = jnp.zeros((d,), f.dtype).at[0].set(f)
    if f.shape != (d,):
        raise ValueError(f"`drive` must be a scalar or have shape [{d}], got {f.shape}")
    dtype = jnp.result_type(s_U, s_T, T0, f, lower)
    ks = _wavevectors(d, int(n_modes))
    m = len(ks)
    c = jax.random.normal(key, (2, 2, m), dtype) / np.sqrt(m)
    lower, upper = jnp.asarray(lower, dtype), jnp.asarray(upper, dtype)
    s_U, s_T = s_U.astype(dtype), s_T.astype(dtype)
    g_U = FourierField(s_U * c[0, 0], s_U * c[0, 1], ks, lower, upper)
    g_T = FourierField(s_T * c[1, 0], s_T * c[1, 1], ks, lower, upper)
    return Overdamped(
        potential=g_U,
        force=UniformForce(f.astype(dtype)),
        temperature=LogNormalField(T0.astype(dtype), g_T),
        convention=convention,
    )
