r"""Two-temperature phenomenology: run-and-chase, ratchet currents, hot/cold demixing.

Units: k_B = 1. Purely repulsive particles coupled to baths at different temperatures show
nonequilibrium effects that no equilibrium system of the same particles can (Grosberg &
Joanny 2015; Weber, Weber & Frey 2016):

- a repulsive hot/cold pair "runs and chases": the hot particle pushes the cold one, and
  while they touch their centre of mass moves along $r_\mathrm{cold} - r_\mathrm{hot}$
  (`hot_cold_pair`, `RunAndChase`, `hot_cold_pair_chase_speed`);
- in an asymmetric periodic potential such a pair carries a ratchet current, which vanishes
  at equal temperatures (`sawtooth_ratchet_pair`);
- many hot and cold repulsive particles demix: the cold ones condense into a dense cluster
  without any attraction (`hot_cold_mixture`, `demixing_order_parameter`).

All factories return `jaxneq.langevin.Overdamped` systems whose parameters are pytree leaves.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from .._util import as_inexact, is_concrete
from ..langevin import AllPairs, Box, CellList, Overdamped, PairEnergy, SoftRepulsion
from ..observables import AbstractObservable

__all__ = [
    "RunAndChase",
    "RunAndChaseResult",
    "SawtoothPotential",
    "demixing_order_parameter",
    "hot_cold_mixture",
    "hot_cold_pair",
    "hot_cold_pair_chase_speed",
    "sawtooth_ratchet_pair",
]


def _scalar(value, name, low=None, high=None, *, closed_low=False) -> Array:
    """A scalar argument, checked against its documented range (low, high) (low included when
    `closed_low`): `ValueError` for a concrete value, `eqx.error_if` for a traced one."""
    value = as_inexact(value, name)
    if value.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {value.shape}")
    if low is None and high is None:
        return value
    parts = []
    if low is not None:
        parts.append(f"{'>=' if closed_low else '>'} {low:g}")
    if high is not None:
        parts.append(f"< {high:g}")
    allowed = f"`{name}` must be finite and {' and '.join(parts)}"
    if is_concrete(value):  # NumPy: the check runs eagerly even inside a jit trace
        v = float(np.asarray(value))
        ok = np.isfinite(v)
        ok &= low is None or (v >= low if closed_low else v > low)
        ok &= high is None or v < high
        if not ok:
            raise ValueError(f"{allowed}, got {v}")
        return value
    bad = ~jnp.isfinite(value)
    if low is not None:
        bad |= (value < low) if closed_low else (value <= low)
    if high is not None:
        bad |= value >= high
    return eqx.error_if(value, bad, allowed)


def _pair_temperatures(T_hot, T_cold) -> Array:
    T_hot = _scalar(T_hot, "T_hot", 0.0)
    T_cold = _scalar(T_cold, "T_cold", 0.0)
    dtype = jnp.result_type(T_hot.dtype, T_cold.dtype)
    return jnp.stack([T_hot.astype(dtype), T_cold.astype(dtype)]).reshape(2, 1)


def _check_box_fits(box_size, sigma, name="box_size") -> None:
    """A concrete box must be at least two interaction ranges wide (minimum image)."""
    if box_size is None or not is_concrete(box_size, sigma):
        return
    box = np.asarray(box_size, dtype=float)
    if np.any(~np.isfinite(box)) or np.any(box < 2 * float(np.asarray(sigma))):
        raise ValueError(
            f"`{name}` must be finite and >= 2 sigma = {2 * float(np.asarray(sigma)):g} (the "
            f"interaction range must fit twice in the periodic box), got {box.tolist()}"
        )


def _box(box_size, dim: int, periodic: bool = True) -> Box:
    if isinstance(box_size, (jax.Array, jax.core.Tracer)):
        size = as_inexact(box_size, "box_size")
        size = jnp.broadcast_to(size, (dim,)) if size.ndim == 0 else size
    else:
        size = np.asarray(box_size, dtype=float)
        size = np.full((dim,), float(size)) if size.ndim == 0 else size
    return Box(size, periodic=periodic)


# --------------------------------------------------------------------------------------
# run and chase


def hot_cold_pair(
    T_hot: Float[ArrayLike, ""] = 2.0,
    T_cold: Float[ArrayLike, ""] = 0.1,
    k: Float[ArrayLike, ""] = 10.0,
    sigma: Float[ArrayLike, ""] = 1.0,
    *,
    dim: int = 2,
    box_size: Float[ArrayLike, "..."] | None = 3.0,
) -> Overdamped:
    r"""A repulsive hot/cold pair: two overdamped particles, each in its own heat bath.

    $\dot r_i = -\nabla_i U(|r_1 - r_2|) + \sqrt{2 T_i}\,\eta_i$ with the soft repulsion
    $U(r) = \tfrac{k}{2}(1 - r/\sigma)^2$ for $r < \sigma$ (unit mobilities). The internal
    forces cancel, so the centre of mass $R$ has no mean drift given the past; but while the
    particles touch, its mean local (Stratonovich) velocity at separation
    $r = r_\mathrm{cold} - r_\mathrm{hot}$ is
    $$v_R(r) = \frac{T_\mathrm{hot} - T_\mathrm{cold}}{T_\mathrm{hot} + T_\mathrm{cold}}\,
      f(r), \qquad f = -\nabla_{r} U,$$
    directed from the hot to the cold particle: the hot particle pushes, the cold one runs
    ("run and chase"). It follows from the exact steady state of the separation,
    $p(r) \propto e^{-2U(r)/(T_\mathrm{hot} + T_\mathrm{cold})}$. Measure it with
    `RunAndChase`; `hot_cold_pair_chase_speed` gives its exact value.

    **Layout:** one member's position is `[2, dim]`: `x[0]` the hot particle, `x[1]` the
    cold one; temperatures are stored as `[[T_hot], [T_cold]]`.

    **Arguments:**

    - `T_hot`, `T_cold`: bath temperatures (> 0).
    - `k`, `sigma`: stiffness (>= 0) and range (> 0) of the soft repulsion.
    - `dim`: spatial dimension (keyword, default 2).
    - `box_size`: side of the periodic box (scalar or `[dim]`, >= 2 `sigma`), or None for
      free space (keyword, default 3.0: the pair keeps meeting).

    **Returns:** an `Overdamped` system.

    **Example:**

    ```python
    system = jn.models.hot_cold_pair(T_hot=2.0, T_cold=0.1)
    x0 = jr.uniform(key, (1000, 2, 2)) * 3.0
    res = jn.langevin.simulate(system, x0, key=key, dt=2e-3, n_steps=10_000,
                               observables={"chase": jn.models.RunAndChase(burn_in=500)})
    res.observables["chase"].speed  # > 0
    ```

    Reference: Grosberg & Joanny, Phys. Rev. E 92, 032118 (2015); J. Metzger, MIT 8.808
    recitation notes (2026), section 3.1.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"`dim` must be a positive int, got {dim!r}")
    k, sigma = _scalar(k, "k", 0.0, closed_low=True), _scalar(sigma, "sigma", 0.0)
    _check_box_fits(box_size, sigma)
    neighbours = AllPairs(None if box_size is None else _box(box_size, dim))
    energy = PairEnergy(SoftRepulsion(k, sigma), neighbours)
    return Overdamped(potential=energy, temperature=_pair_temperatures(T_hot, T_cold))


class RunAndChaseResult(eqx.Module):
    r"""Per-member time averages measured by `RunAndChase`.

    - `velocity`: $\overline{\dot R \circ f}$, the centre-of-mass velocity projected on the
      force $f$ that the hot particle exerts on the cold one, `[b]`;
    - `force`: $\overline{|f|}$, `[b]`; `force_squared`: $\overline{|f|^2}$, `[b]`.

    `speed` $= \langle \dot R \circ f \rangle / \langle |f| \rangle$ (ensemble means): the
    force-weighted centre-of-mass speed along the axis from the hot to the cold particle,
    with its delta-method standard error `stderr`.
    """

    velocity: Array
    force: Array
    force_squared: Array

    @property
    def speed(self) -> Array:
        return jnp.mean(self.velocity) / jnp.mean(self.force)

    @property
    def stderr(self) -> Array:
        n = self.velocity.shape[0]
        a, b = jnp.mean(self.velocity), jnp.mean(self.force)
        resid = self.velocity - (a / b) * self.force
        return jnp.std(resid) / (b * jnp.sqrt(n))


class RunAndChase(AbstractObservable):
    r"""Centre-of-mass velocity of a pair along its interaction force (Stratonovich).

    For a two-particle member `x` `[2, dim]` (`x[0]` hot, `x[1]` cold) of a system whose
    potential is the pair energy, accumulates $\sum \Delta R \cdot \tfrac12(f_k + f_{k+1})$
    (midpoint rule, i.e. the Stratonovich product, since $R$ is a martingale here and only
    its correlation with the motion of the pair axis carries the effect), with
    $R = (x_0 + x_1)/2$ and $f = -\partial U/\partial x_1$ (the force on the cold particle),
    plus $\sum |f|\,\mathrm{d}t$ and $\sum |f|^2\,\mathrm{d}t$ (trapezoidal rule).

    **Arguments:** `burn_in`: steps to discard.

    **Returns** (from `simulate`): a `RunAndChaseResult` (time averages per member, and
    `.speed`, `.stderr`).
    """

    burn_in: int = eqx.field(default=0, static=True)

    def __check_init__(self):
        b = self.burn_in
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 0:
            raise ValueError(f"`burn_in` must be an int >= 0 (a number of steps), got {b!r}")

    def _force(self, system, x, t):
        return jax.vmap(lambda y: system.total_force(y, t)[1])(x)

    def init(self, state, system):
        del system
        b = state.shape[0]
        zero = jnp.zeros((b,), state.dtype)
        return {"n": jnp.zeros((), jnp.int32), "v": zero, "f": zero, "f2": zero}

    def update(self, acc, before, after, system, t, dt):
        x0, x1 = system.position(before), system.position(after)
        if x0.ndim != 3 or x0.shape[1] != 2:
            raise ValueError(
                f"RunAndChase needs a pair: positions [b, 2, dim], got {x0.shape[0:]} per step"
            )
        f0, f1 = self._force(system, x0, t), self._force(system, x1, t + dt)
        dR = 0.5 * (x1[:, 0] + x1[:, 1] - x0[:, 0] - x0[:, 1])
        fm = 0.5 * (f0 + f1)
        n0 = jnp.sqrt(jnp.sum(f0 * f0, -1))
        n1 = jnp.sqrt(jnp.sum(f1 * f1, -1))
        on = (acc["n"] >= self.burn_in).astype(x0.dtype)
        return {
            "n": acc["n"] + 1,
            "v": acc["v"] + on * jnp.sum(dR * fm, -1),
            "f": acc["f"] + on * 0.5 * (n0 + n1) * dt,
            "f2": acc["f2"] + on * 0.5 * (n0 * n0 + n1 * n1) * dt,
        }

    def finalise(self, acc, n_steps, dt):
        duration = (n_steps - self.burn_in) * dt
        return RunAndChaseResult(acc["v"] / duration, acc["f"] / duration, acc["f2"] / duration)


def hot_cold_pair_chase_speed(
    T_hot: Float[ArrayLike, ""],
    T_cold: Float[ArrayLike, ""],
    k: Float[ArrayLike, ""] = 10.0,
    sigma: Float[ArrayLike, ""] = 1.0,
    *,
    dim: int = 2,
    box_size: float = 3.0,
    n_quad: int = 2001,
) -> dict[str, Array]:
    r"""Exact run-and-chase statistics of `hot_cold_pair` in a periodic box.

    The separation obeys $\dot r = -2\nabla U + \sqrt{2(T_h + T_c)}\,\eta$, so its
    stationary law on the torus is $p(r) \propto e^{-2U(|r|)/(T_h + T_c)}$; the centre of
    mass moves with the mean local velocity $v_R = \frac{T_h - T_c}{T_h + T_c} f(r)$.
    Averages over $p$ by quadrature (trapezoidal rule in $|r|$, `n_quad` points).

    **Arguments:** `T_hot`, `T_cold` (> 0), `k` (>= 0), `sigma` (> 0) as in
    `hot_cold_pair`; `dim` (keyword, int >= 1); `box_size` (keyword, the side of the
    periodic box, >= 2 `sigma`); `n_quad` (keyword, int >= 2).

    **Returns:** a dict with `"velocity"` $\langle v_R \cdot f \rangle$, `"force"`
    $\langle |f| \rangle$, `"force_squared"` $\langle |f|^2 \rangle$ and `"speed"`
    $\langle v_R \cdot f \rangle / \langle |f| \rangle$ (the quantities of `RunAndChase`).
    Differentiable in the temperatures, `k` and `sigma`.

    **Example:**

    ```python
    exact = jn.models.hot_cold_pair_chase_speed(2.0, 0.1)
    exact["speed"]   # compare with res.observables["chase"].speed of hot_cold_pair(2.0, 0.1)
    ```

    Reference: Grosberg & Joanny, Phys. Rev. E 92, 032118 (2015).
    """
    T_hot, T_cold = _scalar(T_hot, "T_hot", 0.0), _scalar(T_cold, "T_cold", 0.0)
    k, sigma = _scalar(k, "k", 0.0, closed_low=True), _scalar(sigma, "sigma", 0.0)
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"`dim` must be a positive int, got {dim!r}")
    if isinstance(n_quad, bool) or not isinstance(n_quad, int) or n_quad < 2:
        raise ValueError(f"`n_quad` must be an int >= 2, got {n_quad!r}")
    _check_box_fits(box_size, sigma)
    dtype = jnp.result_type(T_hot, T_cold, k, sigma)
    ts = T_hot + T_cold
    s = jnp.linspace(0.0, 1.0, n_quad, dtype=dtype)
    r = s * sigma
    surface = 2 * math.pi ** (dim / 2) / math.gamma(dim / 2)  # area of the unit sphere
    shell = surface * r ** (dim - 1) if dim > 1 else jnp.full_like(r, 2.0)
    u = 0.5 * k * (1 - s) ** 2
    fmag = k / sigma * (1 - s)
    w = shell * jnp.exp(-2 * u / ts)
    ball = surface * sigma**dim / dim
    norm = jnp.trapezoid(w, r) + jnp.asarray(box_size, dtype) ** dim - ball
    mean_f = jnp.trapezoid(w * fmag, r) / norm
    mean_f2 = jnp.trapezoid(w * fmag**2, r) / norm
    velocity = (T_hot - T_cold) / ts * mean_f2
    return {
        "velocity": velocity,
        "force": mean_f,
        "force_squared": mean_f2,
        "speed": velocity / mean_f,
    }


# --------------------------------------------------------------------------------------
# ratchet


class SawtoothPotential(eqx.Module):
    r"""Periodic sawtooth potential $V(x)$ of height `barrier` and period `period`.

    It is summed over all coordinates of a member: it rises over the fraction `asymmetry` of a
    period and falls over the rest, so for `asymmetry` < 1/2 the steep side faces $-x$ (the
    force is $-V_0/(a\ell)$ on the rising part and $+V_0/((1-a)\ell)$ on the falling part).
    """

    barrier: Array
    period: Array
    asymmetry: Array

    def __call__(self, x):
        s = jnp.mod(x / self.period, 1.0)
        a = self.asymmetry
        v = jnp.where(s < a, s / a, (1 - s) / (1 - a))
        return self.barrier * jnp.sum(v)


class _RatchetPairEnergy(eqx.Module):
    pair: PairEnergy
    substrate: SawtoothPotential

    def __call__(self, x):
        return self.pair(x) + self.substrate(x)


def sawtooth_ratchet_pair(
    T_hot: Float[ArrayLike, ""] = 2.0,
    T_cold: Float[ArrayLike, ""] = 0.1,
    barrier: Float[ArrayLike, ""] = 2.0,
    period: Float[ArrayLike, ""] = 1.0,
    asymmetry: Float[ArrayLike, ""] = 0.2,
    k: Float[ArrayLike, ""] = 20.0,
    sigma: Float[ArrayLike, ""] = 0.5,
    *,
    ring_periods: int | None = 2,
) -> Overdamped:
    r"""A repulsive hot/cold pair in a 1D sawtooth potential: a two-temperature ratchet.

    $\dot x_i = -V'(x_i) - \partial_i U(|x_1 - x_2|) + \sqrt{2 T_i}\,\eta_i$, with the
    sawtooth $V$ (`SawtoothPotential`) and the soft repulsion $U$ of `hot_cold_pair`. At
    equal temperatures the steady state is the Boltzmann distribution and the mean current
    vanishes; with $T_\mathrm{hot} \ne T_\mathrm{cold}$, parity broken by the asymmetric
    sawtooth and time reversal broken by the two baths give a steady current: the hot
    particle kicks the cold one over the barrier, more easily one way than the other (with
    the defaults the current is about $+0.13$ periods per unit time; its sign depends on
    the parameters). The pair interacts on a ring of `ring_periods` periods (minimum image),
    so it keeps meeting; positions are not wrapped, and the current is the mean
    centre-of-mass velocity $(R(t) - R(t_0))/(t - t_0)$ after a burn-in.

    **Layout:** one member's position is `[2, 1]`: `x[0]` hot, `x[1]` cold.

    **Arguments:** temperatures `T_hot`, `T_cold` (> 0); the sawtooth `barrier` height
    (>= 0), `period` (> 0) and `asymmetry` (in (0, 1)); the repulsion `k` (>= 0) and `sigma`
    (> 0, at most half the ring);
    `ring_periods` (keyword): the ring circumference in periods, or None for an infinite
    line (the pair then drifts apart and the current decays).

    **Returns:** an `Overdamped` system.

    **Example:**

    ```python
    system = jn.models.sawtooth_ratchet_pair(T_hot=2.0, T_cold=0.1)
    x0 = jr.uniform(key, (500, 2, 1)) * 2.0
    res = jn.langevin.simulate(system, x0, key=key, dt=2e-3, n_steps=20_000, save_every=5000)
    current = jnp.mean(res.trajectory[-1] - res.trajectory[1]) / 30.0
    ```

    Reference: J. Metzger, MIT 8.808 recitation notes (2026), section 3.2; P. Reimann,
    Phys. Rep. 361, 57 (2002).
    """
    asymmetry = _scalar(asymmetry, "asymmetry", 0.0, 1.0)
    substrate = SawtoothPotential(
        _scalar(barrier, "barrier", 0.0, closed_low=True), _scalar(period, "period", 0.0), asymmetry
    )
    k, sigma = _scalar(k, "k", 0.0, closed_low=True), _scalar(sigma, "sigma", 0.0)
    if ring_periods is None:
        ring = None
    else:
        if isinstance(ring_periods, bool) or not isinstance(ring_periods, int) or ring_periods < 1:
            raise ValueError(f"`ring_periods` must be an int >= 1 or None, got {ring_periods!r}")
        circumference = ring_periods * substrate.period
        if is_concrete(circumference, sigma) and float(sigma) > 0.5 * float(circumference):
            raise ValueError(
                f"`sigma` must be at most half the ring (ring_periods * period = "
                f"{float(circumference):g}), got {float(sigma)}; raise `ring_periods`"
            )
        ring = Box(jnp.reshape(ring_periods * substrate.period, (1,)), periodic=True)
    pair = PairEnergy(SoftRepulsion(k, sigma), ring)
    return Overdamped(
        potential=_RatchetPairEnergy(pair, substrate),
        temperature=_pair_temperatures(T_hot, T_cold),
    )


# --------------------------------------------------------------------------------------
# many-body demixing


def hot_cold_mixture(
    n_hot: int,
    n_cold: int,
    T_hot: Float[ArrayLike, ""],
    T_cold: Float[ArrayLike, ""],
    box_size: Float[ArrayLike, "..."],
    *,
    k: Float[ArrayLike, ""] = 20.0,
    sigma: float = 1.0,
    capacity: int = 8,
) -> Overdamped:
    r"""A 2D mixture of hot and cold soft-repulsive particles in a periodic box.

    $N = n_\mathrm{hot} + n_\mathrm{cold}$ overdamped particles with the pair repulsion
    $U(r) = \tfrac{k}{2}(1 - r/\sigma)^2$ ($r < \sigma$), summed with a `CellList` ($O(N)$
    per step). Particles `0 .. n_hot - 1` are hot, the rest cold. With a large enough
    temperature ratio at high density the mixture demixes into a dense cold cluster and a
    hot gas, with no attraction at all (`demixing_order_parameter` measures it).

    **Arguments:**

    - `n_hot`, `n_cold`: numbers of particles (ints >= 0, at least two in all).
    - `T_hot`, `T_cold`: temperatures (> 0).
    - `box_size`: side of the square periodic box (scalar or `[2]`, >= 2 `sigma`).
    - `k`: repulsion stiffness (>= 0, keyword); `sigma`: particle diameter (keyword, Python
      float > 0, fixes the cells); `capacity`: particles per cell of the `CellList` (keyword,
      int >= 1; raise it for dense clusters, an overflow raises an error).

    **Returns:** an `Overdamped` system; positions of one member are `[N, 2]`.

    **Example:**

    ```python
    system = jn.models.hot_cold_mixture(1000, 1000, T_hot=2.0, T_cold=0.05, box_size=42.0)
    x0 = jr.uniform(key, (1, 2000, 2)) * 42.0
    ```

    Reference: Weber, Weber & Frey, Phys. Rev. Lett. 116, 058301 (2016); Grosberg & Joanny,
    Phys. Rev. E 92, 032118 (2015).
    """
    for name, n in (("n_hot", n_hot), ("n_cold", n_cold)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"`{name}` must be an int >= 0, got {n!r}")
    if n_hot + n_cold < 2:
        raise ValueError("a mixture needs at least two particles (n_hot + n_cold >= 2)")
    if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and sigma > 0):
        raise ValueError(f"`sigma` must be a Python float > 0 (it fixes the cells), got {sigma!r}")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"`capacity` must be an int >= 1 (particles per cell), got {capacity!r}")
    _check_box_fits(box_size, sigma)
    box = _box(box_size, 2)
    T = _pair_temperatures(T_hot, T_cold)
    temperature = jnp.concatenate(
        [jnp.broadcast_to(T[0], (n_hot, 1)), jnp.broadcast_to(T[1], (n_cold, 1))]
    )
    energy = PairEnergy(
        SoftRepulsion(_scalar(k, "k", 0.0, closed_low=True), float(sigma)),
        CellList(box, float(sigma), capacity),
    )
    return Overdamped(potential=energy, temperature=temperature)


def demixing_order_parameter(
    x: Float[Array, "N dim"],
    is_hot: Bool[ArrayLike, " N"],
    neighbours: CellList,
    radius: float | None = None,
) -> Float[Array, ""]:
    r"""Excess fraction of like neighbours: 0 for a random mixture, > 0 when demixed.

    For each particle $i$ with at least one neighbour within `radius`, $s_i$ is the
    fraction of its neighbours of its own species; then
    $\psi = \overline{s_i - (N_{c(i)} - 1)/(N - 1)}$, the average excess over what a
    random labelling of the same configuration gives (its expectation is exactly 0 when the
    labels are exchangeable, e.g. at equal temperatures). Full demixing of a 50/50 mixture
    gives $\psi \approx 1/2$. Neighbours come from the `CellList`, so the cost is $O(N)$.

    **Arguments:**

    - `x`: positions of one member `[N, dim]` (vmap for an ensemble).
    - `is_hot`: boolean species labels `[N]`.
    - `neighbours`: a `CellList` (e.g. `system.potential.neighbours`).
    - `radius`: contact distance (default: the cell list's cutoff; at most its cell side).

    **Returns:** the scalar $\psi$.

    Reference: Weber, Weber & Frey, Phys. Rev. Lett. 116, 058301 (2016).
    """
    if not isinstance(neighbours, CellList):
        raise ValueError(f"`neighbours` must be a jaxneq.langevin.CellList, got {neighbours!r}")
    radius = neighbours.cutoff if radius is None else float(radius)
    is_hot = jnp.asarray(is_hot, bool)
    if is_hot.shape != x.shape[:1]:
        raise ValueError(f"`is_hot` must have shape [N] = {x.shape[:1]}, got {is_hot.shape}")
    idx, mask, x = neighbours.candidates(x)
    x_pad = jnp.concatenate([x, x[:1]], axis=0)
    dr = neighbours.box.displacement(x[:, None, :], x_pad[idx])
    close = mask & (jnp.sum(dr * dr, -1) < radius * radius)
    species = jnp.concatenate([is_hot, is_hot[:1]])
    same = close & (species[idx] == is_hot[:, None])
    n_close = jnp.sum(close, 1)
    frac = jnp.sum(same, 1) / jnp.maximum(n_close, 1)
    n = x.shape[0]
    n_own = jnp.where(is_hot, jnp.sum(is_hot), n - jnp.sum(is_hot))
    baseline = (n_own - 1) / (n - 1)
    has = n_close > 0
    excess = jnp.where(has, frac - baseline, 0.0)
    return (jnp.sum(excess) / jnp.maximum(jnp.sum(has), 1)).astype(x.dtype)
