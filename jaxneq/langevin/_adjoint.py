r"""How `simulate` is differentiated in reverse mode: the adjoints (units: k_B = 1).

`simulate` runs its steps through `adjoint.scan(body, carry, n)`; without differentiation
every adjoint computes exactly the same numbers (the step body is the same function), they
only differ in what reverse-mode autodiff (`jax.grad`, `jax.vjp`) stores.

- `RecursiveCheckpointAdjoint(checkpoints=None)` (the default): the steps are run as nested
  `lax.scan`s whose bodies are wrapped in `jax.checkpoint`. The innermost scan has
  `segment` steps; every level above it runs `segment` copies of the level below. The
  backward pass stores one carry per outer step on each level and recomputes the level
  below from it, so the memory is O(levels * segment) carries for
  levels = ceil(log_segment(n_steps)): logarithmic in `n_steps`. The price is at most one
  extra forward pass per level above the innermost one.
- `DirectAdjoint()`: plain backpropagation through one `lax.scan`: the fastest reverse
  mode, but it stores the residuals of every step (noise included), so memory is
  O(n_steps * ensemble). Use it for short runs, or when memory is plentiful and time matters.

Measured (XLA:CPU, d<x^2>/dk of an OU ensemble, b = 1024, float32; compiled temporary
bytes of `jit(grad(loss))` and wall time of `jit(value_and_grad(loss))` over `jit(loss)`
at 1e4 steps; `benchmarks/langevin.py --grad-only`):

| adjoint | temp 1e3 steps | temp 1e5 steps | ratio | time ratio at 1e4 |
| --- | --- | --- | --- | --- |
| `RecursiveCheckpointAdjoint()` (segment 128) | 0.59 MB | 1.1 MB | 1.9 | 1.8 |
| `RecursiveCheckpointAdjoint(32)` | 0.30 MB | 0.45 MB | 1.5 | 2.6 |
| `DirectAdjoint()` | 4.1 MB | 410 MB | 99 | 1.1 |
| equinox's binomial checkpointed while loop (not used) | 0.56 MB | 5.5 MB | 9.8 | 3.7 |

The nested scans beat the binomial (treeverse) while loop on both counts here, so they are
the default.

Forward-mode (`jax.jvp`, `jax.jacfwd`) works with both and costs the same with both.

Reference: A. Griewank and A. Walther, Algorithm 799: revolve, ACM TOMS 26, 19 (2000);
P. Kidger, On Neural Differential Equations (2021), section 5.1 (diffrax's adjoints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import PyTree

Body = Callable[[PyTree], tuple[PyTree, Any]]


class AbstractAdjoint(eqx.Module):
    """How reverse-mode autodiff goes through the steps of `simulate`.

    `scan(body, carry, n, unroll=1)` applies `body: carry -> (carry, y)` `n` times (a Python
    int) and returns the final carry and the `y`s stacked along a new leading axis (None
    when `body` returns None); `unroll` applications of `body` per loop iteration (as
    `lax.scan`'s `unroll`). Every adjoint gives the same numbers; they differ in memory and
    time under `jax.grad`.
    """

    def scan(self, body: Body, carry: PyTree, n: int, unroll: int = 1) -> tuple[PyTree, Any]:
        raise NotImplementedError


class DirectAdjoint(AbstractAdjoint):
    """Plain backpropagation through one `lax.scan` over all steps.

    Fastest reverse mode (value-and-grad costs about 2-3 forward passes) but the memory of a
    differentiated run grows linearly with `n_steps` (the residuals of every step are kept:
    about 4 KB per step for 1024 float32 members in 1D: 410 MB at 1e5 steps). Use it for
    short runs, where it is the fastest (value-and-grad about 1.1 forward passes on CPU).

    **Example:**

    ```python
    jn.langevin.simulate(system, x0, key=key, dt=dt, n_steps=500,
                         adjoint=jn.langevin.DirectAdjoint())
    ```
    """

    def scan(self, body: Body, carry: PyTree, n: int, unroll: int = 1) -> tuple[PyTree, Any]:
        return jax.lax.scan(lambda c, _: body(c), carry, length=n, unroll=max(1, min(unroll, n)))


class RecursiveCheckpointAdjoint(AbstractAdjoint):
    """Checkpointed reverse mode: nested `jax.checkpoint`-ed scans (the default).

    The steps are grouped in segments of `segment` steps, segments of segments, and so on
    (levels = ceil(log_segment(n_steps))); the backward pass keeps one carry per segment on
    each level and recomputes the rest. Memory of `jax.grad` through `n_steps` steps:
    O(levels * segment) states, i.e. logarithmic in `n_steps` (measured for 1024 float32
    members: the compiled temporary memory at 1e5 steps is 1.9 times that at 1e3 steps,
    against 99 times with `DirectAdjoint`). Time: at most one extra forward pass per level
    above the innermost (value-and-grad at 1e4 steps costs 1.8 forward passes on CPU,
    against 1.1 with `DirectAdjoint`). The default for anything long.

    **Arguments:**

    - `checkpoints`: None (default) picks `segment` = 128 steps; an int `c` >= 2 uses
      segments of `c` steps, trading memory (smaller `c`: fewer stored states per level but
      more levels, so more recomputation) against time. `checkpoints >= n_steps` is the
      same as `DirectAdjoint`.

    **Example:**

    ```python
    jn.langevin.simulate(system, x0, key=key, dt=dt, n_steps=100_000,
                         adjoint=jn.langevin.RecursiveCheckpointAdjoint())
    ```

    Reference: A. Griewank and A. Walther, ACM TOMS 26, 19 (2000).
    """

    checkpoints: int | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        c = self.checkpoints
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 2):
            raise ValueError(
                f"`checkpoints` must be None (automatic) or an int >= 2 (steps per "
                f"checkpointed segment), got {c!r}"
            )

    @property
    def segment(self) -> int:
        return 128 if self.checkpoints is None else self.checkpoints

    def scan(self, body: Body, carry: PyTree, n: int, unroll: int = 1) -> tuple[PyTree, Any]:
        return _nested_scan(body, carry, n, self.segment, unroll)


def _levels(n: int, segment: int) -> int:
    """Smallest L >= 1 with segment**L >= n."""
    levels = 1
    while segment**levels < n:
        levels += 1
    return levels


def _stack(ys_main, ys_rest, m: int, q: int):
    """Outputs of `m` runs of `q` steps, `[m, q, ...]`, then of the remainder `[r, ...]`."""
    if ys_main is None:
        return None
    flat = jtu.tree_map(lambda y: y.reshape(m * q, *y.shape[2:]), ys_main)
    if ys_rest is None:
        return flat
    return jtu.tree_map(lambda a, b: jnp.concatenate([a, b], axis=0), flat, ys_rest)


def _nested_scan(
    body: Body, carry: PyTree, n: int, segment: int, unroll: int = 1
) -> tuple[PyTree, Any]:
    """`n` applications of `body`, as nested checkpointed scans with `segment` per level;
    the innermost scans run `unroll` steps per iteration."""
    if n <= segment:
        return jax.lax.scan(lambda c, _: body(c), carry, length=n, unroll=max(1, min(unroll, n)))
    q = segment ** (_levels(n, segment) - 1)  # steps per outer iteration
    m, r = divmod(n, q)

    @jax.checkpoint
    def outer(c, _):
        return _nested_scan(body, c, q, segment, unroll)

    carry, ys_main = jax.lax.scan(outer, carry, length=m)
    ys_rest = None
    if r:
        carry, ys_rest = _nested_scan(body, carry, r, segment, unroll)
    return carry, _stack(ys_main, ys_rest, m, q)
