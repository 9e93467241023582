r"""Stochastic thermodynamics along trajectories: entropy production, heat, work, currents.

Units: k_B = 1, so entropies are in nats and heat and work are in units of temperature.

These observables are streaming reducers for `jaxneq.langevin.simulate`: each step from
$x$ (time $t$) to $x'$ (time $t + \Delta t$) adds one increment, and nothing is stored per
step. Stochastic integrals use the Stratonovich midpoint rule: forces and temperatures are
evaluated at $\bar x = (x + x')/2$ and $\bar t = t + \Delta t/2$, so that the chain rule of
ordinary calculus holds (which is what makes heat and work satisfy the first law, and the
entropy production the ratio of path probabilities).

They need a system with the overdamped helper methods `total_force(x, t)`,
`temperature_at(x)` (and, for `Work`, a potential): `jaxneq.langevin.Overdamped`.
Other systems raise `ValueError` at trace time.

References: Sekimoto, *Stochastic Energetics* (Springer, 2010); Seifert, Rep. Prog. Phys.
75, 126001 (2012).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._base import AbstractObservable, _Binned, _kahan_add, every_step, sample_count


def _require_overdamped(system, before, observable: str) -> None:
    """Trace-time check: an overdamped system whose state is the positions."""
    needed = ("position", "total_force", "temperature_at", "mobility_at")
    missing = [m for m in needed if not hasattr(system, m)]
    if missing or system.position(before) is not before:
        lacking = f"lacks {', '.join(missing)}" if missing else "has a state that is not x"
        raise ValueError(
            f"`{observable}` needs an overdamped system whose state is the positions, with "
            f"the methods {', '.join(needed)} (e.g. `jaxneq.langevin.Overdamped`); the "
            f"given {type(system).__name__} {lacking}. For other dynamics write an "
            "observable with the same init/update/finalise methods."
        )


def _event_axes(x) -> tuple[int, ...]:
    return tuple(range(1, x.ndim))


def _validate_burn_in(burn_in) -> None:
    if not isinstance(burn_in, (int, np.integer)) or isinstance(burn_in, bool) or burn_in < 0:
        raise ValueError(f"`burn_in` must be a non-negative int (steps), got {burn_in!r}")


def _first_leaf(state) -> Array:
    # Overdamped states are the positions themselves; for any state the first leaf carries
    # the ensemble axis and the position dtype.
    return jnp.asarray(jax.tree_util.tree_leaves(state)[0])


class _StepAccumulator(AbstractObservable):
    """Shared machinery: a compensated running sum per member and a step counter (burn_in)."""

    burn_in: int = eqx.field(static=True, default=0, kw_only=True)
    rate: bool = eqx.field(static=True, default=False, kw_only=True)

    def __check_init__(self):
        _validate_burn_in(self.burn_in)

    def _increment(self, before, after, system, t, dt):  # pragma: no cover - abstract
        raise NotImplementedError

    def _shape(self, x) -> tuple[int, ...]:
        return x.shape[:1]

    def init(self, state, system):
        del system
        x = _first_leaf(state)
        zeros = jnp.zeros(self._shape(x), x.dtype)
        return {"total": zeros, "comp": zeros, "step": jnp.zeros((), jnp.int32)}

    def update(self, acc, before, after, system, t, dt):
        inc = self._increment(before, after, system, t, dt).astype(acc["total"].dtype)
        if self.burn_in:
            inc = jnp.where(acc["step"] >= self.burn_in, inc, jnp.zeros_like(inc))
        total, comp = _kahan_add(acc["total"], acc["comp"], inc)
        return {"total": total, "comp": comp, "step": acc["step"] + 1}

    def finalise(self, acc, n_steps, dt):
        del n_steps
        total = acc["total"] - acc["comp"]
        if not self.rate:
            return total
        n = jnp.maximum(acc["step"] - self.burn_in, 0).astype(total.dtype)
        return total / (n * jnp.asarray(dt, total.dtype))


def _midpoint_heat(system, before, after, t, dt, observable):
    """Per-dof heat increments F_i(x_mid, t_mid) dx_i, the midpoint, and the positions."""
    _require_overdamped(system, before, observable)
    x0 = system.position(before)
    x1 = system.position(after)
    mid = 0.5 * (x0 + x1)
    force = jax.vmap(system.total_force, in_axes=(0, None))(mid, t + 0.5 * dt)
    return force * (x1 - x0), mid, x0, x1


class EntropyProduction(_StepAccumulator):
    r"""Medium entropy production along each trajectory (Stratonovich), in nats.

    $$\Sigma = \sum_i \int \frac{F_i(x, t)}{T_i(x)} \circ dx_i ,$$

    the heat released into the bath(s) divided by their temperature, summed over every
    degree of freedom $i$ of the member (each with its own temperature when the system has
    several baths, or the local temperature of a field $T(x)$). $F$ is the total force
    $-\nabla U + f$ (`system.total_force`); the mobility does not enter. Each step adds
    $\sum_i F_i(\bar x, \bar t)\,(x'_i - x_i) / T_i(\bar x)$ with $\bar x = (x + x')/2$ and
    $\bar t = t + \Delta t/2$.

    In a steady state $\langle\Sigma\rangle / t$ is the entropy production rate $\sigma$
    (the boundary term, minus the change of system entropy, averages to zero): use
    `rate=True`, or divide by the measured time $(n_\text{steps} - \text{burn\_in})\,\Delta t$.
    The standard error of $\sigma$ is `Sigma.std() / sqrt(b) / t` (members are independent).

    For a temperature *field* this is the overdamped medium entropy production; the
    small-mass limit of underdamped dynamics adds an "anomalous" contribution that is not
    included (Celani et al., Phys. Rev. Lett. 109, 260603 (2012)).

    **Arguments:**

    - `burn_in`: steps to skip before accumulating (keyword).
    - `rate`: if True, `finalise` returns $\Sigma$ divided by the measured time (keyword).

    **Returns** (in `simulate(...).observables[name]`): $\Sigma$ per member, `[b]`, or
    $\Sigma / t$ with `rate=True`.

    **Example:**

    ```python
    system = jn.models.two_temperature_pair(k=1.0, lam=1.0, T1=2.0, T2=1.0)
    res = jn.langevin.simulate(system, x0, key=key, dt=1e-2, n_steps=10_000,
                               observables={"ep": jn.observables.EntropyProduction(rate=True)})
    sigma = res.observables["ep"].mean()  # exact: k^2 (T1 - T2)^2 / (2 T1 T2 (k + lam)) = 1/8
    ```

    Reference: Seifert, Phys. Rev. Lett. 95, 040602 (2005); Sekimoto, *Stochastic
    Energetics* (Springer, 2010).
    """

    def _increment(self, before, after, system, t, dt):
        heat, mid, x0, _ = _midpoint_heat(system, before, after, t, dt, "EntropyProduction")
        temperature = jnp.broadcast_to(jax.vmap(system.temperature_at)(mid), heat.shape)
        return jnp.sum(heat / temperature, axis=_event_axes(x0))


class Heat(_StepAccumulator):
    r"""Heat released into the bath(s) along each trajectory (Sekimoto, Stratonovich).

    $$Q = \int F(x, t) \circ dx ,$$

    positive when energy flows from the system into the reservoirs. With `per_dof=True`
    the heat is kept per degree of freedom, which for one bath per degree of freedom (the
    two-temperature pair, a bead chain) is the heat delivered to each bath. With the work
    $W$ (`Work`) it obeys the first law $W = \Delta U + Q$, and $\Sigma = \sum_i Q_i/T_i$ for
    constant temperatures. Same midpoint rule as `EntropyProduction`.

    **Arguments:**

    - `burn_in`: steps to skip before accumulating (keyword).
    - `per_dof`: keep one value per degree of freedom (keyword).
    - `rate`: divide by the measured time (keyword).

    **Returns:** $Q$, `[b]` (or `[b, *event]` with `per_dof=True`).

    Reference: Sekimoto, Prog. Theor. Phys. Suppl. 130, 17 (1998).
    """

    per_dof: bool = eqx.field(static=True, default=False, kw_only=True)

    def _shape(self, x):
        return x.shape if self.per_dof else x.shape[:1]

    def _increment(self, before, after, system, t, dt):
        heat, _, x0, _ = _midpoint_heat(system, before, after, t, dt, "Heat")
        return heat if self.per_dof else jnp.sum(heat, axis=_event_axes(x0))


class Work(_StepAccumulator):
    r"""Sekimoto work done on each trajectory by a time-dependent potential and other forces.

    $$W = \int \partial_t U(x, t)\,dt + \int f(x, t) \circ dx ,$$

    with $f = F + \nabla U$ the non-conservative part of the total force. The first law
    reads $W = \Delta U + Q$ with the heat $Q$ of `Heat`. Each step adds the trapezoid
    $\tfrac12\{[U(x, t') - U(x, t)] + [U(x', t') - U(x', t)]\}$ (exact differences in time at
    the positions before and after the step, so no time derivative is taken) plus
    $f(\bar x, \bar t)\cdot(x' - x)$. Then $W - \Delta U - Q$ is $O(\Delta t^2)$ per step
    for a smooth protocol. The protocol must be smooth on the scale of `dt`: a jump inside one
    step is credited half at the position before and half at the position after the step.

    For Jarzynski's equality $\langle e^{-W/T}\rangle = e^{-\Delta F/T}$, start the ensemble
    in equilibrium at the initial protocol value (see `jaxneq.thermo.jarzynski`).

    **Arguments:**

    - `burn_in`: steps to skip before accumulating (keyword).
    - `rate`: divide by the measured time (keyword).

    **Returns:** $W$ per member, `[b]`.

    **Example:**

    ```python
    system = jn.models.dragged_trap(stiffness=1.0, speed=0.5)
    res = jn.langevin.simulate(system, x0, key=key, dt=1e-2, n_steps=5_000,
                               observables={"w": jn.observables.Work(burn_in=1000, rate=True)})
    res.observables["w"].mean()  # steady state: speed**2 / mobility = 0.25
    ```

    Reference: Sekimoto, Prog. Theor. Phys. Suppl. 130, 17 (1998); Jarzynski, Phys. Rev.
    Lett. 78, 2690 (1997).
    """

    def _increment(self, before, after, system, t, dt):
        _require_overdamped(system, before, "Work")
        x0 = system.position(before)
        x1 = system.position(after)
        t1 = t + dt
        work = jnp.zeros(x0.shape[:1], x0.dtype)
        if getattr(system, "potential", None) is not None:
            energy = jax.vmap(system.potential_at, in_axes=(0, None))
            work = work + 0.5 * (
                (energy(x0, t1) - energy(x0, t)) + (energy(x1, t1) - energy(x1, t))
            )
        if getattr(system, "force", None) is not None:
            # f = F + grad U: the non-conservative part of the total force, at the midpoint.
            tm = t + 0.5 * dt

            def nonconservative(x):
                f = system.total_force(x, tm)
                if system.potential is not None:
                    f = f + jax.grad(system.potential_at)(x, tm)
                return f

            mid = 0.5 * (x0 + x1)
            f = jax.vmap(nonconservative)(mid)
            work = work + jnp.sum(f * (x1 - x0), axis=_event_axes(x0))
        return work


class CurrentField(_Binned):
    r"""Probability current field from trajectories: Stratonovich velocities binned by position.

    $$J(x) = \langle \dot x \circ \delta(x - x_t) \rangle ,$$

    estimated on a 1D or 2D grid of the chosen coordinates. Each step from $x$ to $x'$
    contributes its velocity $(x' - x)/\Delta t$ half to the bin holding $x$ and half to
    the bin holding $x'$ (the trapezoidal, i.e. Stratonovich, rule on the visited states,
    so the samples are the same states that `Histogram` bins, up to half a step at each
    end). `finalise` divides the sums by the number of binned samples (members $\times$
    measured steps $\times$ points per member, samples outside the grid included) and by
    the bin volume, exactly as `Histogram` does: then $J \approx p(x)\,v(x)$ with $p$ the
    (marginal) density of the chosen coordinates and $v$ the local mean velocity, and
    `J / p[..., None]` with `p` from a `Histogram` with the same `edges` and coordinates is
    an unbiased estimate of $v$ (for a linear system integrated by Euler–Maruyama it is
    the current velocity of the discrete-time chain exactly; binning midpoints instead
    would bias it by $O(\Delta t)$). Averaged over the ensemble and all steps after
    `burn_in` (a time average that converges to the steady-state current).

    The statistical error per bin is dominated by the noise: with $n$ samples in a bin,
    about $\sqrt{2 D n / \Delta t} / (N \cdot \text{volume})$ for a component with diffusion
    coefficient $D = \mu T$ and $N$ samples in all.

    **Arguments:**

    - `edges`: bin edges, one increasing 1D array per coordinate (a single 1D array for one
      coordinate).
    - `coordinates`: indices into the flattened event `x.reshape(-1)` of each member (for
      an event `[N, dim]` coordinate `i * dim + a` is component `a` of particle `i`). The
      default is `Histogram`'s: for one edge array every degree of freedom is pooled, for
      two the points along a last axis of size 2 are pooled, or the two coordinates of an
      event of size 2 (`[b, 2, 1]`) are used.
    - `burn_in`: steps to skip before accumulating.
    - `fn`: instead of `coordinates`, a projection of one member's position, as for
      `Histogram` (the velocity is then that of the projection) (keyword).
    - `every`: fold in only the steps whose number (counted from the start of the run,
      1 for the first step) is a multiple of `every` and exceeds `burn_in`: the
      displacement of steps `every, 2 every, ...` (keyword; default 1, every step). The
      estimate of $J$ stays unbiased with `every` times fewer samples; skipped steps cost
      nothing.

    **Returns:** $J$ at the bin centres, shape `(n_1, ..., n_k, k)` for `k` coordinates
    (component `j` is the velocity of coordinate `coordinates[j]`).

    **Example:**

    ```python
    edges = jnp.linspace(-4, 4, 41)
    obs = {"J": jn.observables.CurrentField((edges, edges), coordinates=(0, 1)),
           "p": jn.observables.Histogram((edges, edges), coordinates=(0, 1))}
    res = jn.langevin.simulate(system, x0, key=key, dt=1e-2, n_steps=10_000,
                               observables=obs)
    velocity = res.observables["J"] / res.observables["p"][..., None]  # [40, 40, 2]
    ```

    Reference: Li et al., Nat. Commun. 10, 1666 (2019); Battle et al., Science 352, 604 (2016).
    """

    def __init__(
        self,
        edges: Float[ArrayLike, " _"] | Sequence[Float[ArrayLike, " _"]],
        coordinates: Sequence[int] | int | None = None,
        burn_in: int = 0,
        *,
        fn: Callable | None = None,
        every: int = 1,
    ):
        self._set_binning(edges, burn_in, coordinates, fn, every)

    def init(self, state, system):
        if not hasattr(system, "position"):
            raise ValueError("`CurrentField` needs a system with a `position(state)` method")
        x = system.position(state)
        k = len(self.edges)
        points = jax.eval_shape(self._points, x)
        dtype = jnp.result_type(x.dtype, *(e.dtype for e in self.edges))
        return {
            "sum": jnp.zeros((int(np.prod(self.shape)) + 1, k), dtype),
            "step": jnp.zeros((), jnp.int32),
            "points": jnp.asarray(points.shape[0], jnp.int32),
        }

    def update(self, acc, before, after, system, t, dt):
        del t, dt

        def add(acc):
            p0 = self._points(system.position(before))
            p1 = self._points(system.position(after))
            half = (0.5 * (p1 - p0)).astype(acc["sum"].dtype)
            size = acc["sum"].shape[0]
            active = acc["step"] >= self.burn_in
            i0 = jnp.where(active, self._bin_index(p0), size)  # out of bounds: dropped
            i1 = jnp.where(active, self._bin_index(p1), size)
            sums = acc["sum"].at[i0].add(half, mode="drop").at[i1].add(half, mode="drop")
            return {**acc, "sum": sums}

        acc = every_step(acc["step"], self.every, add, acc)
        return {**acc, "step": acc["step"] + 1}

    def finalise(self, acc, n_steps, dt):
        del n_steps
        dtype = acc["sum"].dtype
        n_measured = sample_count(acc["step"], self.burn_in, self.every).astype(dtype)
        samples = n_measured * acc["points"].astype(dtype)
        k = len(self.edges)
        sums = acc["sum"][:-1].reshape(*self.shape, k)  # the last row: outside the grid
        volume = self._volume(dtype)
        return sums / (jnp.asarray(dt, dtype) * samples * volume[..., None])
