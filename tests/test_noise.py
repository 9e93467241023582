"""The Langevin engine's Gaussian generator, `jaxneq.langevin.standard_normal`.

Ground truth: the standard normal law (quantile fractions with binomial tolerances), the
independence of the two words of a threefry block, `jax.random.normal` itself for float64
and for non-threefry keys, and the determinism promises (jit, vmap, prefixes, sharding).
"""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.stats

import jaxneq as jn

N_SE = 4.5  # standard errors allowed by the statistical checks (fixed keys)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_standard_normal_has_the_normal_quantiles(dtype):
    n = 400_000
    z = np.asarray(jn.langevin.standard_normal(jr.key(0), (n // 4, 4), dtype)).ravel()
    assert z.dtype == np.dtype(dtype) and np.all(np.isfinite(z))
    for q in (0.001, 0.02, 0.16, 0.5, 0.84, 0.98, 0.999):
        frac = np.mean(z < scipy.stats.norm.ppf(q))
        assert abs(frac - q) < N_SE * np.sqrt(q * (1 - q) / n), q
    assert abs(z.mean()) < N_SE / np.sqrt(n)
    assert abs(z.var() - 1) < N_SE * np.sqrt(2 / n)


def test_the_two_words_of_a_block_are_uncorrelated():
    # float32 elements 2i and 2i+1 come from one threefry block: their correlation (and that
    # of their squares) must vanish within the sampling error of n/2 pairs
    n = 400_000
    z = np.asarray(jn.langevin.standard_normal(jr.key(1), (n,), jnp.float32), dtype=float)
    a, b = z[0::2], z[1::2]
    se = 1 / np.sqrt(n // 2)
    assert abs(np.corrcoef(a, b)[0, 1]) < N_SE * se
    assert abs(np.corrcoef(a**2, b**2)[0, 1]) < N_SE * se
    # and neighbouring blocks
    assert abs(np.corrcoef(b[:-1], a[1:])[0, 1]) < N_SE * se


def test_float64_is_bitwise_jax_random_normal():
    with jax.enable_x64(True):
        for key in (jr.key(3), jr.PRNGKey(4)):
            for shape in [(1000, 3), (7,), (1, 1)]:
                ours = jn.langevin.standard_normal(key, shape, jnp.float64)
                np.testing.assert_array_equal(ours, jr.normal(key, shape, jnp.float64))


def test_other_prng_implementations_use_jax_random_normal():
    key = jr.key(5, impl="rbg")
    ours = jn.langevin.standard_normal(key, (64, 2), jnp.float32)
    np.testing.assert_array_equal(ours, jr.normal(key, (64, 2), jnp.float32))


def test_numbers_depend_only_on_the_key_and_the_flat_position():
    key = jr.key(6)
    full = jn.langevin.standard_normal(key, (101, 3))
    # a prefix of the ensemble gets the same numbers (element i*d + j uses block (i*d+j)//2)
    np.testing.assert_array_equal(jn.langevin.standard_normal(key, (40, 3)), full[:40])
    np.testing.assert_array_equal(
        jax.jit(jn.langevin.standard_normal, static_argnums=1)(key, (101, 3)), full
    )
    keys = jr.split(key, 5)
    batched = jax.vmap(lambda k: jn.langevin.standard_normal(k, (9, 2)))(keys)
    for i in range(5):
        np.testing.assert_array_equal(batched[i], jn.langevin.standard_normal(keys[i], (9, 2)))


SHARDED = """
import jax, numpy as np, jax.random as jr
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import jaxneq as jn
assert len(jax.devices()) == 4
sharding = NamedSharding(Mesh(np.array(jax.devices()), ("b",)), PartitionSpec("b"))
key = jr.key(7)
for shape in [(64, 3), (36, 1), (8, 5, 2)]:
    draw = jax.jit(lambda k: jn.langevin.standard_normal(k, shape), out_shardings=sharding)
    sharded = draw(key)
    assert len(sharded.sharding.device_set) == 4
    one = jax.jit(lambda k: jn.langevin.standard_normal(k, shape))(key)
    np.testing.assert_array_equal(np.asarray(sharded), np.asarray(one))
print("ok")
"""


def test_sharded_draw_equals_the_single_device_draw():
    # JAX fixes the number of host devices at start-up: a subprocess with four of them
    env = dict(os.environ)
    env.update(XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_narrow_dtypes_and_bad_dtypes():
    z = jn.langevin.standard_normal(jr.key(8), (1000,), jnp.bfloat16)
    assert z.dtype == jnp.bfloat16 and bool(jnp.all(jnp.isfinite(z)))
    with pytest.raises(ValueError, match="`dtype` must be a floating dtype"):
        jn.langevin.standard_normal(jr.key(8), (3,), jnp.int32)
