r"""Canonical overdamped Langevin models (units: k_B = 1).

Each factory returns a `jaxneq.langevin.Overdamped` system whose potential is a small
`eqx.Module`, so the physical parameters (stiffnesses, temperatures, speeds) are pytree
leaves: `jax.grad` reaches them and `jax.vmap` over them is a parameter sweep.

The linear models (`ornstein_uhlenbeck`, `two_temperature_pair`, `bead_chain`) have exact
Gaussian steady states: `linear_coefficients(system, x)` gives their drift and diffusion
matrices, for `linear_stationary_covariance` and `linear_entropy_production_rate`.

Every factory checks the documented range of its parameters: concrete values raise a
`ValueError` naming the argument and the allowed range at construction; traced values
(under `jit`, `vmap`, `grad`) are guarded with `eqx.error_if`, which fires when the system
is built inside the transformation.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, first_bad_index, is_concrete
from ..langevin import Overdamped, TimeDependent


def _check_dim(dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"`dim` must be a positive int (spatial dimensions), got {dim!r}")
    return dim


_RANGES = {"positive": "finite and > 0", "nonnegative": "finite and >= 0", "finite": "finite"}


def _in_range(value, name: str, allowed: str, hint: str = "") -> Array:
    """`value` as an inexact array, checked to lie in `allowed` (a key of `_RANGES`).

    Concrete values raise a `ValueError` naming `name`, the first bad entry (its value and
    its index into `value`, e.g. `(1,)` for the second entry of a per-dof array) and the range;
    traced values get an `eqx.error_if` guard with the same message (without the entry).
    """
    value = as_inexact(value, name)
    if allowed == "positive":
        bad = lambda v, xp=jnp: ~(v > 0) | ~xp.isfinite(v)
    elif allowed == "nonnegative":
        bad = lambda v, xp=jnp: ~(v >= 0) | ~xp.isfinite(v)
    else:
        bad = lambda v, xp=jnp: ~xp.isfinite(v)
    rule = f"`{name}` must be {_RANGES[allowed]}{hint}"
    if is_concrete(value):  # on the host: jnp ops would be staged inside a jit trace
        host = np.asarray(value)
        with np.errstate(invalid="ignore"):
            mask = np.asarray(bad(host, np))
        if mask.any():
            where = "" if value.ndim == 0 else f" at entry {first_bad_index(mask)} of `{name}`"
            got = host[first_bad_index(mask)] if value.ndim else host
            raise ValueError(f"{rule}; got {got}{where}")
        return value
    return eqx.error_if(value, bad(value), rule)


def _parameter(value, name: str, allowed: str, hint: str = "") -> Any:
    """Like `_in_range`, but a callable field (a temperature or mobility field `T(x)`) is
    passed through: `Overdamped` checks its values where it is evaluated."""
    if callable(value):
        return value
    return _in_range(value, name, allowed, hint)


def _scalar(value, name, allowed: str = "finite", hint: str = "") -> Array:
    value = as_inexact(value, name)
    if value.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {value.shape}")
    return _in_range(value, name, allowed, hint)


class HarmonicPotential(eqx.Module):
    r"""$U(x) = \tfrac12 \sum_i k_i x_i^2$ with `stiffness` $k$ broadcast to the event shape."""

    stiffness: Array

    def __call__(self, x):
        return 0.5 * jnp.sum(self.stiffness * x**2)


class PairPotential(eqx.Module):
    r"""Two particles `x[0]`, `x[1]` (`x` is `[2, dim]`): spring $k$ between them, trap $\lambda$.

    $U = \tfrac{k}{2} |r_1 - r_2|^2 + \tfrac{\lambda}{2}(|r_1|^2 + |r_2|^2)$.
    """

    k: Array
    lam: Array

    def __call__(self, x):
        return 0.5 * self.k * jnp.sum((x[0] - x[1]) ** 2) + 0.5 * self.lam * jnp.sum(x**2)


class ChainPotential(eqx.Module):
    r"""Beads `x[i]` (`x` is `[N, dim]`): springs $k$ between neighbours, a trap $\lambda$ on each.

    $U = \tfrac{k}{2} \sum_{i=1}^{N-1} |r_{i+1} - r_i|^2 + \tfrac{\lambda}{2} \sum_i |r_i|^2$.
    """

    k: Array
    lam: Array

    def __call__(self, x):
        return 0.5 * self.k * jnp.sum(jnp.diff(x, axis=0) ** 2) + 0.5 * self.lam * jnp.sum(x**2)


class QuarticDoubleWell(eqx.Module):
    r"""$U(x) = h \sum_i (x_i^2 - 1)^2 - f \sum_i x_i$: a double well per degree of freedom."""

    barrier: Array
    tilt: Array

    def __call__(self, x):
        return self.barrier * jnp.sum((x**2 - 1) ** 2) - self.tilt * jnp.sum(x)


class DraggedHarmonicTrap(eqx.Module):
    r"""$U(x, t) = \tfrac{k}{2} \sum_i (x_i - c_i - v_i t)^2$, a trap moving at velocity $v$.

    Called as `U(x, t)`: give it to a system wrapped in `jaxneq.langevin.TimeDependent`
    (as `dragged_trap` does)."""

    stiffness: Array
    speed: Array
    start: Array

    def __call__(self, x, t):
        centre = self.start + self.speed * t
        return 0.5 * jnp.sum(self.stiffness * (x - centre) ** 2)


_NO_TRAP = " (without a trap, lam <= 0, the particles have no steady state)"
_UNSTABLE = " (a trap with stiffness <= 0 has no steady state: the process is unstable)"


def ornstein_uhlenbeck(
    stiffness: Float[ArrayLike, "..."] = 1.0,
    temperature: Float[ArrayLike, "..."] = 1.0,
    mobility: Float[ArrayLike, "..."] = 1.0,
) -> Overdamped:
    r"""Ornstein–Uhlenbeck process: overdamped particle(s) in a harmonic trap.

    $dx_i = -\mu_i k_i x_i\,dt + \sqrt{2 \mu_i T_i}\,dW_i$, with $U = \tfrac12\sum_i k_i x_i^2$.
    Each degree of freedom is independent; the stationary density is Gaussian with variance
    $T_i / k_i$ and the dynamics obey detailed balance.

    **Arguments:**

    - `stiffness`: $k$, scalar or an array broadcastable to the event shape; > 0.
    - `temperature`, `mobility`: as for `Overdamped` (scalar or per-dof array).

    **Returns:** an `Overdamped` system (use any event shape, e.g. `x0` of shape `[b, d]`).

    **Example:**

    ```python
    system = jn.models.ornstein_uhlenbeck(stiffness=2.0, temperature=0.5)
    ```

    Reference: Uhlenbeck and Ornstein, Phys. Rev. 36, 823 (1930).
    """
    return Overdamped(
        HarmonicPotential(_in_range(stiffness, "stiffness", "positive", _UNSTABLE)),
        temperature=_parameter(temperature, "temperature", "positive"),
        mobility=_parameter(mobility, "mobility", "positive"),
    )


def two_temperature_pair(
    k: Float[ArrayLike, ""] = 1.0,
    lam: Float[ArrayLike, ""] = 1.0,
    T1: Float[ArrayLike, ""] = 2.0,
    T2: Float[ArrayLike, ""] = 1.0,
    *,
    dim: int = 1,
    mobility: Float[ArrayLike, "..."] = 1.0,
) -> Overdamped:
    r"""Two overdamped particles, each in its own heat bath, joined by a spring in a trap.

    $$\dot r_1 = \mu[-k (r_1 - r_2) - \lambda r_1] + \sqrt{2\mu T_1}\,\eta_1, \qquad
      \dot r_2 = \mu[-k (r_2 - r_1) - \lambda r_2] + \sqrt{2\mu T_2}\,\eta_2 ,$$

    from $U = \tfrac{k}{2}|r_1 - r_2|^2 + \tfrac{\lambda}{2}(|r_1|^2 + |r_2|^2)$ (each
    particle feels the trap at its own position). For $T_1 \ne T_2$ heat flows from the hot
    to the cold bath through the spring, and with $\mu = 1$ the entropy production rate is
    $\sigma = k^2 (T_1 - T_2)^2 / (2 T_1 T_2 (k + \lambda))$ per spatial dimension (the
    heat current is $k^2 (T_1 - T_2) / (2 (k + \lambda))$).

    **Layout:** one member's position is `[2, dim]`: `x[0]` is particle 1 (temperature
    `T1`), `x[1]` particle 2 (`T2`); so `x0` has shape `[b, 2, dim]` and the flattened
    coordinates of a member are `(r_1, r_2)` for `dim = 1`. The temperature is stored as
    the per-particle array `[[T1], [T2]]`.

    **Arguments:**

    - `k`: spring stiffness between the particles ($\geq 0$).
    - `lam`: stiffness $\lambda$ of the trap on each particle ($> 0$ for a steady state).
    - `T1`, `T2`: the two bath temperatures ($> 0$).
    - `dim`: spatial dimension (keyword).
    - `mobility`: scalar or broadcastable to `[2, dim]` (keyword).

    **Returns:** an `Overdamped` system.

    **Example:**

    ```python
    system = jn.models.two_temperature_pair(k=1.0, lam=1.0, T1=2.0, T2=1.0)
    x0 = jnp.zeros((10_000, 2, 1))
    ```

    Reference: Dotsenko et al., Phys. Rev. E 87, 062130 (2013); Li et al., Nat. Commun. 10,
    1666 (2019).
    """
    _check_dim(dim)
    T1 = _scalar(T1, "T1", "positive")
    T2 = _scalar(T2, "T2", "positive")
    dtype = jnp.result_type(T1.dtype, T2.dtype)
    temperature = jnp.stack([T1.astype(dtype), T2.astype(dtype)]).reshape(2, 1)
    return Overdamped(
        PairPotential(_scalar(k, "k", "nonnegative"), _scalar(lam, "lam", "positive", _NO_TRAP)),
        temperature=temperature,
        mobility=_parameter(mobility, "mobility", "positive"),
    )


def bead_chain(
    temperatures: Float[ArrayLike, " N"],
    k: Float[ArrayLike, ""] = 1.0,
    lam: Float[ArrayLike, ""] = 1.0,
    *,
    dim: int = 1,
    mobility: Float[ArrayLike, "..."] = 1.0,
) -> Overdamped:
    r"""A chain of N overdamped beads, each in its own heat bath (a Rouse chain in a trap).

    $U = \tfrac{k}{2}\sum_{i=1}^{N-1} |r_{i+1} - r_i|^2 + \tfrac{\lambda}{2}\sum_i |r_i|^2$, and
    bead $i$ has temperature $T_i$. With unequal temperatures heat flows along the chain and
    the entropy production rate is `linear_entropy_production_rate` of its
    `linear_coefficients`.

    **Layout:** one member's position is `[N, dim]` (bead, spatial component); temperatures
    are stored per bead as `[N, 1]`.

    **Arguments:**

    - `temperatures`: `[N]` bath temperatures, one per bead ($> 0$, $N \geq 1$).
    - `k`: spring stiffness between neighbours ($\geq 0$); `lam`: trap stiffness on each
      bead ($> 0$).
    - `dim`: spatial dimension (keyword); `mobility`: scalar or broadcastable to `[N, dim]`.

    **Returns:** an `Overdamped` system.

    **Example:**

    ```python
    system = jn.models.bead_chain(jnp.linspace(1.0, 3.0, 5))
    x0 = jnp.zeros((4096, 5, 1))
    ```

    Reference: Goychuk et al., PNAS 120, e2221726120 (2023); Grosberg and Joanny, Phys. Rev.
    E 92, 032118 (2015).
    """
    _check_dim(dim)
    temperatures = as_inexact(temperatures, "temperatures")
    if temperatures.ndim != 1 or temperatures.shape[0] < 1:
        raise ValueError(
            f"`temperatures` must be a 1D array [N] (one bath per bead), got shape "
            f"{temperatures.shape}"
        )
    temperatures = _in_range(temperatures, "temperatures", "positive")
    return Overdamped(
        ChainPotential(_scalar(k, "k", "nonnegative"), _scalar(lam, "lam", "positive", _NO_TRAP)),
        temperature=temperatures[:, None],
        mobility=_parameter(mobility, "mobility", "positive"),
    )


def double_well(
    barrier: Float[ArrayLike, ""] = 1.0,
    tilt: Float[ArrayLike, ""] = 0.0,
    temperature=1.0,
    mobility=1.0,
    *,
    convention: str = "ito",
) -> Overdamped:
    r"""Overdamped particle in a quartic double well, $U = h\sum_i (x_i^2 - 1)^2 - f\sum_i x_i$.

    Every degree of freedom sits in its own double well with minima near $\pm 1$ and a
    barrier of height $h$ at $x_i = 0$ (for `tilt` $f = 0$). Typical use: `x0` of shape
    `[b, 1]`. At uniform temperature the stationary density is $\propto e^{-U/T}$.

    **Arguments:**

    - `barrier`: $h > 0$, the barrier height.
    - `tilt`: $f$ (finite), a constant force tilting the wells.
    - `temperature`, `mobility`: as for `Overdamped` (a callable field is allowed).
    - `convention`: as for `Overdamped` (keyword).

    **Returns:** an `Overdamped` system.

    **Example:**

    ```python
    system = jn.models.double_well(barrier=2.0, temperature=0.5)
    ```

    Reference: Kramers, Physica 7, 284 (1940).
    """
    return Overdamped(
        QuarticDoubleWell(
            _scalar(barrier, "barrier", "positive", " (h <= 0 is no double well)"),
            _scalar(tilt, "tilt"),
        ),
        temperature=_parameter(temperature, "temperature", "positive"),
        mobility=_parameter(mobility, "mobility", "positive"),
        convention=convention,
    )


def dragged_trap(
    stiffness: Float[ArrayLike, "..."] = 1.0,
    speed: Float[ArrayLike, "..."] = 1.0,
    temperature=1.0,
    mobility=1.0,
    *,
    start: Float[ArrayLike, "..."] = 0.0,
) -> Overdamped:
    r"""Overdamped particle in a harmonic trap dragged at constant velocity.

    $U(x, t) = \tfrac{k}{2}\sum_i (x_i - c_i - v_i t)^2$. In the steady state the particle
    lags the trap by $v/(\mu k)$ and the mean work rate (all dissipated as heat) is
    $\dot W = v^2/\mu$ per moving degree of freedom; the free energy does not change, so
    Jarzynski's equality reads $\langle e^{-W/T}\rangle = 1$ from equilibrium at $t = 0$.

    **Arguments:**

    - `stiffness`: $k > 0$ (scalar or broadcastable to the event).
    - `speed`: $v$, finite (scalar or per-dof array).
    - `temperature`, `mobility`: as for `Overdamped`.
    - `start`: the trap centre $c$ at $t = 0$, finite (keyword).

    **Returns:** an `Overdamped` system whose potential is
    `TimeDependent(DraggedHarmonicTrap(...))`.

    **Example:**

    ```python
    system = jn.models.dragged_trap(stiffness=1.0, speed=0.5)
    obs = {"w": jn.observables.Work(burn_in=500, rate=True)}
    ```

    Reference: Mazonka and Jarzynski, arXiv:cond-mat/9912121 (1999); van Zon and Cohen,
    Phys. Rev. Lett. 91, 110601 (2003).
    """
    trap = DraggedHarmonicTrap(
        _in_range(stiffness, "stiffness", "positive", _UNSTABLE),
        _in_range(speed, "speed", "finite"),
        _in_range(start, "start", "finite"),
    )
    return Overdamped(
        TimeDependent(trap),
        temperature=_parameter(temperature, "temperature", "positive"),
        mobility=_parameter(mobility, "mobility", "positive"),
    )


class CosinePotential(eqx.Module):
    r"""$U(x) = \tfrac{h}{2}\sum_i [1 - \cos(2\pi x_i / L)] - f\sum_i x_i$: a periodic
    potential of barrier $h$ and period $L$, tilted by a constant force $f$."""

    barrier: Array
    period: Array
    tilt: Array

    def __call__(self, x):
        wave = 1 - jnp.cos(2 * jnp.pi * x / self.period)
        return 0.5 * self.barrier * jnp.sum(wave) - self.tilt * jnp.sum(x)


class ModulatedTemperature(eqx.Module):
    r"""$T(x) = T_0[1 + a\cos(2\pi x / L - \varphi)]$ elementwise: a periodic temperature
    profile of period $L$, shifted by the phase $\varphi$ against `CosinePotential`."""

    mean: Array
    modulation: Array
    period: Array
    phase: Array

    def __call__(self, x):
        return self.mean * (
            1 + self.modulation * jnp.cos(2 * jnp.pi * x / self.period - self.phase)
        )


def buttiker_landauer_ratchet(
    barrier: Float[ArrayLike, ""] = 2.0,
    temperature: Float[ArrayLike, ""] = 1.0,
    modulation: Float[ArrayLike, ""] = 0.5,
    phase: Float[ArrayLike, ""] = np.pi / 2,
    *,
    period: Float[ArrayLike, ""] = 1.0,
    tilt: Float[ArrayLike, ""] = 0.0,
    mobility: Float[ArrayLike, ""] = 1.0,
    convention: str = "ito",
) -> Overdamped:
    r"""The Büttiker–Landauer ratchet: a periodic potential with a periodic temperature.

    $U(x) = \tfrac{h}{2}[1 - \cos(2\pi x/L)] - f x$ and $T(x) = T_0[1 + a\cos(2\pi x/L -
    \varphi)]$. Neither the potential (no tilt) nor the temperature alone drives a current,
    but together they do when $T$ is not a function of $U$ ($\varphi \ne 0, \pi$): the
    particle climbs the slopes where it is hot more easily than it descends where it is
    cold. With $\varphi = \pi/2$ the uphill slopes towards $+x$ are the hot ones and the
    particle drifts to $+x$; $\varphi \to -\varphi$ reverses the current, and $a = 0$
    stops it. The exact current is `jaxneq.fokker_planck.stationary_state_1d(system, 0, L,
    periodic=True).current` (probability per unit time through any point; the mean
    velocity is $J L$). Use one degree of freedom, `x0` of shape `[b, 1]`.

    **Arguments:**

    - `barrier`: $h > 0$; `temperature`: the mean temperature $T_0 > 0$;
      `modulation`: $a \in [0, 1)$; `phase`: $\varphi$ (finite).
    - `period`: $L > 0$; `tilt`: a constant force $f$ (finite); `mobility`: $\mu > 0$;
      `convention`: as for `Overdamped` (keywords).

    **Returns:** an `Overdamped` system with a `CosinePotential` and a
    `ModulatedTemperature` field.

    **Example:**

    ```python
    system = jn.models.buttiker_landauer_ratchet(barrier=2.0, modulation=0.5)
    res = jn.langevin.simulate(system, jnp.zeros((4096, 1)), key=key, dt=1e-3,
                               n_steps=20_000)
    velocity = res.x.mean() / 20.0
    ```

    Reference: M. Büttiker, Z. Phys. B 68, 161 (1987); R. Landauer, J. Stat. Phys. 53, 233
    (1988); P. Reimann, Phys. Rep. 361, 57 (2002), sec. 6.3.
    """
    period = _scalar(period, "period", "positive")
    modulation = _scalar(modulation, "modulation", "nonnegative")
    if is_concrete(modulation) and not float(modulation) < 1:
        raise ValueError(
            f"`modulation` must be in [0, 1) so that T(x) = T0 [1 + a cos(...)] stays > 0, "
            f"got {float(modulation)}"
        )
    return Overdamped(
        CosinePotential(
            _scalar(barrier, "barrier", "positive"), period, _scalar(tilt, "tilt", "finite")
        ),
        temperature=ModulatedTemperature(
            _scalar(temperature, "temperature", "positive"),
            modulation,
            period,
            _scalar(phase, "phase", "finite"),
        ),
        mobility=_scalar(mobility, "mobility", "positive"),
        convention=convention,
    )
