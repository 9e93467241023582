"""The one-block GTH (vmapped, unrolled or as a loop, and unbatched) flags every bad
off-diagonal rate (negative, NaN, infinite) wherever it sits and whatever the chain's
structure (irreducible, transient states above or below the closed class), ignores a bad
diagonal, and solves a chain whose probabilities span more than the float64 range.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneq as jn
from jaxneq.markov import _dense_solvers as dense_module

N_SMALL = 5


def _structures(n):
    rng = np.random.default_rng(11)
    irreducible = rng.uniform(0.1, 1.0, (n, n)) * (1 - np.eye(n))
    closed_low = irreducible.copy()
    closed_low[:2, 2:] = 0.0  # {0, 1} closed, the states above it transient
    closed_high = irreducible.copy()
    closed_high[2:, :2] = 0.0  # {2, .., n-1} closed, 0 and 1 transient
    ring = np.zeros((n, n))
    ring[np.arange(n), (np.arange(n) + 1) % n] = 1.0  # one rate per row
    return {
        "irreducible": irreducible,
        "closed_low": closed_low,
        "closed_high": closed_high,
        "ring": ring,
    }


def _cases(n):
    """Every structure with one bad value at every off-diagonal position, and clean ones
    (also with a bad diagonal, which is ignored). Label: True where a bad value is in."""
    cases, bad = [], []
    for base in _structures(n).values():
        cases.append(base)
        bad.append(False)
        for (i, j), value in itertools.product(
            itertools.permutations(range(n), 2), (-1.0, -1e-300, np.nan, np.inf, -np.inf)
        ):
            rates = base.copy()
            rates[i, j] = value
            cases.append(rates)
            bad.append(True)
        for value in (np.nan, np.inf, -2.0):
            rates = base.copy()
            rates[1, 1] = value
            cases.append(rates)
            bad.append(False)
    return np.stack(cases), np.array(bad)


def _codes(batch):
    return np.asarray(jax.jit(jax.vmap(lambda r: dense_module._gth_small(r)[4]))(batch))


@pytest.mark.parametrize("unrolled", [False, True])
def test_every_bad_off_diagonal_rate_is_flagged_and_nothing_else(unrolled, monkeypatch):
    rates, bad = _cases(N_SMALL)
    batch = len(rates) + (1 if unrolled else 0)  # a shape of its own: no cached path
    rates = np.concatenate([rates, rates[:1]])[:batch]
    bad = np.concatenate([bad, bad[:1]])[:batch]
    monkeypatch.setattr(dense_module, "GTH_VMAP_UNROLL_MIN_BATCH", 1 if unrolled else 10**9)
    assert dense_module._unroll_under_vmap(N_SMALL, batch) == unrolled
    codes = _codes(jnp.asarray(rates))
    np.testing.assert_array_equal(codes == dense_module._INVALID, bad)
    np.testing.assert_array_equal(codes[~bad], dense_module._OK)


def test_every_bad_off_diagonal_rate_is_flagged_in_an_unbatched_traced_solve():
    rates, bad = _cases(4)
    code = jax.jit(lambda r: dense_module._gth_small(r)[4])
    codes = np.array([int(code(jnp.asarray(r))) for r in rates])
    np.testing.assert_array_equal(codes == dense_module._INVALID, bad)


def _birth_death(n, up, down):
    rates = np.zeros((n, n))
    rates[np.arange(n - 1), np.arange(1, n)] = up
    rates[np.arange(1, n), np.arange(n - 1)] = down
    log_p = np.concatenate([[0.0], np.cumsum(np.log(up) - np.log(down))])
    return rates, log_p - np.logaddexp.reduce(log_p)


def test_unrolled_vmap_solves_a_chain_spanning_more_than_the_float64_range(monkeypatch):
    # p rises by 1e12 per state: relative to state 0 the top one is 1e372, beyond float64;
    # the back substitution must rescale instead of overflowing.
    n, batch = 32, 7
    monkeypatch.setattr(dense_module, "GTH_VMAP_UNROLL_MIN_BATCH", 4)
    stiff, log_stiff = _birth_death(n, np.full(n - 1, 1e12), np.ones(n - 1))
    mild, log_mild = _birth_death(n, np.linspace(1.0, 2.0, n - 1), np.ones(n - 1))
    rates = np.stack([mild] * (batch - 1) + [stiff])
    p = np.asarray(jax.jit(jax.vmap(jn.markov.stationary))(jnp.asarray(rates)))
    np.testing.assert_allclose(np.log(p[0]), log_mild, rtol=0, atol=1e-12)
    keep = log_stiff > np.log(np.finfo(float).tiny)  # the rest underflows to 0 (as it must)
    np.testing.assert_allclose(np.log(p[-1][keep]), log_stiff[keep], rtol=0, atol=1e-10)
    assert np.all(p[-1][~keep] < 1e-300)
