r"""Langevin systems: data describing the physics, never stepping themselves (units: k_B = 1).

A system answers questions about ONE ensemble member (unbatched): its Ito-equivalent drift
and its diagonal noise amplitude at a state and a time, so that

$$\mathrm{d}s = a(s, t)\,\mathrm{d}t + b(s, t) \odot \mathrm{d}W \qquad \text{(Ito)}.$$

Integrators (`jaxneq.langevin._integrators`) `jax.vmap` these methods over the ensemble
axis. Only `init` works on the batched ensemble (leading axis `b`).

Potentials and forces may be time dependent, and say so explicitly: a plain callable is
always called as `U(x)`; a time-dependent one is wrapped, `TimeDependent(lambda x, t: ...)`,
and called as `U(x, t)`. Nothing is inferred from a callable's signature. A plain callable
that needs a second argument fails when it is first called (at trace time), with a
`ValueError` that says to wrap it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PyTree

from .._util import as_inexact, is_concrete
from ._noise import standard_normal

CONVENTIONS: dict[str, float] = {"ito": 0.0, "stratonovich": 0.5, "isothermal": 1.0}
"""Stochastic-calculus conventions and their alpha (the point in [t, t + dt] where the noise
amplitude is evaluated): Ito 0, Stratonovich 1/2, isothermal (anti-Ito, Hänggi–Klimontovich)
1."""


# --------------------------------------------------------------------------------------
# small helpers


class TimeDependent(eqx.Module):
    r"""Marks a potential or force as time dependent: it is called as `fn(x, t)`.

    A plain callable given as `potential` or `force` is always called as `fn(x)`; wrap a
    function of the position AND the time in `TimeDependent` so that the system passes the
    time too (the time of the step, `t0 + k dt` in `simulate`). The wrapper is a pytree, so
    parameters of an `eqx.Module` `fn` stay visible to `jax.grad` and `jax.vmap`.

    **Arguments:**

    - `fn`: a callable `fn(x, t)` of one member's position `x` and the (scalar) time `t`:
      a potential returns a scalar, a force an array like `x`.

    **Example:**

    ```python
    trap = jn.langevin.TimeDependent(lambda x, t: 0.5 * jnp.sum((x - 0.5 * t) ** 2))
    system = jn.langevin.Overdamped(trap)  # a harmonic trap dragged at speed 0.5
    ```
    """

    fn: Callable

    def __check_init__(self):
        if not callable(self.fn):
            raise ValueError(
                f"`TimeDependent` wraps a callable fn(x, t), got {type(self.fn).__name__}"
            )

    def __call__(self, x: Array, t: ArrayLike) -> Any:
        return self.fn(x, t)


def _check_callable(fn: Any, name: str) -> None:
    if fn is not None and not callable(fn):
        raise ValueError(
            f"`{name}` must be a callable {name}(x), a jaxneq.langevin.TimeDependent wrapping "
            f"{name}(x, t), or None; got {type(fn).__name__}"
        )


def call_field(fn: Callable, name: str, x: Array, t: ArrayLike) -> Any:
    """`fn(x, t)` for a `TimeDependent` `fn`, else `fn(x)`; a plain `fn` that needs more
    arguments raises a `ValueError` (at trace time) saying how to declare the time."""
    if isinstance(fn, TimeDependent):
        return fn(x, t)
    try:
        return fn(x)
    except TypeError as e:
        raise ValueError(
            f"`{name}` raised TypeError when called as {name}(x) with one member's position: "
            f"{e}. A plain callable is always called with the position only; if `{name}` "
            f"depends on the time, wrap it: {name}=jaxneq.langevin.TimeDependent(lambda x, t:"
            " ...), which is called as fn(x, t)."
        ) from e


def check_forces(system: Any, x0: Array) -> None:
    """Trace-time check that `system`'s potential and force can be called on one member of
    `x0` (abstractly, no computation): a plain callable that needs the time raises the
    `ValueError` of `call_field` here, before any step is taken."""
    x = jax.ShapeDtypeStruct(tuple(x0.shape[1:]), x0.dtype)
    t = jax.ShapeDtypeStruct((), x0.dtype)
    for name in ("potential", "force"):
        fn = getattr(system, name, None)
        if fn is not None:
            jax.eval_shape(lambda y, s, fn=fn, name=name: call_field(fn, name, y, s), x, t)


def _as_parameter(value: Any, name: str) -> Any:
    """A physical parameter: a callable field is kept; numbers become (weakly typed) arrays."""
    if callable(value):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return jnp.asarray(float(value))  # weakly typed: does not promote float32 states
    return as_inexact(value, name)


def _field_shape(value: Any, event: tuple[int, ...], dtype) -> tuple[int, ...]:
    if callable(value):
        out = jax.eval_shape(value, jax.ShapeDtypeStruct(event, dtype))
        return tuple(out.shape)
    return tuple(jnp.shape(value))


def _check_broadcast(name: str, shape: tuple[int, ...], event: tuple[int, ...], what: str):
    try:
        ok = jnp.broadcast_shapes(shape, event) == event
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` has shape {shape}{what}, which does not broadcast to the event shape "
            f"{event} of one ensemble member (x0 has shape [b, *event] = [b, "
            f"{', '.join(map(str, event))}]); give a scalar, an array broadcastable to "
            f"{event} (e.g. one value per degree of freedom), or a field x -> value"
        )


def _positive_or_error(value, name: str, hint: str = ""):
    """`value` checked with `eqx.error_if` (for traced values; concrete ones raise earlier)."""
    return eqx.error_if(
        value,
        ~(value > 0) | ~jnp.isfinite(value),
        f"`{name}` must be finite and > 0 everywhere{hint}",
    )


def _check_concrete_positive(value, name: str):
    if callable(value) or not is_concrete(value):
        return
    bad = ~(value > 0) | ~jnp.isfinite(value)
    if bool(jnp.any(bad)):
        raise ValueError(f"`{name}` must be finite and > 0 everywhere, got {value}")


def _diag_grad(fn: Callable, x: Array) -> Array:
    r"""$\partial_i f_i(x)$: the diagonal of the Jacobian of `fn` broadcast to `x.shape`.

    A scalar-valued `fn` costs one gradient; an array-valued one costs a forward Jacobian
    (one JVP per degree of freedom of one member).
    """
    out = jax.eval_shape(fn, x)
    if out.shape == ():
        return jax.grad(lambda y: jnp.asarray(fn(y), x.dtype))(x)
    n = x.size
    full = lambda y: jnp.broadcast_to(fn(y.reshape(x.shape)), x.shape).reshape(n)
    jac = jax.jacfwd(full)(x.reshape(n))
    return jnp.diagonal(jac).reshape(x.shape)


# --------------------------------------------------------------------------------------
# the protocol


class AbstractSystem(eqx.Module):
    """A stochastic system $\\mathrm{d}s = a\\,\\mathrm{d}t + b \\odot \\mathrm{d}W$ (Ito).

    Subclasses implement, for ONE ensemble member (unbatched):

    - `drift(state, t)`: the Ito-equivalent drift $a$, a pytree like `state`;
    - `diffusion(state, t)`: the elementwise noise amplitude $b$, a pytree like `state`;

    and optionally

    - `init(x0, *, key)`: the batched initial state from batched positions (default: `x0`);
    - `position(state)`: positions from a batched or unbatched state (default: the state);
    - `stratonovich_drift(state, t)`: $a - \\tfrac12 b\\,\\partial b$, used by the `"heun"`
      integrator (default: `drift`, exact when the noise is additive);
    - `check(x0)`: trace-time shape checks against the batched `x0`, returning the system with
      `eqx.error_if` guards on traced parameter values (default: no checks).

    and, for the `"leimkuhler_matthews"` integrator, a `multiplicative` attribute: False when
    the noise amplitude does not depend on the state (additive noise).

    `default_method` names the integrator that `simulate` uses when `method=None`.
    """

    default_method: ClassVar[str] = "euler_maruyama"

    def init(self, x0: Array, *, key: Array) -> PyTree:
        """Batched initial state from batched positions `x0` `[b, *event]`."""
        del key
        return x0

    def position(self, state: PyTree) -> Array:
        """Positions of a (batched or unbatched) state."""
        return state

    @abc.abstractmethod
    def drift(self, state: PyTree, t: ArrayLike) -> PyTree:
        """Ito-equivalent drift of one member."""

    @abc.abstractmethod
    def diffusion(self, state: PyTree, t: ArrayLike) -> PyTree:
        """Elementwise noise amplitude of one member."""

    def stratonovich_drift(self, state: PyTree, t: ArrayLike) -> PyTree:
        """Drift of the Stratonovich form of the SDE (default: `drift`, additive noise)."""
        return self.drift(state, t)

    def check(self, x0: Array) -> AbstractSystem:
        """Trace-time checks against the batched `x0`; returns the (guarded) system."""
        del x0
        return self


class _ForceMixin(eqx.Module):
    """Shared potential/force handling (-grad U(x, t) + F(x, t))."""

    potential: Callable | None
    force: Callable | None

    def potential_at(self, x: Array, t: ArrayLike = 0.0) -> Array:
        """Potential energy $U(x, t)$ of one member (zero when no potential was given)."""
        if self.potential is None:
            return jnp.zeros((), x.dtype)
        return call_field(self.potential, "potential", x, t)

    def total_force(self, x: Array, t: ArrayLike = 0.0) -> Array:
        """$F(x, t) = -\\nabla U(x, t) + f(x, t)$ for one member; zero without U and f."""
        total = jnp.zeros_like(x)
        if self.potential is not None:
            total = total - jax.grad(lambda y: self.potential_at(y, t))(x)
        if self.force is not None:
            f = call_field(self.force, "force", x, t)
            total = total + jnp.broadcast_to(jnp.asarray(f, x.dtype), x.shape)
        return total


def _temperature_field(value, x: Array, name: str = "temperature") -> Array:
    if callable(value):
        T = jnp.asarray(value(x), x.dtype)
        T = _positive_or_error(T, name, f" (the field {name}(x) was <= 0 at a visited state)")
        return jnp.broadcast_to(T, x.shape)
    return jnp.broadcast_to(jnp.asarray(value, x.dtype), x.shape)


def _raw_field(value, x: Array) -> Array:
    return jnp.asarray(value(x), x.dtype) if callable(value) else jnp.asarray(value, x.dtype)


# --------------------------------------------------------------------------------------
# overdamped


class Overdamped(_ForceMixin, AbstractSystem):
    r"""Overdamped Langevin dynamics of positions $x$ (units: k_B = 1).

    $$\mathrm{d}x = \mu F\,\mathrm{d}t + \sqrt{2 \mu T(x)} \circ_\alpha \mathrm{d}W.$$

    $F = -\nabla U + f$. The temperature is a scalar, one value per degree of freedom (an
    array broadcastable to the event shape, e.g. `[d]`, or `[N, 1]` for one temperature per
    particle), or a field `T(x)` (a callable of one member's position returning a scalar or
    an array broadcastable to it). The mobility takes the same three forms.

    The convention matters as soon as $D = \mu T$ depends on $x$: the Ito-equivalent drift is
    $\mu F + \alpha\,\partial_i D_i$ with $\alpha$ = 0 (`"ito"`), 1/2 (`"stratonovich"`) or 1
    (`"isothermal"`, also called anti-Ito or Hänggi–Klimontovich); $\partial_i D_i$ comes
    from autodiff, so any differentiable field works. In 1D the stationary density is
    $p \propto T^{\alpha - 1} \exp(-\int U'/T)$ (for constant $\mu$). The default `"ito"` is
    the physical small-mass limit of a particle with constant friction in a temperature field
    (van Kampen; Landauer's blowtorch); `"isothermal"` gives the Boltzmann distribution
    for a position-dependent mobility at uniform temperature.

    Without `potential` and `force` the force is zero: free diffusion.

    **Arguments:**

    - `potential`: `U(x)` returning a scalar for one member, a `TimeDependent` wrapping
      `U(x, t)`, or None.
    - `force`: non-conservative force `f(x)` returning an array like x, a `TimeDependent`
      wrapping `f(x, t)`, or None.
    - `temperature`: scalar, per-dof array, or callable `T(x)`; must be > 0.
    - `mobility`: scalar, per-dof array, or callable `mu(x)`; must be > 0.
    - `convention`: `"ito"` (default), `"stratonovich"` or `"isothermal"` (static).

    **Example:**

    ```python
    system = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2,
                                    temperature=lambda x: 1 + 0.5 * jnp.tanh(x[0]))
    result = jn.langevin.simulate(system, jnp.zeros((1000, 1)), key=jr.key(0),
                                  dt=1e-2, n_steps=10_000)
    ```

    Reference: N. G. van Kampen, IBM J. Res. Dev. 32, 107 (1988); R. Landauer, Phys. Rev. A
    12, 636 (1975); P. Hänggi, Helv. Phys. Acta 51, 202 (1978).
    """

    temperature: Any
    mobility: Any
    convention: str = eqx.field(static=True)

    def __init__(
        self,
        potential: Callable | None = None,
        force: Callable | None = None,
        temperature: ArrayLike | Callable = 1.0,
        mobility: ArrayLike | Callable = 1.0,
        convention: str = "ito",
    ):
        _check_callable(potential, "potential")
        _check_callable(force, "force")
        self.potential = potential
        self.force = force
        self.temperature = _as_parameter(temperature, "temperature")
        self.mobility = _as_parameter(mobility, "mobility")
        self.convention = convention

    def __check_init__(self):
        if not isinstance(self.convention, str) or self.convention not in CONVENTIONS:
            raise ValueError(
                f"`convention` must be one of {', '.join(map(repr, CONVENTIONS))} "
                f"(isothermal is also called anti-Ito or Hänggi–Klimontovich), "
                f"got {self.convention!r}"
            )
        _check_concrete_positive(self.temperature, "temperature")
        _check_concrete_positive(self.mobility, "mobility")

    @property
    def alpha(self) -> float:
        """The convention's alpha: 0 (Ito), 1/2 (Stratonovich), 1 (isothermal)."""
        return CONVENTIONS[self.convention]

    @property
    def multiplicative(self) -> bool:
        """True when the noise amplitude depends on the position (a T or mu field)."""
        return callable(self.temperature) or callable(self.mobility)

    def temperature_at(self, x: Array) -> Array:
        """Temperature of each degree of freedom of one member, broadcast to `x.shape`."""
        return _temperature_field(self.temperature, x)

    def mobility_at(self, x: Array) -> Array:
        """Mobility of each degree of freedom of one member, broadcast to `x.shape`."""
        return _temperature_field(self.mobility, x, "mobility")

    def diffusion_coefficient_at(self, x: Array) -> Array:
        """$D = \\mu T$ of each degree of freedom of one member, broadcast to `x.shape`."""
        return self.mobility_at(x) * self.temperature_at(x)

    def _grad_diffusion_coefficient(self, x: Array) -> Array:
        r"""$\partial_i D_i(x)$ (zero for additive noise)."""
        T, mu = self.temperature, self.mobility
        if callable(T) and callable(mu):
            return _diag_grad(
                lambda y: _raw_field(mu, y) * _temperature_field(T, y).reshape(y.shape), x
            )
        if callable(T):
            return _raw_field(mu, x) * _diag_grad(lambda y: _raw_field(T, y), x)
        if callable(mu):
            return _raw_field(T, x) * _diag_grad(lambda y: _raw_field(mu, y), x)
        return jnp.zeros_like(x)

    def _drift_with(self, x: Array, t: ArrayLike, alpha: float) -> Array:
        a = self.mobility_at(x) * self.total_force(x, t)
        if alpha != 0.0 and self.multiplicative:
            a = a + alpha * self._grad_diffusion_coefficient(x)
        return a

    def drift(self, state: Array, t: ArrayLike) -> Array:
        """Ito-equivalent drift $\\mu F + \\alpha\\,\\partial_i(\\mu_i T_i)$ of one member."""
        return self._drift_with(state, t, self.alpha)

    def stratonovich_drift(self, state: Array, t: ArrayLike) -> Array:
        """Drift of the Stratonovich form: $\\mu F + (\\alpha - 1/2)\\,\\partial_i D_i$."""
        return self._drift_with(state, t, self.alpha - 0.5)

    def diffusion(self, state: Array, t: ArrayLike) -> Array:
        """Noise amplitude $\\sqrt{2 \\mu T}$ of one member."""
        del t
        return jnp.sqrt(2 * self.diffusion_coefficient_at(state))

    def check(self, x0: Array) -> Overdamped:
        check_forces(self, x0)
        event = tuple(x0.shape[1:])
        system = self
        for name in ("temperature", "mobility"):
            value = getattr(self, name)
            what = " (returned by the field)" if callable(value) else ""
            _check_broadcast(name, _field_shape(value, event, x0.dtype), event, what)
            if not callable(value) and not is_concrete(value):
                guarded = _positive_or_error(value, name)
                system = eqx.tree_at(lambda s, n=name: getattr(s, n), system, guarded)
        return system


# --------------------------------------------------------------------------------------
# underdamped


class UnderdampedState(eqx.Module):
    """State of an underdamped member (or ensemble): positions `x` and velocities `v`."""

    x: Array
    v: Array


class Underdamped(_ForceMixin, AbstractSystem):
    r"""Underdamped Langevin dynamics (units: k_B = 1).

    $$\mathrm{d}x = v\,\mathrm{d}t, \qquad
    m\,\mathrm{d}v = (F(x, t) - \zeta v)\,\mathrm{d}t + \sqrt{2 \zeta T(x)}\,\mathrm{d}W$$

    with $F = -\nabla U + f$, mass $m$ and friction coefficient $\zeta$ (force per velocity;
    the overdamped limit has mobility $1/\zeta$, the velocity relaxation rate is $\zeta/m$).
    The noise acts on $v$ with an amplitude depending on $x$ only, so there is no convention
    to choose. The temperature may be a scalar, a per-dof array or a field `T(x)`; mass and
    friction are scalars or per-dof arrays. The default integrator is BAOAB, whose O-step uses
    the local temperature; at uniform temperature it samples the Boltzmann distribution of
    positions with an error of order $\mathrm{d}t^2$. `init` draws Maxwell–Boltzmann
    velocities at the local temperature.

    **Arguments:**

    - `potential`, `force`: as for `Overdamped` (`U(x)`, `f(x)`, a `TimeDependent` wrapping
      `U(x, t)`/`f(x, t)`, or None).
    - `temperature`: scalar, per-dof array, or callable `T(x)`; > 0.
    - `mass`: scalar or per-dof array; > 0.
    - `friction`: friction coefficient $\zeta$, scalar or per-dof array; > 0.

    **Example:**

    ```python
    system = jn.langevin.Underdamped(lambda x: jnp.sum(x**2) / 2, friction=0.5)
    result = jn.langevin.simulate(system, jnp.zeros((1000, 1)), key=jr.key(0),
                                  dt=0.05, n_steps=2000)
    v = result.state.v
    ```

    Reference: B. Leimkuhler and C. Matthews, Appl. Math. Res. Express 2013, 34 (2013).
    """

    temperature: Any
    mass: Array
    friction: Array

    default_method: ClassVar[str] = "baoab"

    def __init__(
        self,
        potential: Callable | None = None,
        force: Callable | None = None,
        temperature: ArrayLike | Callable = 1.0,
        mass: ArrayLike = 1.0,
        friction: ArrayLike = 1.0,
    ):
        _check_callable(potential, "potential")
        _check_callable(force, "force")
        self.potential = potential
        self.force = force
        self.temperature = _as_parameter(temperature, "temperature")
        for name, value in (("mass", mass), ("friction", friction)):
            if callable(value):
                raise ValueError(f"`{name}` must be a scalar or a per-dof array, not a callable")
        self.mass = _as_parameter(mass, "mass")
        self.friction = _as_parameter(friction, "friction")

    def __check_init__(self):
        _check_concrete_positive(self.temperature, "temperature")
        _check_concrete_positive(self.mass, "mass")
        _check_concrete_positive(self.friction, "friction")

    def temperature_at(self, x: Array) -> Array:
        """Temperature of each degree of freedom of one member, broadcast to `x.shape`."""
        return _temperature_field(self.temperature, x)

    def init(self, x0: Array, *, key: Array) -> UnderdampedState:
        """Maxwell–Boltzmann velocities $v \\sim N(0, T(x)/m)$ at the local temperature."""
        T = jax.vmap(self.temperature_at)(x0)
        xi = standard_normal(key, x0.shape, x0.dtype)
        return UnderdampedState(x0, jnp.sqrt(T / jnp.asarray(self.mass, x0.dtype)) * xi)

    def position(self, state: UnderdampedState) -> Array:
        return state.x

    def drift(self, state: UnderdampedState, t: ArrayLike) -> UnderdampedState:
        m = jnp.asarray(self.mass, state.x.dtype)
        zeta = jnp.asarray(self.friction, state.x.dtype)
        accel = (self.total_force(state.x, t) - zeta * state.v) / m
        return UnderdampedState(state.v, accel)

    def diffusion(self, state: UnderdampedState, t: ArrayLike) -> UnderdampedState:
        del t
        x = state.x
        m = jnp.asarray(self.mass, x.dtype)
        zeta = jnp.asarray(self.friction, x.dtype)
        amp = jnp.sqrt(2 * zeta * self.temperature_at(x)) / m
        return UnderdampedState(jnp.zeros_like(x), jnp.broadcast_to(amp, x.shape))

    def check(self, x0: Array) -> Underdamped:
        check_forces(self, x0)
        event = tuple(x0.shape[1:])
        system = self
        for name in ("temperature", "mass", "friction"):
            value = getattr(self, name)
            what = " (returned by the field)" if callable(value) else ""
            _check_broadcast(name, _field_shape(value, event, x0.dtype), event, what)
            if not callable(value) and not is_concrete(value):
                guarded = _positive_or_error(value, name)
                system = eqx.tree_at(lambda s, n=name: getattr(s, n), system, guarded)
        return system
