r"""Time-dependent protocols $U(x, \lambda(t))$ for work and free-energy measurements (k_B = 1).

Each factory returns a `jaxneq.langevin.Overdamped` system whose potential is an `eqx.Module`
wrapped in `jaxneq.langevin.TimeDependent`, so it is called as `U(x, t)`, the work
$W = \int \partial_t U\,dt$ is measured by `jaxneq.observables.Work`, and the protocol
parameters (stiffnesses, durations, the values of a piecewise-linear trap position) are pytree
leaves that `jax.grad` reaches through `jaxneq.langevin.simulate`.

- `stiffness_change`: a harmonic trap whose stiffness goes from $k_0$ to $k_1$ over a duration
  ($\Delta F = \tfrac{T}{2}\ln(k_1/k_0)$ per degree of freedom).
- `bit_erasure`: Landauer's erasure of one bit in a double well (lower the barrier, tilt,
  raise the barrier, remove the tilt): $\langle W\rangle \geq T\ln 2$.
- `szilard_engine`: the work-extraction stroke of Szilard's engine after the measurement
  (the erasure protocol run backwards towards the measured well): $\langle W\rangle \geq
  -T\ln 2$, so one engine cycle (extraction plus erasure of the memory) extracts no net work.
- `trap_protocol`: a harmonic trap whose position $\lambda(t)$ is piecewise linear on a time
  grid, differentiable in the values (what an optimiser such as optax tunes), with optional
  jumps at both ends (`boundary_work`).

`jaxneq.models.dragged_trap` (constant speed) is the fifth protocol.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, is_concrete
from ..langevin import Overdamped, TimeDependent
from ._langevin_models import _UNSTABLE, _parameter, _scalar


def _linear_schedule(u):
    return u


class StiffnessRamp(eqx.Module):
    r"""$U(x, t) = \tfrac12 k(t) \sum_i x_i^2$ with $k(t) = k_0 + (k_1 - k_0)\,s(u)$.

    $u = \mathrm{clip}(t/\tau, 0, 1)$ and $s$ the `schedule` (linear by default)."""

    k0: Array
    k1: Array
    duration: Array
    schedule: Callable = eqx.field(static=True, default=_linear_schedule)

    def stiffness(self, t):
        u = jnp.clip(t / self.duration, 0.0, 1.0)
        return self.k0 + (self.k1 - self.k0) * self.schedule(u)

    def __call__(self, x, t):
        return 0.5 * self.stiffness(t) * jnp.sum(x**2)


def stiffness_change(
    k0: Float[ArrayLike, ""] = 1.0,
    k1: Float[ArrayLike, ""] = 2.0,
    duration: Float[ArrayLike, ""] = 1.0,
    temperature=1.0,
    mobility=1.0,
    *,
    schedule: Callable | None = None,
) -> Overdamped:
    r"""Harmonic trap whose stiffness changes from $k_0$ to $k_1$ over `duration`.

    $U(x, t) = \tfrac12 k(t)\sum_i x_i^2$ with $k(t) = k_0 + (k_1 - k_0)\,s(t/\tau)$ for
    $0 \le t \le \tau$ (and $k_0$ before, $k_1$ after); $s(u) = u$ (a linear ramp) unless a
    `schedule` is given. The free-energy change is $\Delta F = \tfrac{T}{2}\ln(k_1/k_0)$ per
    degree of freedom, which `jaxneq.thermo.jarzynski`, `bar` and `mbar` recover from the work
    of an ensemble started in equilibrium, $x_0 \sim \mathcal N(0, T/k_0)$.

    **Arguments:**

    - `k0`, `k1`: initial and final stiffness (> 0).
    - `duration`: $\tau > 0$.
    - `temperature`, `mobility`: as for `Overdamped`.
    - `schedule`: a callable $s(u)$ on $[0, 1]$ with $s(0) = 0$, $s(1) = 1$ (keyword; static,
      so pass a named function, not a closure over traced values).

    **Returns:** an `Overdamped` system with potential `TimeDependent(StiffnessRamp(...))`.

    **Example:**

    ```python
    system = jn.models.stiffness_change(k0=1.0, k1=4.0, duration=2.0)
    res = jn.langevin.simulate(system, x0, key=key, dt=1e-3, n_steps=2000,
                               observables={"w": jn.observables.Work()})
    jn.thermo.jarzynski(res.observables["w"])  # dF = ln(4) / 2 per dof at T = 1
    ```

    Reference: Jarzynski, Phys. Rev. Lett. 78, 2690 (1997).
    """
    ramp = StiffnessRamp(
        _scalar(k0, "k0", "positive", _UNSTABLE),
        _scalar(k1, "k1", "positive", _UNSTABLE),
        _scalar(duration, "duration", "positive"),
        schedule=_linear_schedule if schedule is None else schedule,
    )
    if not callable(ramp.schedule):
        raise ValueError(f"`schedule` must be a callable s(u) on [0, 1], got {schedule!r}")
    return Overdamped(
        TimeDependent(ramp),
        temperature=_parameter(temperature, "temperature", "positive"),
        mobility=_parameter(mobility, "mobility", "positive"),
    )


class ErasureProtocol(eqx.Module):
    r"""$U(x, t) = h\sum_i [x_i^4 - 2 g(t) x_i^2] - f\,e(t)\sum_i x_i$ in four equal stages.

    Forward (erasure): $g$ goes $1 \to 0$ (barrier down), then $e$ goes $0 \to 1$ (tilt on),
    then $g$ goes $0 \to 1$ (barrier up), then $e$ goes $1 \to 0$ (tilt off). Backward
    (`reverse=True`, Szilard extraction): the same stages in reverse order and time.
    At $g = 1$ the wells sit at $\pm 1$ with barrier $h$; at $g = 0$ the potential is the
    single quartic well $h x^4$.
    """

    barrier: Array
    tilt: Array
    duration: Array
    reverse: bool = eqx.field(static=True, default=False)

    def shape(self, t):
        """$(g(t), e(t))$, the barrier factor and the tilt factor."""
        u = jnp.clip(t / self.duration, 0.0, 1.0)
        if self.reverse:
            u = 1.0 - u
        stage = lambda a: jnp.clip(4.0 * u - a, 0.0, 1.0)  # noqa: E731
        g = 1.0 - stage(0.0) + stage(2.0)
        e = stage(1.0) - stage(3.0)
        return g, e

    def __call__(self, x, t):
        g, e = self.shape(t)
        return self.barrier * jnp.sum(x**4 - 2.0 * g * x**2) - self.tilt * e * jnp.sum(x)


def _erasure(duration, barrier, tilt, temperature, mobility, reverse) -> Overdamped:
    protocol = ErasureProtocol(
        _scalar(barrier, "barrier", "positive", " (h <= 0 is no double well)"),
        _scalar(tilt, "tilt", "positive", " (the tilt pushes towards x > 0)"),
        _scalar(duration, "duration", "positive"),
        reverse=reverse,
    )
    return Overdamped(
        TimeDependent(protocol),
        temperature=_parameter(temperature, "temperature", "positive"),
        mobility=_parameter(mobility, "mobility", "positive"),
    )


def bit_erasure(
    duration: Float[ArrayLike, ""] = 10.0,
    barrier: Float[ArrayLike, ""] = 8.0,
    tilt: Float[ArrayLike, ""] = 4.0,
    temperature=1.0,
    mobility=1.0,
) -> Overdamped:
    r"""Landauer erasure of one bit stored in a double well.

    $U(x, t) = h[x^4 - 2g(t)x^2] - f\,e(t)\,x$ (per degree of freedom), in four stages of
    length $\tau/4$: lower the barrier ($g: 1 \to 0$), tilt ($e: 0 \to 1$), raise the barrier
    ($g: 0 \to 1$), remove the tilt ($e: 1 \to 0$). Started in equilibrium in the symmetric
    double well (one bit: left or right well with probability 1/2), the particle ends in the
    right well whatever its start. The initial and final potentials are the same, and
    Landauer's bound is $\langle W\rangle \geq T\ln 2$ for complete erasure (precisely
    $\langle W\rangle \geq T[\ln 2 - H(p_\text{left})]$ with $H$ the binary entropy of the
    final occupation of the left well, which the tilt makes small); the mean work approaches
    it as $\tau$ grows. The bit is metastable: over times comparable with the Kramers time
    $\sim e^{h/T}$ the particle leaks back over the barrier, so keep $\tau$ well below it
    (with $h = 8T$, $f = 4T$: $\langle W\rangle = 0.692 \pm 0.009\,T$ at $\tau = 128$, with 2 %
    of the members back in the left well).

    **Arguments:**

    - `duration`: $\tau > 0$, the total time of the four stages.
    - `barrier`: $h > 0$, the barrier height (in units of $T$ it decides how well the bit is
      stored; $h \gtrsim 8T$ for durations up to ~100).
    - `tilt`: $f > 0$, the force pushing to $x > 0$ during erasure ($e^{-2f/T}$ is roughly the
      error probability).
    - `temperature`, `mobility`: as for `Overdamped`.

    **Returns:** an `Overdamped` system with potential `TimeDependent(ErasureProtocol(...))`.

    **Example:**

    ```python
    system = jn.models.bit_erasure(duration=20.0, barrier=8.0, tilt=4.0)
    ```

    Reference: Landauer, IBM J. Res. Dev. 5, 183 (1961); Bérut et al., Nature 483, 187
    (2012); Jun, Gavrilov and Bechhoefer, Phys. Rev. Lett. 113, 190601 (2014).
    """
    return _erasure(duration, barrier, tilt, temperature, mobility, reverse=False)


def szilard_engine(
    duration: Float[ArrayLike, ""] = 10.0,
    barrier: Float[ArrayLike, ""] = 8.0,
    tilt: Float[ArrayLike, ""] = 4.0,
    temperature=1.0,
    mobility=1.0,
) -> Overdamped:
    r"""The work-extraction stroke of a Szilard engine, after measuring the particle's well.

    The engine: a particle in the double well of `bit_erasure` (barrier up) is measured to be
    in the right well ($x > 0$; the left outcome is the mirror image, $x \to -x$). Knowing
    this, the protocol of `bit_erasure` is run backwards: tilt towards the measured well,
    lower the barrier, remove the tilt, raise the barrier. The particle ends in equilibrium
    over both wells, and the mean work on the particle approaches $-T\ln 2$ (work extracted)
    as $\tau$ grows, never below. Start the ensemble in equilibrium restricted to $x > 0$
    (e.g. $|x|$ of equilibrium samples). Erasing the one-bit memory afterwards costs at
    least $T\ln 2$ (`bit_erasure`), so the full cycle extracts no net work (Landauer,
    Bennett).

    **Arguments:** as for `bit_erasure`.

    **Returns:** an `Overdamped` system with potential
    `TimeDependent(ErasureProtocol(..., reverse=True))`.

    **Example:**

    ```python
    system = jn.models.szilard_engine(duration=20.0)
    ```

    Reference: Szilard, Z. Phys. 53, 840 (1929); Bennett, Int. J. Theor. Phys. 21, 905
    (1982); Parrondo, Horowitz and Sagawa, Nat. Phys. 11, 131 (2015).
    """
    return _erasure(duration, barrier, tilt, temperature, mobility, reverse=True)


def _finite_increasing(x: Array, name: str, increasing: bool) -> Array:
    """Check a 1D grid: finite (and strictly increasing); eager for concrete values, through
    `eqx.error_if` for traced ones (numpy, not jnp, for the eager check: under `jit` a jnp
    operation on a concrete array is staged and cannot be inspected)."""
    rule = f"`{name}` must be finite" + (" and strictly increasing" if increasing else "")
    if is_concrete(x):
        xn = np.asarray(x)
        bad = ~np.isfinite(xn)
        if increasing:
            bad[1:] |= ~(np.diff(xn) > 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{rule}; got {xn[i]} at index {i}")
        return x
    bad = ~jnp.isfinite(x)
    if increasing:
        bad = bad.at[1:].set(bad[1:] | ~(jnp.diff(x) > 0))
    return eqx.error_if(x, bad, rule)


class PiecewiseLinearTrap(eqx.Module):
    r"""$U(x, t) = \tfrac{k}{2}\sum_i (x_i - \lambda(t))^2$, $\lambda$ piecewise linear.

    $\lambda$ is interpolated linearly between `values` at `times`.
    Outside `[times[0], times[-1]]` $\lambda$ holds the end values. `initial` and `final` are
    the trap positions before `times[0]` and after `times[-1]`: jumps there are instantaneous
    and their work is `boundary_work`, not seen by `jaxneq.observables.Work`.
    """

    times: Array
    values: Array
    stiffness: Array
    initial: Array
    final: Array

    def position(self, t):
        return jnp.interp(t, self.times, self.values)

    def __call__(self, x, t):
        return 0.5 * self.stiffness * jnp.sum((x - self.position(t)) ** 2)

    def _energy(self, x, centre):
        return 0.5 * self.stiffness * jnp.sum((x - centre) ** 2, axis=tuple(range(1, x.ndim)))

    def boundary_work(self, x_start: Array, x_end: Array) -> Array:
        r"""Work of the two jumps, per member: $[U(x_0; \lambda_0) - U(x_0; \lambda_\text{initial})]
        + [U(x_\text{end}; \lambda_\text{final}) - U(x_\text{end}; \lambda_n)]$ for batched
        positions `[b, ...]` (the positions at `times[0]` and `times[-1]`)."""
        first = self._energy(x_start, self.values[0]) - self._energy(x_start, self.initial)
        last = self._energy(x_end, self.final) - self._energy(x_end, self.values[-1])
        return first + last


def trap_protocol(
    times: Float[ArrayLike, " n"],
    values: Float[ArrayLike, " n"],
    stiffness: Float[ArrayLike, ""] = 1.0,
    temperature=1.0,
    mobility=1.0,
    *,
    initial: Float[ArrayLike, ""] | None = None,
    final: Float[ArrayLike, ""] | None = None,
) -> Overdamped:
    r"""Harmonic trap whose position $\lambda(t)$ is piecewise linear on a time grid.

    $U(x, t) = \tfrac{k}{2}\sum_i (x_i - \lambda(t))^2$ with $\lambda$ interpolated linearly
    between `values` at `times` (held constant outside). The work done on a trajectory is
    $\int \partial_t U\,dt$ (`jaxneq.observables.Work`) plus, when `initial`/`final` differ
    from the end values, the work of the instantaneous jumps at both ends,
    `system.potential.fn.boundary_work(x_start, x_end)`. Everything is differentiable in
    `values` (and `stiffness`), so the mean work of an ensemble from `simulate` can be
    minimised with `jax.grad` and optax; the optimum for moving the trap is
    `jaxneq.thermo.optimal_trap_protocol`.

    **Arguments:**

    - `times`: `[n]` increasing grid ($n \geq 2$), e.g. `jnp.linspace(0, t_f, n)`.
    - `values`: `[n]` trap positions at `times` (finite).
    - `stiffness`: $k > 0$.
    - `temperature`, `mobility`: as for `Overdamped`.
    - `initial`, `final`: positions before `times[0]` and after `times[-1]` (keyword;
      default the first and last of `values`, no jumps).

    **Returns:** an `Overdamped` system with potential `TimeDependent(PiecewiseLinearTrap(...))`.

    **Example:**

    ```python
    times = jnp.linspace(0.0, 1.0, 11)
    system = jn.models.trap_protocol(times, times, initial=0.0, final=1.0)
    ```

    Reference: Schmiedl and Seifert, Phys. Rev. Lett. 98, 108301 (2007).
    """
    times = as_inexact(times, "times")
    values = as_inexact(values, "values")
    if times.ndim != 1 or times.shape[0] < 2:
        raise ValueError(f"`times` must be a 1D grid [n] with n >= 2, got shape {times.shape}")
    if values.shape != times.shape:
        raise ValueError(
            f"`values` must have the shape of `times` {times.shape} (one trap position per grid "
            f"time), got {values.shape}"
        )
    times = _finite_increasing(times, "times", increasing=True)
    values = _finite_increasing(values, "values", increasing=False)
    initial = values[0] if initial is None else _scalar(initial, "initial")
    final = values[-1] if final is None else _scalar(final, "final")
    trap = PiecewiseLinearTrap(
        times, values, _scalar(stiffness, "stiffness", "positive", _UNSTABLE), initial, final
    )
    return Overdamped(
        TimeDependent(trap),
        temperature=_parameter(temperature, "temperature", "positive"),
        mobility=_parameter(mobility, "mobility", "positive"),
    )
