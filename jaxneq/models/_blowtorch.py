r"""The blowtorch: a Gaussian hot spot over a base temperature (units: k_B = 1).

A temperature field for `jaxneq.langevin.Overdamped(temperature=...)`, differentiable in its
centre, width and height, so that the position of the heat can be designed by gradient
descent (Landauer's blowtorch).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, is_concrete


class Blowtorch(eqx.Module):
    r"""A Gaussian hot spot, $T(x) = T_0 + H \exp(-|x - c|^2 / (2 w^2))$, as a callable field.

    $|x - c|^2$ sums over every entry of one member's position (broadcasting `centre` to
    it). All four parameters are array leaves: `jax.grad` reaches them and `jax.vmap` over a
    batch of blowtorches is a sweep. Build it with `jaxneq.models.blowtorch`, which
    validates the ranges.

    **Arguments:** `base` ($T_0 > 0$), `height` ($H > -T_0$, so that $T > 0$ everywhere;
    negative heights make a cold spot), `centre` ($c$, a scalar or an array broadcastable to
    the position), `width` ($w > 0$).

    **Example:**

    ```python
    T = jn.models.Blowtorch(base=1.0, height=2.0, centre=0.5, width=0.2)
    T(jnp.array([0.5]))   # 3.0
    ```
    """

    base: Float[Array, ""]
    height: Float[Array, ""]
    centre: Float[Array, "..."]
    width: Float[Array, ""]

    def __call__(self, x: Float[Array, "..."]) -> Float[Array, ""]:
        dx = x - jnp.asarray(self.centre, x.dtype)
        r2 = jnp.sum(jnp.broadcast_to(dx, jnp.broadcast_shapes(dx.shape, x.shape)) ** 2)
        return self.base + self.height * jnp.exp(-r2 / (2 * self.width**2))


def blowtorch(
    centre: Float[ArrayLike, "..."] = 0.0,
    width: Float[ArrayLike, ""] = 0.2,
    height: Float[ArrayLike, ""] = 1.0,
    base: Float[ArrayLike, ""] = 1.0,
) -> Blowtorch:
    r"""A Gaussian hot spot over a base temperature, $T(x) = T_0 + H e^{-|x-c|^2/(2w^2)}$.

    Pass it as the temperature field of an overdamped system. Differentiable in `centre`,
    `width`, `height` and `base` (they are pytree leaves of the returned `Blowtorch`).
    With the default Ito convention (constant friction) a hot spot pushes probability out
    of the region it heats: in 1D $p \propto T^{-1}\exp(-\int U'/T)$.

    **Arguments:**

    - `centre`: position $c$ of the hot spot, a scalar (every coordinate) or an array
      broadcastable to one member's position.
    - `width`: $w > 0$.
    - `height`: $H > -T_0$ (negative: a cold spot; $T$ stays > 0).
    - `base`: $T_0 > 0$, the temperature far from the spot.

    **Returns:** a `Blowtorch` (an `eqx.Module`, callable `T(x)`).

    Concrete out-of-range values raise a `ValueError`; traced ones are caught where the
    field is used (`Overdamped` checks $T > 0$ at every visited state with `eqx.error_if`).

    **Example:**

    ```python
    system = jn.langevin.Overdamped(lambda x: jnp.sum((x**2 - 1) ** 2),
                                    temperature=jn.models.blowtorch(centre=-1.0, height=3.0))
    grid = jn.fokker_planck.Grid(-2.0, 2.0, 400)
    p = jn.fokker_planck.stationary_density(system, grid)
    ```

    Reference: R. Landauer, J. Stat. Phys. 53, 233 (1988); N. G. van Kampen, IBM J. Res.
    Dev. 32, 107 (1988).
    """
    centre_a = as_inexact(centre, "centre")
    width_a, height_a, base_a = (
        as_inexact(v, n) for v, n in ((width, "width"), (height, "height"), (base, "base"))
    )
    for name, v in (("width", width_a), ("height", height_a), ("base", base_a)):
        if v.ndim != 0:
            raise ValueError(f"`{name}` must be a scalar, got shape {v.shape}")
    checks = (
        ("centre", centre_a, "finite", lambda v: np.isfinite(v)),
        ("width", width_a, "finite and > 0", lambda v: np.isfinite(v) & (v > 0)),
        ("base", base_a, "finite and > 0", lambda v: np.isfinite(v) & (v > 0)),
    )
    for name, v, allowed, ok in checks:
        if is_concrete(v) and not np.all(ok(np.asarray(v))):
            raise ValueError(f"`{name}` must be {allowed}, got {np.asarray(v)}")
    if is_concrete(height_a, base_a):
        h, b = float(height_a), float(base_a)
        if not (np.isfinite(h) and h > -b):
            raise ValueError(
                f"`height` must be finite and > -base = {-b} (so that T > 0 everywhere), got {h}"
            )
    return Blowtorch(base=base_a, height=height_a, centre=centre_a, width=width_a)
