r"""Integrators: the numerical schemes of `simulate` (units: k_B = 1).

An integrator is an `AbstractIntegrator` (an `eqx.Module`) with two methods,

- `init(system, state, key) -> aux`: the integrator's auxiliary state for the batched initial
  `state` (None for one-step schemes; `simulate` passes `jax.random.fold_in(key, 2**32 - 2)`);
- `step(system, state, aux, t, dt, key) -> (state, aux)`: one step from `t` to `t + dt`,

so a scheme that carries something from one step to the next (Leimkuhler–Matthews carries
the previous step's noise) is as pure as a one-step scheme. The one-step schemes are also
plain functions `step(system, state, t, dt, key) -> state` (`euler_maruyama`, `heun`,
`baoab`, registered in `INTEGRATORS`); `resolve_method` accepts a name, an
`AbstractIntegrator`, or such a plain function (wrapped, with aux None).

A step acts on the BATCHED state (leading axis `b`) and draws its noise in bulk for the whole
ensemble with `standard_normal(key, shape)` (`_noise.py`: threefry, both words of every
block), so that the numbers depend only on the key and the global ensemble shape (never on
chunking or on the number of devices). System methods,
which describe one member, are `jax.vmap`-ed over the ensemble axis.

The methods by name (`simulate(..., method=name)`, registered in `METHODS`), and which
question each one is for:

- `"euler_maruyama"` (`EulerMaruyama`): strong order 1/2, weak order 1; generic (uses
  `drift`/`diffusion`). The default for overdamped and active systems, and the choice for
  general questions: transients, time correlations, multiplicative noise (temperature or
  mobility fields, any convention), time-dependent protocols. Stationary averages carry an
  $O(\mathrm{d}t)$ bias (the OU variance is $T / (k (1 - k\,\mathrm{d}t / 2))$).
- `"heun"` (`Heun`): stochastic Heun (predictor–corrector with the trapezoidal rule for
  drift and noise), two drift evaluations per step. It converges to the STRATONOVICH
  solution of the SDE it is given, so it is fed the system's `stratonovich_drift`
  ($a - \tfrac12 b\,\partial b$): `Overdamped` supplies it for every convention, so
  `"heun"` solves the same equation as `"euler_maruyama"`, also with a temperature or
  mobility field. Use it for Stratonovich questions and for fields. Systems with
  multiplicative noise that do not override `stratonovich_drift` would be solved in the
  Stratonovich sense.
- `"leimkuhler_matthews"` (`LeimkuhlerMatthews`): overdamped systems with ADDITIVE
  (state-independent) noise, $x_{n+1} = x_n + a(x_n, t_n)\,\mathrm{d}t + b
  \sqrt{\mathrm{d}t}\,(\xi_n + \xi_{n+1})/2$. Same cost as Euler–Maruyama, but stationary
  averages are second order in $\mathrm{d}t$ for gradient (equilibrium) dynamics, and the
  OU stationary variance is exact. Use it for STATIONARY AVERAGES (densities, moments)
  with additive noise; not for transients or time correlations (each position carries half
  of the next step's noise). It refuses state-dependent noise and `Underdamped` systems.
- `"baoab"` (`BAOAB`): the BAOAB splitting for `Underdamped` systems (Leimkuhler–Matthews),
  with the O-step at the local temperature; the default for `Underdamped`, second order for
  stationary configurational averages.

Reference: P. E. Kloeden and E. Platen, Numerical Solution of Stochastic Differential
Equations (Springer, 1992); B. Leimkuhler and C. Matthews, Appl. Math. Res. Express 2013,
34 (2013); B. Leimkuhler, C. Matthews and G. Stoltz, IMA J. Numer. Anal. 36, 13 (2016).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, PyTree

from ._noise import standard_normal
from ._systems import AbstractSystem, Underdamped, UnderdampedState

Step = Callable[[AbstractSystem, PyTree, Array, Array, Array], PyTree]


def normal_like(key: Array, tree: PyTree) -> PyTree:
    """Standard normal noise shaped like every leaf of the batched `tree`, drawn in bulk."""
    leaves, treedef = jtu.tree_flatten(tree)
    keys = [key] if len(leaves) == 1 else list(jr.split(key, len(leaves)))
    pairs = zip(keys, leaves, strict=True)
    noise = [standard_normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in pairs]
    return jtu.tree_unflatten(treedef, noise)


def _batched(method, state, t):
    return jax.vmap(method, in_axes=(0, None))(state, t)


def euler_maruyama(system: AbstractSystem, state: PyTree, t: Array, dt: Array, key: Array):
    r"""One Euler–Maruyama step, $s' = s + a\,\mathrm{d}t + b \sqrt{\mathrm{d}t}\,\xi$.

    $a$ is `system.drift` (the Ito-equivalent drift), $b$ is `system.diffusion` and $\xi$ a
    standard normal draw per entry of the state.

    **Arguments:**

    - `system`: the system (any `AbstractSystem`), one member's physics.
    - `state`: the batched state (leading axis `b`, the ensemble), a pytree of arrays.
    - `t`: the time at the start of the step.
    - `dt`: the time step (> 0).
    - `key`: a `jax.random` key for this step's noise.

    **Returns:** the batched state at `t + dt`, same structure as `state`.
    """
    a = _batched(system.drift, state, t)
    b = _batched(system.diffusion, state, t)
    xi = normal_like(key, state)
    sqrt_dt = jnp.sqrt(dt)
    return jtu.tree_map(lambda s, a, b, w: s + a * dt + b * (sqrt_dt * w), state, a, b, xi)


def heun(system: AbstractSystem, state: PyTree, t: Array, dt: Array, key: Array):
    r"""One stochastic Heun step (converges to the Stratonovich solution; see module doc).

    Predictor $\tilde s = s + a(s, t)\,\mathrm{d}t + b(s)\,\Delta W$, then
    $s' = s + \tfrac12 (a(s, t) + a(\tilde s, t + \mathrm{d}t))\,\mathrm{d}t
    + \tfrac12 (b(s) + b(\tilde s))\,\Delta W$, with $a$ = `system.stratonovich_drift`.

    **Arguments:**

    - `system`: the system (any `AbstractSystem`), one member's physics.
    - `state`: the batched state (leading axis `b`, the ensemble), a pytree of arrays.
    - `t`: the time at the start of the step.
    - `dt`: the time step (> 0).
    - `key`: a `jax.random` key for this step's noise.

    **Returns:** the batched state at `t + dt`, same structure as `state`.
    """
    sqrt_dt = jnp.sqrt(dt)
    dw = jtu.tree_map(lambda w: sqrt_dt * w, normal_like(key, state))
    a0 = _batched(system.stratonovich_drift, state, t)
    b0 = _batched(system.diffusion, state, t)
    pred = jtu.tree_map(lambda s, a, b, w: s + a * dt + b * w, state, a0, b0, dw)
    a1 = _batched(system.stratonovich_drift, pred, t + dt)
    b1 = _batched(system.diffusion, pred, t + dt)
    return jtu.tree_map(
        lambda s, a0, a1, b0, b1, w: s + 0.5 * (a0 + a1) * dt + 0.5 * (b0 + b1) * w,
        state,
        a0,
        a1,
        b0,
        b1,
        dw,
    )


def _check_baoab(system) -> None:
    if not isinstance(system, Underdamped):
        raise ValueError(
            f'method="baoab" needs an Underdamped system, got {type(system).__name__}; use '
            'method="euler_maruyama" (or "heun", or "leimkuhler_matthews" for stationary '
            "averages with additive noise) for it"
        )


def baoab(system: Underdamped, state: UnderdampedState, t: Array, dt: Array, key: Array):
    r"""One BAOAB step of underdamped Langevin dynamics.

    B: $v \mathrel{+}= \tfrac{dt}{2} F/m$; A: $x \mathrel{+}= \tfrac{dt}{2} v$;
    O: $v \leftarrow c v + \sqrt{(1 - c^2) T(x)/m}\,\xi$ with $c = e^{-\zeta dt/m}$;
    A; B (force at $t + dt$).

    **Arguments:**

    - `system`: an `Underdamped` system (a `ValueError` otherwise).
    - `state`: the batched `UnderdampedState` (positions `x` and velocities `v`, leading
      axis `b`, the ensemble).
    - `t`: the time at the start of the step.
    - `dt`: the time step (> 0).
    - `key`: a `jax.random` key for this step's noise.

    **Returns:** the batched `UnderdampedState` at `t + dt`.
    """
    _check_baoab(system)
    x, v = state.x, state.v
    dtype = x.dtype
    m = jnp.asarray(system.mass, dtype)
    zeta = jnp.asarray(system.friction, dtype)
    half = 0.5 * dt
    force = lambda y, s: _batched(system.total_force, y, s)
    v = v + half * force(x, t) / m
    x = x + half * v
    c = jnp.exp(-zeta * dt / m)
    T = jax.vmap(system.temperature_at)(x)
    v = c * v + jnp.sqrt((1 - c * c) * T / m) * standard_normal(key, v.shape, dtype)
    x = x + half * v
    v = v + half * force(x, t + dt) / m
    return UnderdampedState(x, v)


INTEGRATORS: dict[str, Step] = {
    "euler_maruyama": euler_maruyama,
    "heun": heun,
    "baoab": baoab,
}
"""The plain step functions of the one-step schemes by name (kept for compatibility; all
integrators, Leimkuhler–Matthews included, are in `METHODS`)."""


# --------------------------------------------------------------------------------------
# the integrator protocol


class AbstractIntegrator(eqx.Module):
    """A numerical scheme for `simulate`: an `init` and a `step` method (module docstring).

    `init(system, state, key) -> aux` and `step(system, state, aux, t, dt, key) -> (state,
    aux)`. `aux` is a pytree of arrays (or None) carried from one step to the next and checkpointed
    with the state; observables never see it. `check(system)` raises a `ValueError` at trace
    time when the scheme does not apply to `system` (default: it applies to every system).
    """

    def check(self, system: AbstractSystem) -> None:
        """Raise `ValueError` when this scheme cannot integrate `system`."""
        del system

    def init(self, system: AbstractSystem, state: PyTree, key: Array) -> PyTree:
        """Auxiliary state for the batched initial `state` (default: None)."""
        del system, state, key
        return None

    @abc.abstractmethod
    def step(
        self, system: AbstractSystem, state: PyTree, aux: PyTree, t: Array, dt: Array, key: Array
    ) -> tuple[PyTree, PyTree]:
        """One step of the batched `state` from `t` to `t + dt`; returns `(state, aux)`."""


class _OneStep(AbstractIntegrator):
    """A one-step scheme given by a plain step function (aux is None)."""

    @abc.abstractmethod
    def _step(self, system, state, t, dt, key):
        """The plain step `(system, state, t, dt, key) -> state`."""

    def step(self, system, state, aux, t, dt, key):
        del aux
        return self._step(system, state, t, dt, key), None


class EulerMaruyama(_OneStep):
    """Euler–Maruyama, `euler_maruyama` as an integrator (see the module docstring)."""

    def _step(self, system, state, t, dt, key):
        return euler_maruyama(system, state, t, dt, key)


class Heun(_OneStep):
    """Stochastic Heun, `heun` as an integrator (see the module docstring)."""

    def _step(self, system, state, t, dt, key):
        return heun(system, state, t, dt, key)


class BAOAB(_OneStep):
    """The BAOAB splitting for `Underdamped` systems, `baoab` as an integrator."""

    def check(self, system):
        _check_baoab(system)

    def _step(self, system, state, t, dt, key):
        return baoab(system, state, t, dt, key)


class StepFunction(_OneStep):
    """A plain step function `step_fn(system, state, t, dt, key) -> state` as an integrator.

    Its aux is None: this is what `resolve_method` makes of a user's step callable.
    """

    step_fn: Callable

    def _step(self, system, state, t, dt, key):
        return self.step_fn(system, state, t, dt, key)


class LeimkuhlerMatthews(AbstractIntegrator):
    r"""The Leimkuhler–Matthews scheme for overdamped dynamics with additive noise.

    $$x_{n+1} = x_n + a(x_n, t_n)\,\mathrm{d}t + b\,\sqrt{\mathrm{d}t}\,
      \frac{\xi_n + \xi_{n+1}}{2}, \qquad \xi_n \sim N(0, 1)\ \text{i.i.d.},$$

    the high-friction limit of BAOAB. Each step draws one fresh normal vector, as
    Euler–Maruyama does, and carries it to the next step (`aux` is $\xi_{n+1}$; `init` draws
    $\xi_0$). It has weak order 1 on trajectories, but for gradient (equilibrium) dynamics
    stationary averages are accurate to $O(\mathrm{d}t^2)$ instead of Euler–Maruyama's
    $O(\mathrm{d}t)$, and for a harmonic trap the stationary variance is exactly $T/k$ at
    every stable `dt` ($k\,\mathrm{d}t < 2$). With non-conservative forces it remains a
    consistent scheme of weak order 1.

    It needs a noise amplitude $b$ that does not depend on the state: an `Overdamped`
    system without a temperature or mobility field, or an active particle
    (`ActiveBrownian`, `ActiveOU`; the second-order property is proven for the overdamped
    gradient case). Other systems declare additive noise with a `multiplicative` attribute
    that is False. `Underdamped` systems use `"baoab"`, of which this is the limit.

    **Example:**

    ```python
    system = jn.models.double_well(barrier=1.0)
    res = jn.langevin.simulate(system, x0, key=key, dt=0.05, n_steps=20_000,
                               method="leimkuhler_matthews",
                               observables={"x2": jn.observables.Mean(lambda x: x**2)})
    ```

    Reference: B. Leimkuhler and C. Matthews, Appl. Math. Res. Express 2013, 34 (2013);
    B. Leimkuhler, C. Matthews and G. Stoltz, IMA J. Numer. Anal. 36, 13 (2016).
    """

    def check(self, system):
        name = type(system).__name__
        if isinstance(system, Underdamped):
            raise ValueError(
                'method="leimkuhler_matthews" is for overdamped dynamics; an Underdamped '
                'system uses method="baoab" (its finite-friction counterpart)'
            )
        multiplicative = getattr(system, "multiplicative", None)
        if multiplicative is None:
            raise ValueError(
                'method="leimkuhler_matthews" needs a system with state-independent (additive) '
                f"noise; {name} does not say whether its noise is additive: give it a "
                '`multiplicative` attribute (False), or use method="euler_maruyama"'
            )
        if multiplicative:
            raise ValueError(
                'method="leimkuhler_matthews" needs state-independent (additive) noise, but '
                f"this {name} has a temperature or mobility field T(x)/mu(x); use "
                'method="euler_maruyama" (or "heun") for multiplicative noise'
            )

    def init(self, system, state, key):
        self.check(system)
        return normal_like(key, state)

    def step(self, system, state, aux, t, dt, key):
        a = _batched(system.drift, state, t)
        b = _batched(system.diffusion, state, t)
        xi = normal_like(key, state)
        half_sqrt_dt = 0.5 * jnp.sqrt(dt)
        new = jtu.tree_map(
            lambda s, a, b, w0, w1: s + a * dt + b * (half_sqrt_dt * (w0 + w1)),
            state,
            a,
            b,
            aux,
            xi,
        )
        return new, xi


METHODS: dict[str, AbstractIntegrator] = {
    "euler_maruyama": EulerMaruyama(),
    "heun": Heun(),
    "leimkuhler_matthews": LeimkuhlerMatthews(),
    "baoab": BAOAB(),
}
"""Integrators by name; `simulate(..., method=name)` looks them up here (`INTEGRATORS` holds
the plain step functions of the one-step schemes)."""


def resolve_method(
    method: str | AbstractIntegrator | Step | None, system: AbstractSystem
) -> AbstractIntegrator:
    """The integrator for `method`, checked against `system`.

    **Arguments:**

    - `method`: a name of `METHODS`, an `AbstractIntegrator`, a plain step callable
      `step(system, state, t, dt, key) -> state` (wrapped in `StepFunction`, aux None), or
      None for `system.default_method`.
    - `system`: the system the scheme will integrate.

    **Returns:** an `AbstractIntegrator`. A `ValueError` is raised if the scheme does not
    apply to `system`, or if `method` is none of the above.
    """
    if method is None:
        method = system.default_method
    if isinstance(method, AbstractIntegrator):
        integrator = method
    elif isinstance(method, str) and method in METHODS:
        integrator = METHODS[method]
    elif callable(method) and not isinstance(method, str):
        integrator = StepFunction(method)
    else:
        raise ValueError(
            f"`method` must be one of {', '.join(map(repr, METHODS))}, an AbstractIntegrator, "
            f"or a step callable step(system, state, t, dt, key) -> state, got {method!r}"
        )
    integrator.check(system)
    return integrator
