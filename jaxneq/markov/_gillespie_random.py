r"""Random numbers of the Gillespie SSA: Philox4x32-10 in counter mode. Units: k_B = 1.

Every jump needs a standard exponential $E$ (the dwell time is $E / \lambda_x$) and a
uniform $w \in [0, 1)$ (the next state). Jump $j$ (0-based) of a run whose key is `key`
takes both from ONE block of Philox4x32-10 (Salmon et al. 2011), a counter-based generator:

- Philox key: the two words `jax.random.bits(key, (2,), jnp.uint32)`;
- counter: `(j mod 2**32, j // 2**32, 0, 0)`;
- output words `(c0, c1, c2, c3)`: float64 takes $v$ from the 52 high bits of
  `c0 << 32 | c1` and $w$ from those of `c2 << 32 | c3`; other dtypes take 23 bits of `c0`
  and of `c2` in float32; $E = -\ln(1 - v)$, computed exactly as written ($1 - v$ is exact).

So a jump's numbers depend only on the run's key and the jump's number: not on how the
jumps are grouped into blocks, how the ensemble is laid out or sharded, nor where a run is
resumed. Why not `jax.random`: threefry2x32 gives 64 bits per 20-round block, so the 128
bits of a float64 jump cost two blocks plus the key split, about 3x the work of one
Philox4x32-10 block; on a CPU that alone made the SSA slower than a NumPy loop. Philox is
Crush-resistant (passes TestU01's BigCrush) and is the generator of cuRAND and PyTorch.

The float64 logarithm is a vectorisable port of fdlibm's `log` (error < 1 ulp); XLA's own
float64 `log` calls a scalar routine on a CPU, twice as slow.

Reference: J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers:
as easy as 1, 2, 3", SC'11 (2011).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, UInt32

BLOCK_BITS = 4
BLOCK = 1 << BLOCK_BITS  # jumps drawn together; a jump's numbers never depend on it

_M0, _M1 = np.uint32(0xD2511F53), np.uint32(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)


_LOW = np.uint64(0xFFFFFFFF)


def _philox_packed(words, key, rounds: int = 10):
    """Philox4x32 on the counter packed in two uint64 words `(c0 | c1 << 32, c2 | c3 << 32)`
    with the key words `(k0, k1)` as uint64; returns the output packed the same way.

    Packed, each output word depends on one multiply per round: XLA fuses each output into
    its own loop and recomputes what they share, so four uint32 outputs cost about twice.
    A round's new word is the product with its halves swapped (a rotation by 32, which
    LLVM emits as one instruction) xor the old high half and the key: written as
    `hi(p) ^ ... | p << 32` instead, LLVM folded the shift into a second full 64-bit
    multiply (`vpmullq`), and the SSA ran 20-30% slower.
    """
    a, b = words
    k0, k1 = key
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + np.uint64(_W0)) & _LOW, (k1 + np.uint64(_W1)) & _LOW
        p0 = (a & _LOW) * np.uint64(_M0)
        p1 = (b & _LOW) * np.uint64(_M1)
        a, b = (
            ((p1 >> 32) | (p1 << 32)) ^ ((a >> 32) ^ k0),
            ((p0 >> 32) | (p0 << 32)) ^ ((b >> 32) ^ k1),
        )
    return a, b


def philox4x32(counter, key, rounds: int = 10):
    """Philox4x32-`rounds` of four uint32 counter words and two uint32 key words (arrays
    that broadcast together); returns the four output words."""
    c0, c1, c2, c3 = (jnp.asarray(c, jnp.uint32).astype(jnp.uint64) for c in counter)
    k0, k1 = (jnp.asarray(k, jnp.uint32).astype(jnp.uint64) for k in key)
    a, b = _philox_packed((c0 | (c1 << 32), c2 | (c3 << 32)), (k0, k1), rounds)
    return tuple(w.astype(jnp.uint32) for w in (a & _LOW, a >> 32, b & _LOW, b >> 32))


def run_key(key) -> UInt32[Array, "2"]:
    """The Philox key words of a run with JAX key `key` (any JAX PRNG implementation)."""
    return jr.bits(key, (2,), jnp.uint32)


def _unit64(word):
    """[0, 1) from the 52 high bits of `c_first << 32 | c_second` for a packed `word`
    `c_first | c_second << 32` (exact float64 multiples of 2^-52)."""
    bits = (((word & _LOW) << 32) | (word >> 32)) >> 12
    one_two = jax.lax.bitcast_convert_type(bits | jnp.uint64(0x3FF0000000000000), jnp.float64)
    return one_two - 1.0


def _unit32(word):
    bits = (word >> 9) | jnp.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(bits, jnp.float32) - 1.0


_LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10


def log64(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """Natural logarithm of positive normal float64 numbers (fdlibm's algorithm, < 1 ulp)."""
    bits = jax.lax.bitcast_convert_type(x, jnp.uint64)
    hx = (bits >> 32).astype(jnp.uint32) + jnp.uint32(0x3FF00000 - 0x3FE6A09E)
    k = (hx >> 20).astype(jnp.int32) - 0x3FF
    hx = (hx & jnp.uint32(0x000FFFFF)) + jnp.uint32(0x3FE6A09E)  # mantissa in [sqrt2/2, sqrt2)
    low = bits & jnp.uint64(0xFFFFFFFF)
    f = jax.lax.bitcast_convert_type((hx.astype(jnp.uint64) << 32) | low, jnp.float64) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    dk = k.astype(jnp.float64)
    return s * (hfsq + t2 + t1) + dk * _LN2_LO - hfsq + f + dk * _LN2_HI


def jump_bits(keys: UInt32[Array, "b 2"], block, size: int):
    """The Philox blocks of jumps `block * BLOCK + i`, `i < size`, of every run: two packed
    uint64 words `[size, b]` each (`block`: a uint32 scalar, may be traced).

    Kept apart from `variates`: XLA computes each packed word in its own loop (both need
    all ten rounds), so the words are written to memory once here and read by the jumps,
    instead of being recomputed inside every loop that converts them.
    """
    block = jnp.asarray(block, jnp.uint32)
    i = jnp.arange(size, dtype=jnp.uint32)[:, None]
    lo = ((block << BLOCK_BITS) + i + jnp.zeros_like(keys[:, 0])).astype(jnp.uint64)
    hi = (block >> (32 - BLOCK_BITS)).astype(jnp.uint64)
    key = (keys[:, 0].astype(jnp.uint64), keys[:, 1].astype(jnp.uint64))
    return _philox_packed((lo | (hi << 32), jnp.zeros_like(lo)), key)


def variates(bits, dtype):
    """The exponential `E` and the uniform `w` in `dtype` of the packed Philox words `bits`
    of `jump_bits` (any shape)."""
    a, b = bits
    if jnp.dtype(dtype) == jnp.float64:
        return -log64(1.0 - _unit64(a)), _unit64(b)
    first, third = (a & _LOW).astype(jnp.uint32), (b & _LOW).astype(jnp.uint32)
    exponential = -jnp.log(1.0 - _unit32(first))
    return exponential.astype(dtype), _unit32(third).astype(dtype)
