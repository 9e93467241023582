r"""Finite-time protocols for a moved harmonic trap: the exact mean work and its minimum.

Units: k_B = 1. An overdamped particle with mobility $\mu$ (friction $\gamma = 1/\mu$) in the
trap $U(x, \lambda) = \tfrac{k}{2}(x - \lambda)^2$ whose centre is moved from $0$ to
$\lambda_f$ in time $t_f$, starting in equilibrium. Because the force is linear, the mean
position obeys the deterministic equation $\dot m = -\mu k (m - \lambda)$ and the mean work
$\langle W\rangle = \int \partial_\lambda U\,\dot\lambda\,dt = -k\int (m - \lambda)\dot\lambda\,dt$
(plus $\tfrac{k}{2}[(m - \lambda_+)^2 - (m - \lambda_-)^2]$ for a jump $\lambda_- \to \lambda_+$)
does not depend on the temperature or on the fluctuations.

- `optimal_trap_protocol`, `optimal_trap_work`: Schmiedl and Seifert's minimum-work protocol,
  linear in time with jumps at both ends.
- `harmonic_trap_mean_work`: the exact mean work of a piecewise-linear protocol (the
  deterministic functional that `optimal_trap_protocol` minimises).

All are pure JAX, work under `jit`, `vmap` and `grad`, in float32 and float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact


def _common(*xs):
    xs = [as_inexact(x, name) for x, name in xs]
    dtype = jnp.result_type(*xs)
    return [x.astype(dtype) for x in xs]


def optimal_trap_protocol(
    t: Float[ArrayLike, "..."],
    final_position: Float[ArrayLike, ""],
    duration: Float[ArrayLike, ""],
    stiffness: Float[ArrayLike, ""] = 1.0,
    mobility: Float[ArrayLike, ""] = 1.0,
) -> Float[Array, "..."]:
    r"""Minimum-work protocol for moving a harmonic trap from $0$ to $\lambda_f$ in time $t_f$.

    $$\lambda^*(t) = \lambda_f\,\frac{1 + \mu k t}{2 + \mu k t_f}\quad (0 < t < t_f),
    \qquad \lambda^*(t) = 0\ (t \le 0), \quad \lambda^*(t) = \lambda_f\ (t \ge t_f):$$

    linear in the interior, with equal jumps $\lambda_f/(2 + \mu k t_f)$ at both ends (the
    particle's mean then moves at the constant speed $\lambda_f \mu k/(2 + \mu k t_f)$).

    **Arguments:**

    - `t`: times (any shape).
    - `final_position`: $\lambda_f$. `duration`: $t_f > 0$.
    - `stiffness`: $k > 0$. `mobility`: $\mu = 1/\gamma > 0$.

    **Returns:** $\lambda^*(t)$, the shape of `t`.

    **Example:**

    ```python
    lam = jn.thermo.optimal_trap_protocol(jnp.linspace(0, 1, 11), 1.0, 1.0)
    ```

    Reference: Schmiedl and Seifert, Phys. Rev. Lett. 98, 108301 (2007), Eq. (8).
    """
    t, lf, tf, k, mu = _common(
        (t, "t"),
        (final_position, "final_position"),
        (duration, "duration"),
        (stiffness, "stiffness"),
        (mobility, "mobility"),
    )
    inner = lf * (1 + mu * k * t) / (2 + mu * k * tf)
    return jnp.where(t <= 0, jnp.zeros_like(inner), jnp.where(t >= tf, lf, inner))


def optimal_trap_work(
    final_position: Float[ArrayLike, ""],
    duration: Float[ArrayLike, ""],
    stiffness: Float[ArrayLike, ""] = 1.0,
    mobility: Float[ArrayLike, ""] = 1.0,
) -> Float[Array, ""]:
    r"""Minimal mean work to move a harmonic trap from $0$ to $\lambda_f$ in time $t_f$.

    $$W^* = \frac{\lambda_f^2}{\mu\,(t_f + 2/(\mu k))} = \frac{k\lambda_f^2}{2 + \mu k t_f},$$

    between the instantaneous jump $k\lambda_f^2/2$ ($t_f \to 0$) and the quasistatic limit
    $\lambda_f^2/(\mu t_f) \to 0$ (the work of the linear protocol at constant speed for
    long times). $\Delta F = 0$, so all of it is dissipated.

    **Arguments:** `final_position` $\lambda_f$, `duration` $t_f > 0$, `stiffness` $k > 0$,
    `mobility` $\mu > 0$.

    **Returns:** $W^*$, a scalar.

    **Example:**

    ```python
    jn.thermo.optimal_trap_work(1.0, 1.0)  # 1/3
    ```

    Reference: Schmiedl and Seifert, Phys. Rev. Lett. 98, 108301 (2007), Eq. (9).
    """
    lf, tf, k, mu = _common(
        (final_position, "final_position"),
        (duration, "duration"),
        (stiffness, "stiffness"),
        (mobility, "mobility"),
    )
    return k * lf**2 / (2 + mu * k * tf)


def harmonic_trap_mean_work(
    times: Float[ArrayLike, " n"],
    values: Float[ArrayLike, " n"],
    stiffness: Float[ArrayLike, ""] = 1.0,
    mobility: Float[ArrayLike, ""] = 1.0,
    *,
    initial: Float[ArrayLike, ""] | None = None,
    final: Float[ArrayLike, ""] | None = None,
) -> Float[Array, ""]:
    r"""Exact mean work of a piecewise-linear trap protocol, from equilibrium at `initial`.

    The protocol of `jaxneq.models.trap_protocol`: the trap sits at `initial` until
    `times[0]`, jumps to `values[0]`, moves linearly between `values` at `times`, and jumps to
    `final` at `times[-1]`. With $e = m - \lambda$ (mean lag) and $c = \mu k$, on a segment of
    length $h$ and slope $s$: $e(h) = -s/c + (e_0 + s/c)e^{-ch}$ and the work is
    $-k s\int_0^h e\,dt$; a jump $\lambda_- \to \lambda_+$ adds $\tfrac{k}{2}[(e - \Delta)^2 -
    e^2]$, $\Delta = \lambda_+ - \lambda_-$. Exact (no time step), per degree of freedom, for
    any temperature.

    **Arguments:**

    - `times`, `values`: `[n]`, as for `jaxneq.models.trap_protocol`.
    - `stiffness`: $k$. `mobility`: $\mu$.
    - `initial`, `final`: the trap position before and after the grid (keyword; default the
      end values, no jumps).

    **Returns:** $\langle W\rangle$, a scalar.

    **Example:**

    ```python
    times = jnp.linspace(0.0, 1.0, 11)
    interior = (1 + times) / 3  # the optimum's interior for k = mu = 1, lf = tf = 1
    jn.thermo.harmonic_trap_mean_work(times, interior, initial=0.0, final=1.0)  # 1/3
    ```

    Reference: Schmiedl and Seifert, Phys. Rev. Lett. 98, 108301 (2007).
    """
    times, values, k, mu = _common(
        (times, "times"), (values, "values"), (stiffness, "stiffness"), (mobility, "mobility")
    )
    if times.ndim != 1 or times.shape[0] < 2 or values.shape != times.shape:
        raise ValueError(
            f"`times` and `values` must be 1D arrays of the same length n >= 2, got shapes "
            f"{times.shape} and {values.shape}"
        )
    initial = values[0] if initial is None else as_inexact(initial, "initial").astype(k.dtype)
    final = values[-1] if final is None else as_inexact(final, "final").astype(k.dtype)
    c = mu * k

    def jump(e, delta):
        return e - delta, 0.5 * k * ((e - delta) ** 2 - e**2)

    e, work = jump(jnp.zeros_like(k), values[0] - initial)
    h = jnp.diff(times)
    s = jnp.diff(values) / h

    def segment(e0, hs):
        h, s = hs
        decay = -jnp.expm1(-c * h)  # 1 - exp(-c h)
        a = e0 + s / c
        integral = -s * h / c + a * decay / c
        return -s / c + a * (1 - decay), -k * s * integral

    e, works = jax.lax.scan(segment, e, (h, s))
    e, last = jump(e, final - values[-1])
    return work + jnp.sum(works) + last
