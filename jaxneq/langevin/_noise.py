r"""The Gaussian noise of the Langevin engine: threefry2x32 with both words of every block.

`standard_normal(key, shape, dtype)` is what every integrator (and the random initial
states of `Underdamped` and `ActiveOU`) draws. For a threefry key (JAX's default) it runs
the threefry2x32 block cipher of `jax.random` on the counters $0, 1, \dots$ of the
flattened array, but keeps BOTH 32-bit output words of each block:

- 32-bit (and narrower) dtypes: element $2i$ takes the first word of block $i$, element
  $2i+1$ the second, so $\lceil N/2 \rceil$ blocks make $N$ numbers;
- 64-bit dtypes: element $i$ takes the two words of block $i$ (first word high);

then the top mantissa bits give $u$ uniform on $(-1, 1)$ and $\xi = \sqrt2\,
\mathrm{erf}^{-1}(u)$, with the arithmetic of `jax.random.normal`. A 64-bit block is what
partitionable `jax.random.normal` uses too: float64 numbers are bitwise those of
`jax.random.normal(key, shape, jnp.float64)`; float32 numbers differ from it.

Why not `jax.random.normal`: with `jax_threefry_partitionable` (JAX's default) it spends one
block per 32-bit number and discards half of it, and the block cipher (20 rounds) is most of
the cost of an overdamped step. Keeping both words halves it: `benchmarks/langevin.py`'s
`profile_floor` (2-core CPU, float32, 1e5 members) draws 240 M normals/s with
`standard_normal` against 134 M/s with `jax.random.normal`. XLA's native `RngBitGenerator`
(threefry) measured about as fast in a loaded A/B (0.67 against 0.75 s for 1000 steps of
1e5 members), but it is not an option: its numbers change under `vmap` over keys and
with the number of devices an array is sharded over. Here everything is elementwise on an
iota, so the numbers depend only on the key and on the global shape: the same under
`jit`, `vmap`, any sharding, any chunking and any resume, on every backend. Keeping both
words of a block is what `jax.random` itself did before partitionable threefry
(`jax.extend.random.threefry_2x32`).

Keys of other implementations (`rbg`, `unsafe_rbg`) go to `jax.random.normal` unchanged.

Reference: J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers:
as easy as 1, 2, 3", SC'11 (2011) (threefry).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.extend.random import threefry2x32_p
from jaxtyping import Array, PRNGKeyArray

_MAX_BLOCKS = 2**32


def _key_words(key) -> Array | None:
    """The two uint32 words of a threefry key (typed or raw), or None for other PRNGs."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if jr.key_impl(key) != "threefry2x32":
            return None
        return jr.key_data(key)
    if (
        key.shape == (2,)
        and key.dtype == jnp.uint32
        and jax.config.jax_default_prng_impl == "threefry2x32"
    ):
        return key
    return None


def _open_unit(bits: Array) -> Array:
    """Uniform on $(-1, 1)$ from the top mantissa bits of unsigned `bits` (32 or 64 bits),
    by the arithmetic of `jax.random.uniform(minval=nextafter(-1, 1), maxval=1)`."""
    if bits.dtype == jnp.uint64:
        one, mantissa, float_dtype = 0x3FF0000000000000, 52, jnp.float64
    else:
        one, mantissa, float_dtype = 0x3F800000, 23, jnp.float32
    shift = jnp.asarray(bits.dtype.itemsize * 8 - mantissa, bits.dtype)
    unit = jax.lax.bitcast_convert_type((bits >> shift) | jnp.asarray(one, bits.dtype), float_dtype)
    lo = jnp.nextafter(jnp.asarray(-1, float_dtype), jnp.asarray(1, float_dtype))
    return jnp.maximum(lo, (unit - 1) * (1 - lo) + lo)


def standard_normal(key: PRNGKeyArray, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    r"""Standard normal numbers of `shape` from `key`, as the Langevin engine draws them.

    Threefry2x32 on the counters of the flattened array, both words of each block used (one
    block per two 32-bit numbers, or per 64-bit number); see the module docstring for the
    layout, so that a user can reproduce a simulation's noise. The numbers depend only on
    `key`, `shape` and `dtype`: the same under `jit`, `vmap` and any sharding of the result.

    **Arguments:**

    - `key`: a PRNG key. Threefry keys (the default) take the fast path; keys of other
      implementations go to `jax.random.normal`.
    - `shape`: the shape of the result; `dtype`: a floating dtype.

    **Returns:** an array of `shape` and `dtype`.

    **Example:**

    ```python
    xi = jn.langevin.standard_normal(jax.random.key(0), (1024, 2))
    ```
    """
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"`dtype` must be a floating dtype, got {dtype}")
    words = _key_words(key)
    if words is None:
        return jr.normal(key, shape, dtype)
    n = math.prod(shape)
    wide = dtype.itemsize == 8 and jax.config.jax_enable_x64
    blocks = n if wide else (n + 1) // 2
    if blocks >= _MAX_BLOCKS:
        raise ValueError(
            f"standard_normal draws at most {_MAX_BLOCKS} blocks per key, got shape {shape}: "
            "split the draw over several keys"
        )
    counter = jnp.arange(blocks, dtype=jnp.uint32)
    first, second = threefry2x32_p.bind(words[0], words[1], jnp.zeros_like(counter), counter)
    if wide:
        bits = (first.astype(jnp.uint64) << jnp.uint64(32)) | second.astype(jnp.uint64)
    else:
        bits = jnp.stack([first, second], axis=-1).reshape(-1)[:n]
    u = _open_unit(bits)
    return (jnp.sqrt(jnp.asarray(2, u.dtype)) * jax.lax.erf_inv(u)).astype(dtype).reshape(shape)
