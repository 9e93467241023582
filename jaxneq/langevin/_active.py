r"""Active particles: active Brownian (ABP) and active Ornstein–Uhlenbeck (AOUP) particles.

Units: k_B = 1. Both are `AbstractSystem`s: they describe ONE ensemble member through its
Ito drift and diagonal noise amplitude, and `simulate` integrates them (default
`"euler_maruyama"`; the noise is additive, so `"heun"` also solves the same equation).
Their state carries, besides the positions, the self-propulsion degree of freedom, so the
dynamics are Markovian in `(x, orientation)` or `(x, propulsion)`; `position(state)` gives
the positions.

Positions have any event shape `[..., dim]`: `[2]` for one particle, `[N, 2]` for `N`
interacting particles (pass a `PairEnergy` as the potential). Per-particle parameters
(e.g. one speed per particle) have the event shape without its last axis, `[N]`;
temperatures and mobilities, as for `Overdamped`, broadcast to the event shape (`[N, 1]`
is one value per particle).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, is_concrete
from ._noise import standard_normal
from ._systems import (
    AbstractSystem,
    _as_parameter,
    _check_broadcast,
    _check_callable,
    _check_concrete_positive,
    _ForceMixin,
    _positive_or_error,
    check_forces,
)

__all__ = ["ActiveBrownian", "ActiveBrownianState", "ActiveOU", "ActiveOUState"]


def _constant(value, name: str, allow_zero: bool = False) -> Array:
    """A constant (non-field) parameter: an array, checked finite and > 0 (or >= 0)."""
    if callable(value):
        raise ValueError(
            f"`{name}` must be a scalar or an array (a callable field is not supported for "
            "active particles)"
        )
    value = _as_parameter(value, name)
    if is_concrete(value):
        v = jnp.asarray(value)
        bad = ~jnp.isfinite(v) | ((v < 0) if allow_zero else (v <= 0))
        if bool(jnp.any(bad)):
            rel = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"`{name}` must be finite and {rel} everywhere, got {value}")
    return value


def _nonnegative_or_error(value, name: str):
    return eqx.error_if(
        value, ~(value >= 0) | ~jnp.isfinite(value), f"`{name}` must be finite and >= 0"
    )


def _guard(system, x0, names_event, names_particle, nonnegative=()):
    """Shape checks (trace time) and `eqx.error_if` guards on traced parameters."""
    check_forces(system, x0)
    event = tuple(x0.shape[1:])
    particle = event[:-1]
    for names, shape, what in (
        (names_event, event, ""),
        (names_particle, particle, " (one value per particle: the event shape without dim)"),
    ):
        for name in names:
            value = getattr(system, name)
            _check_broadcast(name, tuple(jnp.shape(value)), shape, what)
            if not is_concrete(value):
                guard = _nonnegative_or_error if name in nonnegative else _positive_or_error
                guarded = guard(value, name)
                system = eqx.tree_at(lambda s, n=name: getattr(s, n), system, guarded)
    return system


def _init_forces(self, potential, force):
    _check_callable(potential, "potential")
    _check_callable(force, "force")
    self.potential = potential
    self.force = force


class _ConstantNoiseMixin(eqx.Module):
    """`temperature_at`/`mobility_at` for constant (scalar or per-dof) parameters."""

    @property
    def multiplicative(self) -> bool:
        """False: the noise amplitudes do not depend on the state (additive noise)."""
        return False

    def temperature_at(self, x: Array) -> Array:
        """Temperature of each degree of freedom of one member, broadcast to `x.shape`."""
        return jnp.broadcast_to(jnp.asarray(self.temperature, x.dtype), x.shape)

    def mobility_at(self, x: Array) -> Array:
        """Mobility of each degree of freedom of one member, broadcast to `x.shape`."""
        return jnp.broadcast_to(jnp.asarray(self.mobility, x.dtype), x.shape)


# --------------------------------------------------------------------------------------
# active Brownian particles


class ActiveBrownianState(eqx.Module):
    """State of active Brownian particles: positions `x` `[..., 2]`, angles `orientation`."""

    x: Array
    orientation: Array


class ActiveBrownian(_ConstantNoiseMixin, _ForceMixin, AbstractSystem):
    r"""Active Brownian particles in 2D (units: k_B = 1).

    $$\mathrm{d}x = [v_0\,\hat e(\theta) + \mu F(x, t)]\,\mathrm{d}t
      + \sqrt{2 D_t}\,\mathrm{d}W, \qquad
      \mathrm{d}\theta = \sqrt{2 D_r}\,\mathrm{d}W_\theta,$$

    with $\hat e(\theta) = (\cos\theta, \sin\theta)$, translational diffusivity
    $D_t = \mu T$, rotational diffusivity $D_r$ and $F = -\nabla U + f$. A free particle
    has the mean squared displacement
    $\langle |\Delta x|^2 \rangle = 4 D_t t + \frac{2 v_0^2}{D_r^2}(D_r t - 1 + e^{-D_r t})$,
    ballistic for $t \ll 1/D_r$ and diffusive with $D_\mathrm{eff} = D_t + v_0^2/(2 D_r)$
    beyond (persistence length $v_0/D_r$).

    The state is `ActiveBrownianState(x, orientation)`: `x` of shape `[..., 2]` (`[2]` one
    particle, `[N, 2]` many), `orientation` the angles $\theta$ of shape `[...]`
    (unwrapped: their increments are rotational diffusion). `init` draws uniform angles.

    **Arguments:**

    - `potential`, `force`: as for `Overdamped` (`U(x)`, `f(x)`, a `TimeDependent` wrapping
      `U(x, t)`/`f(x, t)`, or None); e.g. a `PairEnergy` for interacting particles.
    - `speed`: self-propulsion speed $v_0 \ge 0$, scalar or one per particle `[N]`.
    - `rotational_diffusion`: $D_r > 0$, scalar or one per particle.
    - `temperature`, `mobility`: $T$, $\mu > 0$, scalars or arrays broadcastable to the
      event shape (e.g. `[N, 1]`); $D_t = \mu T$.

    **Example:**

    ```python
    system = jn.langevin.ActiveBrownian(speed=2.0, rotational_diffusion=0.5,
                                        temperature=0.1)
    result = jn.langevin.simulate(system, jnp.zeros((4096, 2)), key=jr.key(0),
                                  dt=1e-2, n_steps=1000)
    result.state.orientation  # [4096]
    ```

    Reference: P. Romanczuk et al., Eur. Phys. J. Spec. Top. 202, 1 (2012); C. Bechinger
    et al., Rev. Mod. Phys. 88, 045006 (2016).
    """

    speed: Any
    rotational_diffusion: Any
    temperature: Any
    mobility: Any

    def __init__(
        self,
        potential: Callable | None = None,
        force: Callable | None = None,
        speed: Float[ArrayLike, "..."] = 1.0,
        rotational_diffusion: Float[ArrayLike, "..."] = 1.0,
        temperature: Float[ArrayLike, "..."] = 1.0,
        mobility: Float[ArrayLike, "..."] = 1.0,
    ):
        _init_forces(self, potential, force)
        self.speed = _constant(speed, "speed", allow_zero=True)
        self.rotational_diffusion = _constant(rotational_diffusion, "rotational_diffusion")
        self.temperature = _constant(temperature, "temperature")
        self.mobility = _constant(mobility, "mobility")

    def __check_init__(self):
        for name in ("temperature", "mobility", "rotational_diffusion"):
            _check_concrete_positive(getattr(self, name), name)

    def init(self, x0: Float[Array, "b ... 2"], *, key: Array) -> ActiveBrownianState:
        """Uniform random orientations in $[0, 2\\pi)$ for the batched positions `x0`."""
        x0 = as_inexact(x0, "x0")
        _check_two_dimensional(x0)
        theta = jr.uniform(key, x0.shape[:-1], x0.dtype, 0.0, 2 * math.pi)
        return ActiveBrownianState(x0, theta)

    def position(self, state: ActiveBrownianState) -> Array:
        return state.x

    def direction(self, orientation: Array) -> Array:
        r"""Unit vectors $\hat e(\theta) = (\cos\theta, \sin\theta)$, shape `[..., 2]`."""
        return jnp.stack([jnp.cos(orientation), jnp.sin(orientation)], axis=-1)

    def drift(self, state: ActiveBrownianState, t: ArrayLike) -> ActiveBrownianState:
        """Drift $v_0 \\hat e(\\theta) + \\mu F$ of the positions; zero for the angles."""
        x, theta = state.x, state.orientation
        v0 = jnp.broadcast_to(jnp.asarray(self.speed, x.dtype), theta.shape)
        dx = v0[..., None] * self.direction(theta) + self.mobility_at(x) * self.total_force(x, t)
        return ActiveBrownianState(dx, jnp.zeros_like(theta))

    def diffusion(self, state: ActiveBrownianState, t: ArrayLike) -> ActiveBrownianState:
        """Noise amplitudes $\\sqrt{2 \\mu T}$ (positions) and $\\sqrt{2 D_r}$ (angles)."""
        del t
        x, theta = state.x, state.orientation
        amp_x = jnp.sqrt(2 * self.mobility_at(x) * self.temperature_at(x))
        d_r = jnp.broadcast_to(jnp.asarray(self.rotational_diffusion, x.dtype), theta.shape)
        return ActiveBrownianState(amp_x, jnp.sqrt(2 * d_r))

    def check(self, x0: Array) -> ActiveBrownian:
        _check_two_dimensional(x0)
        return _guard(
            self,
            x0,
            ("temperature", "mobility"),
            ("speed", "rotational_diffusion"),
            nonnegative=("speed",),
        )


def _check_two_dimensional(x0):
    if x0.ndim < 2 or x0.shape[-1] != 2:
        raise ValueError(
            f"ActiveBrownian is two-dimensional: `x0` must have shape [b, ..., 2] (e.g. [b, 2] "
            f"or [b, N, 2]), got {x0.shape}; use ActiveOU for other dimensions"
        )


# --------------------------------------------------------------------------------------
# active Ornstein–Uhlenbeck particles


class ActiveOUState(eqx.Module):
    """State of active Ornstein–Uhlenbeck particles: positions `x` and self-propulsion.

    `propulsion` is a velocity, of the same shape as `x`.
    """

    x: Array
    propulsion: Array


class ActiveOU(_ConstantNoiseMixin, _ForceMixin, AbstractSystem):
    r"""Active Ornstein–Uhlenbeck particles (AOUP), in any dimension (units: k_B = 1).

    $$\mathrm{d}x = [\mu F(x, t) + u]\,\mathrm{d}t + \sqrt{2 \mu T}\,\mathrm{d}W, \qquad
      \tau\,\mathrm{d}u = -u\,\mathrm{d}t + \sqrt{2 D_a}\,\mathrm{d}W_u ,$$

    so the self-propulsion velocity $u$ is Gaussian coloured noise with
    $\langle u_i(t) u_j(s) \rangle = \delta_{ij} \frac{D_a}{\tau} e^{-|t - s|/\tau}$:
    persistence time $\tau$ and active diffusivity $D_a$ (white-noise limit $\tau \to 0$:
    extra diffusion $D_a$). A free particle, started with stationary $u$, has per dimension
    $\langle \Delta x^2 \rangle = 2 D_t t + 2 D_a [t - \tau(1 - e^{-t/\tau})]$,
    $D_t = \mu T$.

    The state is `ActiveOUState(x, propulsion)`, both of the event shape; `init` draws the
    propulsion from its stationary law $N(0, D_a/\tau)$.

    **Arguments:**

    - `potential`, `force`: as for `Overdamped`.
    - `persistence_time`: $\tau > 0$, scalar or per particle `[N]` (event shape without its
      last axis).
    - `active_diffusion`: $D_a \ge 0$, scalar or per particle.
    - `temperature`, `mobility`: as for `ActiveBrownian` (broadcastable to the event).

    **Example:**

    ```python
    system = jn.langevin.ActiveOU(lambda x: 0.5 * jnp.sum(x**2), persistence_time=1.0,
                                  active_diffusion=1.0)
    result = jn.langevin.simulate(system, jnp.zeros((4096, 1)), key=jr.key(0),
                                  dt=1e-2, n_steps=2000)
    ```

    Reference: É. Fodor et al., Phys. Rev. Lett. 117, 038103 (2016); L. Caprini and
    U. Marini Bettolo Marconi, Soft Matter 17, 4109 (2021).
    """

    persistence_time: Any
    active_diffusion: Any
    temperature: Any
    mobility: Any

    def __init__(
        self,
        potential: Callable | None = None,
        force: Callable | None = None,
        persistence_time: Float[ArrayLike, "..."] = 1.0,
        active_diffusion: Float[ArrayLike, "..."] = 1.0,
        temperature: Float[ArrayLike, "..."] = 1.0,
        mobility: Float[ArrayLike, "..."] = 1.0,
    ):
        _init_forces(self, potential, force)
        self.persistence_time = _constant(persistence_time, "persistence_time")
        self.active_diffusion = _constant(active_diffusion, "active_diffusion", allow_zero=True)
        self.temperature = _constant(temperature, "temperature")
        self.mobility = _constant(mobility, "mobility")

    def __check_init__(self):
        for name in ("temperature", "mobility", "persistence_time"):
            _check_concrete_positive(getattr(self, name), name)

    def _per_particle(self, value, x: Array) -> Array:
        """A per-particle parameter `[...]` as an array broadcastable to `x` `[..., dim]`."""
        return jnp.asarray(value, x.dtype)[..., None]

    def init(self, x0: Float[Array, "b ..."], *, key: Array) -> ActiveOUState:
        """Stationary propulsion $u \\sim N(0, D_a/\\tau)$ for the batched positions `x0`."""
        x0 = as_inexact(x0, "x0")
        if x0.ndim < 2:
            raise ValueError(
                f"`x0` must have shape [b, ..., dim] (e.g. [b, d] or [b, N, d]), got {x0.shape}"
            )
        var = self._per_particle(self.active_diffusion, x0) / self._per_particle(
            self.persistence_time, x0
        )
        return ActiveOUState(x0, jnp.sqrt(var) * standard_normal(key, x0.shape, x0.dtype))

    def position(self, state: ActiveOUState) -> Array:
        return state.x

    def drift(self, state: ActiveOUState, t: ArrayLike) -> ActiveOUState:
        """Drift $\\mu F + u$ of the positions and $-u/\\tau$ of the propulsion."""
        x, u = state.x, state.propulsion
        dx = self.mobility_at(x) * self.total_force(x, t) + u
        du = -u / self._per_particle(self.persistence_time, x)
        return ActiveOUState(dx, du)

    def diffusion(self, state: ActiveOUState, t: ArrayLike) -> ActiveOUState:
        """Noise amplitudes $\\sqrt{2 \\mu T}$ (positions), $\\sqrt{2 D_a}/\\tau$ (propulsion)."""
        del t
        x = state.x
        amp_x = jnp.sqrt(2 * self.mobility_at(x) * self.temperature_at(x))
        tau = self._per_particle(self.persistence_time, x)
        amp_u = jnp.sqrt(2 * self._per_particle(self.active_diffusion, x)) / tau
        return ActiveOUState(amp_x, jnp.broadcast_to(amp_u, x.shape))

    def check(self, x0: Array) -> ActiveOU:
        if x0.ndim < 2:
            raise ValueError(
                f"`x0` must have shape [b, ..., dim] (e.g. [b, d] or [b, N, d]), got {x0.shape}"
            )
        return _guard(
            self,
            x0,
            ("temperature", "mobility"),
            ("persistence_time", "active_diffusion"),
            nonnegative=("active_diffusion",),
        )
