"""Stationary distributions of master equations, with an implicit adjoint (units: k_B = 1).

`stationary(rates, *, method=...)` dispatches to three solvers:

- `"gth"`: Grassmann–Taksar–Heyman elimination. Subtraction-free, so every entry of the
  result keeps its relative accuracy, however small it is (probabilities of 1e-250 in
  float64). $O(n^3)$, dense; blocked (`GTH_BLOCK` states at a time) so that most of the work
  is one matmul of non-negative matrices per block; chains of one block take a path with its
  own batching rule (ensemble axis last under `vmap`). One elimination step
  (`_gth_eliminate`, in `._dense_solvers` with LU) and one back substitution serve every
  path, as a `fori_loop` or, for vmapped chains of <= `GTH_VMAP_UNROLL_LARGE` states in
  batches of >= `GTH_VMAP_UNROLL_MIN_BATCH`, unrolled (measured: 4096 chains of 16 states in
  7.2 ms unrolled against 27 ms as a loop, 4096 of 32 in 47 ms against 180 ms; smaller
  batches keep the loop, which compiles several times faster).
- `"lu"`: one LU solve of the bordered system $[Q^\\top$ with its last row replaced by ones$]
  p = e_n$. Fast, accurate in the large entries, but small entries carry an absolute error of
  about $\\varepsilon\\,\\kappa$ and may come out as zero.
- `"krylov"`: matrix free, for large sparse chains (`EdgeRates`), in `._krylov`.

All three share one `jax.custom_vjp`: the backward pass is a single adjoint linear solve.
Differentiating $pQ = 0$, $\\sum_i p_i = 1$ gives, for a loss $L(p)$ with $g = \\partial L /
\\partial p$, $\\partial L / \\partial Q_{ij} = -p_i v_j$ where $Q v = g - (p \\cdot g) \\mathbf 1$,
hence $\\partial L / \\partial r_{ij} = -p_i (v_j - v_i)$. The adjoint solve reuses the forward
factorisation ("gth": the GTH factors, "lu": the LU factors), so a gradient costs $O(n^2)$
on top of the forward pass; no iteration is ever unrolled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._util import as_inexact, is_concrete
from ._dense_solvers import (
    _INVALID,
    _OK,
    _REDUCIBLE,
    _UNCONVERGED,
    GTH_BLOCK,
    _gth_adjoint,
    _gth_back_substitute,
    _gth_factor,
    _gth_small,
    _lu_adjoint,
    _lu_forward,
)
from ._krylov import krylov_options
from ._rates import (
    EdgeRates,
    Rates,
    check_dense_shape,
    closed_classes,
    describe_classes,
    invalid_values,
    n_states,
    validate_rates,
)

_METHODS = ("auto", "gth", "lu", "krylov")

AUTO_DENSE_MAX_STATES = 2048
"""Largest `EdgeRates` chain that `method="auto"` densifies and solves with GTH."""


# --------------------------------------------------------------------------------------------
# The dispatch, with one custom_vjp around it
# --------------------------------------------------------------------------------------------


def _dense(n, rate, src, dst):
    if src is None:
        return rate
    return EdgeRates(src, dst, rate, n).to_dense()


def _as_rates(n, rate, src, dst) -> Rates:
    if src is None:
        return rate
    return EdgeRates(src, dst, rate, n)


_ON_ERROR = os.environ.get("EQX_ON_ERROR", "raise")
"""How traced errors are handled; equinox reads the same variable once, at its import."""


class _Config(NamedTuple):
    """Static choices of one solve (hashable: a `jit` static argument)."""

    method: str
    check: bool  # raise (or NaN) inside the solve: for traced calls
    reach: str  # Krylov reducibility test: "none", "if_zero_rates" or "always"


def _message(cfg: _Config, code: int, member: int | None) -> str:
    who = "`rates`" if member is None else f"`rates` of batch member {member}"
    if code == _INVALID:
        where = "outside `jit`/`vmap`" if member is None else f"on rates[{member}] outside `jit`"
        return (
            f"{who} has a negative, NaN or infinite entry: rates must be finite and >= 0 (the "
            f"diagonal is ignored). Call `stationary` {where} to see the entry."
        )
    if code == _REDUCIBLE:
        return _reducible_message(cfg.method, who=who)
    return _unconverged_message(who)


def _unconverged_message(who: str, options: str = "`max_iters`", detail: str = "") -> str:
    return (
        f"stationary(method='krylov') did not converge for {who}{detail}: the residual did "
        f"not fall to atol + rtol * |b| within {options} iterations, or the iteration broke "
        "down. Pass a larger `max_iters` or a looser `rtol`/`atol` to `stationary` (defaults: "
        "2000; 1e-12 in float64, 1e-4 in float32; atol 0), use float64, or use method='gth' "
        "for chains of up to a few thousand states."
    )


@dataclasses.dataclass(frozen=True)
class _Messages(Sequence):
    """The error messages of a batch, formatted only when one is raised.

    `eqx.branched_error_if` picks `messages[index]` at run time; index `(code - 1) * size +
    member` names the first bad member of a batch of `size` (0: an unbatched call).
    """

    cfg: _Config
    size: int

    def __len__(self):
        return 3 * max(self.size, 1)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(index)
        if self.size == 0:
            code, member = index + 1, None
        else:
            code, member = divmod(index, self.size)
            code += 1
        message = _message(self.cfg, code, member)
        _LAST_RAISED[:] = [code, message]  # read back by `_reraise_cleanly` (eager calls)
        return message


_LAST_RAISED: list = []


def _reraise_cleanly(error: Exception) -> None:
    """Re-raise a runtime error of our own check as a plain ValueError/RuntimeError.

    Reached by calls that run the traced check but execute at once (an eager `jax.vmap`
    over concrete rates): the message comes first and alone, with the same type as an
    unbatched eager call. Under an outer `jit` the error is raised by that `jit` instead.
    """
    if len(_LAST_RAISED) == 2 and _LAST_RAISED[1] in str(error):
        code, message = _LAST_RAISED
        _LAST_RAISED.clear()
        raise (RuntimeError if code == _UNCONVERGED else ValueError)(message) from None


def _raise_if_bad(cfg: _Config, p, code, size: int):
    bad = code > 0
    if _ON_ERROR == "off":
        return p
    if _ON_ERROR == "nan":  # per chain: only the bad members of a batch become NaN
        return jnp.where(bad[..., None], jnp.asarray(jnp.nan, p.dtype), p)
    if size == 0:
        index = jnp.maximum(code - 1, 0)
    else:
        first = jnp.argmax(bad)
        index = jnp.maximum(code[first] - 1, 0) * size + first
    return eqx.branched_error_if(p, jnp.any(bad), index, _Messages(cfg, size))


def _member_check(cfg: _Config, p, code):
    """`p`, or an error naming the batch member whose `code` is nonzero (first one).

    Under `vmap` the check sees the whole batch of codes (a `custom_vmap` rule), so the
    message names the member and, with `EQX_ON_ERROR=nan`, only bad members become NaN.
    """

    @jax.custom_batching.custom_vmap
    def check(p, code):
        return _raise_if_bad(cfg, p, code, 0)

    @check.def_vmap
    def check_batched(axis_size, in_batched, p, code):
        if not in_batched[0]:
            p = jnp.broadcast_to(p, (axis_size,) + p.shape)
        if not in_batched[1]:
            code = jnp.broadcast_to(code, (axis_size,))
        return _raise_if_bad(cfg, p, code, axis_size), True

    return check(p, code)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _solve(cfg: _Config, n: int, rate, src, dst, plan, options):
    out, _ = _solve_fwd(cfg, n, rate, src, dst, plan, options)
    return out


def _solve_fwd(cfg, n, rate, src, dst, plan, options):
    method = cfg.method
    stats = jnp.zeros((2,), rate.dtype)  # Krylov iterations and relative residual
    if method == "gth" and n <= GTH_BLOCK:  # one block: with its own batching rule
        # (it never reads the diagonal, and checks the values in its own layout)
        p, a, pivots, kstar, code = _gth_small(_dense(n, rate, src, dst))
        factors = (a, pivots, kstar)
    else:
        if src is None:
            rate = jnp.where(jnp.eye(n, dtype=bool), jnp.zeros((), rate.dtype), rate)
        invalid = invalid_values(rate)
        if method == "gth":
            a, pivots, kstar, reducible = _gth_factor(_dense(n, rate, src, dst))
            p = _gth_back_substitute(a, pivots, kstar)
            factors = (a, pivots, kstar)
            code = jnp.where(reducible, _REDUCIBLE, _OK)
        elif method == "lu":
            p, broke_down, factors = _lu_forward(_dense(n, rate, src, dst))
            code = jnp.where(broke_down, _REDUCIBLE, _OK)
        else:
            p, code, stats = _krylov_forward(cfg, n, rate, src, dst, plan, options)
            factors = rate
        code = jnp.where(invalid, _INVALID, code).astype(jnp.int32)
    if cfg.check:
        p = _member_check(cfg, p, code)
    return (p, code, stats), (p, factors, src, dst, plan, options)


def _krylov_forward(cfg, n, rate, src, dst, plan, options):
    """Krylov solve with its outcome code: not converged, or a reducible chain.

    The options are traced (no recompilation when they change), hence the private entry
    point instead of `krylov_stationary`, which takes them as Python numbers.
    """
    from ._krylov import reaches_state, solve_forward

    rtol, atol, max_iters = options
    p, info = solve_forward(_as_rates(n, rate, src, dst), rtol, max_iters, None, plan, atol)
    if src is None:
        idx = jnp.arange(n)
        e_src, e_dst, e_rate = jnp.repeat(idx, n), jnp.tile(idx, n), rate.reshape(-1)
    else:
        e_src, e_dst, e_rate = src, dst, rate

    def reducible():  # the solver's evidence: not every state reaches its most probable one
        return ~jnp.all(reaches_state(e_src, e_dst, e_rate > 0, jnp.argmax(p), n))

    if cfg.reach == "always":
        red = reducible()
    elif cfg.reach == "if_zero_rates":  # the structure is irreducible: only zeros can cut it
        some_zero = jnp.any((e_rate <= 0) & (e_src != e_dst))
        red = jax.lax.cond(some_zero, reducible, lambda: jnp.asarray(False))
    else:
        red = jnp.asarray(False)
    code = jnp.where(red, _REDUCIBLE, jnp.where(info.converged, _OK, _UNCONVERGED))
    stats = jnp.stack([info.iterations.astype(p.dtype), info.residual.astype(p.dtype)])
    return p, code, stats


def _solve_bwd(cfg, n, residuals, cotangents):
    # Compiled as one unit, so that an eager `jax.grad` does not dispatch the adjoint's loops
    # op by op (under an outer `jit` this is an ordinary nested call).
    return _adjoint_jit(cfg, n, residuals, cotangents[0])


def _adjoint(cfg, n, residuals, g):
    p, factors, src, dst, plan, options = residuals
    if cfg.method == "gth":
        v = _gth_adjoint(*factors, g - jnp.dot(p, g))
    elif cfg.method == "lu":
        v = _lu_adjoint(*factors, g - jnp.dot(p, g))
    else:
        from ._krylov import raise_unconverged, solve_adjoint

        rtol, atol, max_iters = options
        rates = _as_rates(n, factors, src, dst)
        v, info = solve_adjoint(rates, p, g, rtol, max_iters, None, plan, atol)
        v = raise_unconverged(v, info, "gradient of stationary(method='krylov')")
    # dL/dr_ij = -p_i (v_j - v_i): zero on the diagonal and on self-loops.
    if src is None:
        grad = -p[:, None] * (v[None, :] - v[:, None])
    else:
        grad = -p[src] * (v[dst] - v[src])
    return grad, None, None, None, None


_solve.defvjp(_solve_fwd, _solve_bwd)
_adjoint_jit = jax.jit(_adjoint, static_argnums=(0, 1))
_solve_jit = jax.jit(_solve, static_argnums=(0, 1))


def _choose_method(rates: Rates, method: str) -> str:
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}")
    if method != "auto":
        return method
    n = n_states(rates)
    if n <= AUTO_DENSE_MAX_STATES:
        return "gth"
    return "krylov" if isinstance(rates, EdgeRates) else "lu"


def _reducible_message(method: str, detail: str = "", who: str = "`rates`") -> str:
    msg = (
        f"{who} is reducible: it has more than one closed class of states{detail}, so there "
        "is no unique stationary distribution. Connect the classes with nonzero rates, or "
        "solve each closed class on its own."
    )
    if method == "lu":
        msg += " (method='lu' cannot tell this from severe ill-conditioning: try method='gth')"
    return msg


def _classes_detail(rates: Rates) -> str:
    classes = closed_classes(rates)
    return f" (e.g. {describe_classes(classes)})" if len(classes) > 1 else ""


def _raise_eagerly(cfg: _Config, rates: Rates, code, stats, options) -> None:
    """Turn the outcome code of a concrete (unbatched) solve into a ValueError/RuntimeError."""
    code = int(code)
    if code == _REDUCIBLE:
        raise ValueError(_reducible_message(cfg.method, _classes_detail(rates)))
    if code == _UNCONVERGED:
        iterations, residual = (float(x) for x in np.asarray(stats))
        rtol, atol, max_iters = options
        detail = f" (relative residual {residual:.2g} after {iterations:.0f} iterations)"
        where = f"max_iters={max_iters} (rtol={rtol:g}, atol={atol:g})"
        raise RuntimeError(_unconverged_message("`rates`", where, detail))
    if code == _INVALID:  # pragma: no cover - concrete values are checked before solving
        raise ValueError(_message(cfg, code, None))


def _plan_for(rates: EdgeRates):
    """The Krylov preconditioner plan of a concrete edge list, cached by its structure."""
    from ._krylov_plan import krylov_plan

    src, dst = np.asarray(rates.src), np.asarray(rates.dst)
    digest = hashlib.sha1(src.tobytes() + b"|" + dst.tobytes()).hexdigest()
    key = (rates.n_states, src.dtype.str, digest)
    if key not in _PLAN_CACHE:
        if len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
            _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
        with jax.ensure_compile_time_eval():  # concrete arrays even inside a `jit` trace,
            _PLAN_CACHE[key] = krylov_plan(src, dst, rates.n_states)  # so none leaks via the cache
    return _PLAN_CACHE[key]


_PLAN_CACHE: dict = {}
_PLAN_CACHE_SIZE = 8


def stationary(
    rates: Rates,
    *,
    method: str = "auto",
    krylov_plan: Any = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_iters: int | None = None,
) -> Float[Array, " n"]:
    """Stationary distribution of a continuous-time Markov chain.

    Solves $pQ = 0$, $\\sum_i p_i = 1$ with $Q = \\mathrm{rates} - \\mathrm{diag}(\\mathrm{rates}
    \\,\\mathbf 1)$ (`rates[i, j]` is the rate of i -> j; the diagonal is ignored). Works
    under `jit`, `vmap` (thousands of small chains in one call) and `grad`; float32 and
    float64 in, the same dtype out.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates`, non-negative and finite.
    - `method`:
        - `"gth"`: Grassmann–Taksar–Heyman elimination, $O(n^3)$, subtraction-free: every
          entry keeps its relative accuracy, down to the smallest normal number (a
          birth–death chain spanning 1 to 1e-250 is exact to ~1e-13 in float64). Blocked:
          each block of `GTH_BLOCK` (128) states is eliminated with one matmul of
          non-negative matrices (as fast as an LU within a small factor). Under `vmap`,
          chains of up to `GTH_BLOCK` (128) states are eliminated with the ensemble axis
          last, in cache-sized chunks (4096 chains of 16 states in ~6 ms on one CPU core);
          chains of <= 16 states, and of <= 32 in batches of >= 1024, by an unrolled
          elimination (4096 chains of 32 states in ~47 ms instead of ~180 ms, at the price
          of a first call that compiles for ~13 s instead of ~2 s). The method of choice
          for dense chains; `EdgeRates` are densified.
          **Accuracy: entrywise relative** (O'Cinneide's bound: each $p_i$ to a few $n^3
          \\varepsilon$ relative, however small $p_i$ is).
        - `"lu"`: one LU solve of the bordered system (the generator's transpose with one
          equation replaced by $\\sum_i p_i = 1$). Faster for large dense chains but only
          accurate in absolute terms: entries below $\\varepsilon\\,\\mathrm{cond}$ are noise
          (they are clipped at 0 and the vector renormalised). **Accuracy: normwise**
          (backward stable LU): $\\|\\delta p\\| \\lesssim \\varepsilon\\,\\kappa\\,\\|p\\|$.
        - `"krylov"`: matrix free (`EdgeRates` or dense), for large sparse chains such as 2D
          Fokker–Planck grids: preconditioned BiCGStab, stopped when the exit-rate-scaled
          residual is at most `atol + rtol * |b|`. **Accuracy: a residual norm**, so the
          error is absolute, in units of the largest entry (tails are accurate only to
          ~rtol relative to it): measured on two 64 x 64 driven double-well grids (p
          spanning 3 and 14 decades), max |error| / max p = 6e-12 / 1.5e-11 at the default
          rtol = 1e-12 (float64), 5e-8 / 2e-7 at rtol = 1e-8, 6e-6 / 3e-4 at rtol = 1e-6,
          and 3e-4 / 6e-3 in float32 (rtol = 1e-4); on the stiffer grid (p from 1e-2 down to
          3e-16) entries below ~1e-3 of the largest carry relative errors of 1e-2 and more.
          Use "gth" when small probabilities matter.
        - `"auto"` (default): `"gth"` whenever $n \\le$ `AUTO_DENSE_MAX_STATES` (2048), for
          dense arrays and `EdgeRates` alike (densified), in float32 and float64 (GTH is the
          most accurate choice in either precision, so the dtype does not change the pick);
          above that, `"lu"` for a dense array and `"krylov"` for `EdgeRates`.
    - `rtol`, `atol`, `max_iters` (`"krylov"` only; ignored by the direct methods, and
      validated whatever the method): relative and absolute tolerance of the residual test
      (`atol` in units of the largest entry; defaults 1e-12 in float64, 1e-4 in float32,
      and 0) and the cap on BiCGStab iterations (default 2000). They are traced: changing
      them does not recompile.
    - `krylov_plan`: the structure-only set-up of the Krylov preconditioner
      (`jaxneq.markov.krylov_plan(src, dst, n_states)`: a locality-preserving relabelling and
      the coarse levels' edge lists). When the edge list is concrete it is built on the host
      and cached (by the edge structure, 8 graphs) automatically; pass it explicitly when the
      `EdgeRates` indices are traced (an `EdgeRates` that is itself a `jit` argument), or
      the preconditioner falls back to blocks of consecutive labels, which is correct but
      needs several times more iterations on 2D grids.

    **Returns:** `p`, shape `[n]`, non-negative, summing to 1, dtype of `rates`.

    **Gradients:** by implicit differentiation, one adjoint solve $Qv = g - (p\\cdot g)\\mathbf
    1$ reusing the forward factorisation; $\\partial L/\\partial r_{ij} = -p_i (v_j - v_i)$.
    The dense diagonal and `EdgeRates` self-loops get zero gradient.

    **Errors:** never a silent answer.

    - Negative, NaN or infinite rates, and reducible chains (more than one closed class, so
      no unique stationary distribution), raise a `ValueError`; a Krylov solve that does
      not converge raises a `RuntimeError` (for dense and `EdgeRates` input alike).
    - How reducibility is detected: "gth" exactly (a second zero pivot), on every call.
      With concrete rates, "lu" and "krylov" check the graph on the host first (scipy's
      strongly connected components) and the message names two closed classes, e.g.
      "{0, 1} and {2, 3}". Traced, "krylov" checks that every state reaches the most
      probable one (label propagation over the edges with positive rates, skipped when the
      concrete structure is irreducible and no rate is zero; a concrete structure that is
      itself reducible raises at trace time); "lu" only flags a breakdown of the solve
      (non-finite or clearly negative entries).
    - A chain with transient states and a single closed class is fine: "gth" and "lu" give
      exact zeros on the transient states.
    - Eager calls (concrete rates): the `ValueError` names the entry or the classes.
    - Eager `jax.vmap` over concrete rates: a `ValueError` (`RuntimeError` for
      non-convergence) whose message starts "`rates` of batch member i ..." (the first bad
      member).
    - Under `jit` (with or without `vmap`): the same message, member included, from
      `eqx.branched_error_if`: an `EquinoxRuntimeError` under `eqx.filter_jit` (the message
      follows the in-jit stack), a `JaxRuntimeError` under `jax.jit` (the message follows
      XLA's callback traceback); both are `RuntimeError`s. Under `jit` the message names
      the member but not the entry: call `stationary(rates[i])` eagerly for that.
    - `EQX_ON_ERROR=nan` (read once at import, as equinox does): traced calls return NaN
      for the bad members only, the rest of the batch is solved; `EQX_ON_ERROR=off` skips
      the checks. Eager calls always raise.
    - Nested `vmap`s name the index along the innermost vmapped axis.

    **Example:**

    ```python
    import jax, jax.numpy as jnp, jaxneq as jn
    rates = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [3.0, 0.0, 0.0]])
    p = jn.markov.stationary(rates)
    dp0 = jax.grad(lambda r: jn.markov.stationary(r)[0])(rates)
    ```

    References: W. K. Grassmann, M. I. Taksar and D. P. Heyman, Oper. Res. 33, 1107 (1985);
    C. A. O'Cinneide, Numer. Math. 65, 109 (1993) (entrywise relative accuracy of GTH).
    """
    concrete = is_concrete(rates)
    if concrete or isinstance(rates, EdgeRates):
        rates = validate_rates(rates, check_traced_values=False)  # traced: checked in the solve
    else:  # traced and dense: the solve checks the values and ignores the diagonal itself
        rates = check_dense_shape(as_inexact(rates, "rates"), "rates")
    chosen = _choose_method(rates, method)
    n = n_states(rates)
    dtype = rates.dtype
    rtol, atol, max_iters = krylov_options(dtype, rtol, atol, max_iters)
    reach = "none"
    if chosen == "krylov":
        structure_known = not isinstance(rates, EdgeRates) or is_concrete(rates.src, rates.dst)
        if structure_known and (concrete or isinstance(rates, EdgeRates)):
            # The graph on the host (scipy strongly connected components): exact when the
            # values are concrete; on the structure alone (every edge) when they are traced,
            # so a chain reported here is reducible whatever the values.
            detail = _classes_detail(rates)
            if detail:
                raise ValueError(_reducible_message(chosen, detail))
        if not concrete:
            reach = "if_zero_rates" if structure_known else "always"
    elif chosen == "lu" and concrete:
        detail = _classes_detail(rates)  # LU itself cannot always tell
        if detail:
            raise ValueError(_reducible_message(chosen, detail))
    cfg = _Config(chosen, not concrete, reach)
    traced_options = (
        jnp.asarray(rtol, dtype),
        jnp.asarray(atol, dtype),
        jnp.asarray(max_iters, jnp.int32),
    )
    if isinstance(rates, EdgeRates):
        plan = krylov_plan
        if chosen == "krylov" and plan is None and is_concrete(rates.src, rates.dst):
            plan = _plan_for(rates)
        args = (rates.rate, rates.src, rates.dst, plan, traced_options)
    else:
        args = (rates, None, None, None, traced_options)
    try:
        p, code, stats = _solve_jit(cfg, n, *args)
        # A GPU runs the check asynchronously: an eager `vmap` would return before the
        # check fails and the error would surface later, elsewhere. Wait for it here (under
        # an outer `jit` this only waits, once, while tracing).
        jax.effects_barrier()
    except RuntimeError as error:  # JaxRuntimeError or EquinoxRuntimeError
        _reraise_cleanly(error)
        raise
    if concrete:
        _raise_eagerly(cfg, rates, code, stats, (rtol, atol, max_iters))
    return p
