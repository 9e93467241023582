"""Driven rings of wells and barriers (`jaxneq.models.driven_ring`, `random_driven_ring`):
Boltzmann's law without drive, the exact rattling law with equal barriers, the cycle
affinity, the statistics of the random spreads, and argument checks. References: numpy
null vectors of the generator and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import N_SE, central_difference, unit_roundoff

import jaxneq as jn

U = unit_roundoff(np.float64)


def numpy_stationary(rates):
    rates = np.asarray(rates, np.float64)
    Q = rates - np.diag(rates.sum(1))
    B = np.vstack([Q.T, np.ones(len(Q))])
    rhs = np.zeros(len(Q) + 1)
    rhs[-1] = 1
    return np.linalg.lstsq(B, rhs, rcond=None)[0], np.linalg.cond(B)


E = np.array([0.0, -0.7, 0.4, 1.1, -0.2])
B = np.array([1.0, 0.3, 1.6, 0.8, 0.5])


def test_undriven_ring_is_boltzmann_distributed():
    T = 0.7
    p, cond = numpy_stationary(jn.models.driven_ring(E, B, 0.0, T))
    boltzmann = np.exp(-E / T) / np.exp(-E / T).sum()
    np.testing.assert_allclose(p, boltzmann, rtol=0, atol=8 * cond * U)


def test_equal_barriers_and_uniform_drive_give_the_rattling_law_with_gamma_one():
    rates = np.asarray(jn.models.driven_ring(E, np.full(5, 0.5), 3.0))
    p, cond = numpy_stationary(rates)
    inverse_exit = 1 / rates.sum(1)
    np.testing.assert_allclose(p, inverse_exit / inverse_exit.sum(), rtol=0, atol=8 * cond * U)
    fit = jn.rattling.fit_gamma(jn.markov.stationary(rates), jn.rattling.from_rates(rates))
    np.testing.assert_allclose(float(fit.gamma), 1.0, atol=1e3 * U)


def test_cycle_affinity_is_the_total_drive_over_temperature():
    f, T = np.array([0.3, -1.0, 2.0, 0.5, 0.1]), 1.3
    rates = np.asarray(jn.models.driven_ring(E, B, f, T))
    n = len(E)
    log_ratio = sum(np.log(rates[i, (i + 1) % n] / rates[(i + 1) % n, i]) for i in range(n))
    np.testing.assert_allclose(log_ratio, f.sum() / T, rtol=1e-12)
    assert np.count_nonzero(rates) == 2 * n


def test_random_ring_spreads_have_the_requested_variances():
    # one link per ring (independent across rings): with f = 0, T = 1,
    # log(r01 / r10) = E0 - E1 ~ N(0, 2 s_E^2) and log(r01 r10) = E0 + E1 - 2 B0 ~
    # N(0, 2 s_E^2 + 4 s_B^2); the sample variance of N Gaussians has stderr var sqrt(2/(N-1))
    s_E, s_B, n_rings = 0.8, 1.5, 4000
    keys = jax.random.split(jax.random.key(3), n_rings)
    rates = jax.vmap(
        lambda k: jn.models.random_driven_ring(k, 6, well_spread=s_E, barrier_spread=s_B)
    )(keys)
    r01, r10 = np.asarray(rates[:, 0, 1]), np.asarray(rates[:, 1, 0])
    for values, var in (
        (np.log(r01 / r10), 2 * s_E**2),
        (np.log(r01 * r10), 2 * s_E**2 + 4 * s_B**2),
    ):
        assert abs(values.mean()) <= N_SE * np.sqrt(var / n_rings)
        assert abs(values.var(ddof=1) - var) <= N_SE * var * np.sqrt(2 / (n_rings - 1))


def test_random_ring_same_key_same_draws_whatever_the_spreads():
    key = jax.random.key(7)
    a = jn.models.random_driven_ring(key, 5, well_spread=1.0, barrier_spread=0.5)
    b = jn.models.random_driven_ring(key, 5, well_spread=2.0, barrier_spread=1.0)
    # doubling both spreads at T = 1 doubles every log rate
    mask = np.asarray(a) > 0
    np.testing.assert_allclose(np.log(np.asarray(b)[mask]), 2 * np.log(np.asarray(a)[mask]))


def test_stationary_law_is_differentiable_in_the_drive():
    def p0(f):
        return jn.markov.stationary(jn.models.driven_ring(E, B, f))[0]

    f = jnp.asarray(0.7)
    np.testing.assert_allclose(jax.grad(p0)(f), central_difference(p0, np.float64(0.7)), rtol=1e-6)


def test_float32_smoke():
    rates = jn.models.random_driven_ring(
        jax.random.key(0),
        8,
        barrier_spread=jnp.float32(1.0),
        well_spread=jnp.float32(1.0),
        drive=jnp.float32(2.0),
    )
    assert rates.dtype == jnp.float32
    fit = jn.rattling.fit_gamma(jn.markov.stationary(rates), jn.rattling.from_rates(rates))
    assert np.isfinite(float(fit.gamma))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: jn.models.random_driven_ring(jax.random.key(0), 2), "n_states"),
        (
            lambda: jn.models.random_driven_ring(jax.random.key(0), 4, barrier_spread=-1.0),
            "barrier_spread",
        ),
        (
            lambda: jn.models.random_driven_ring(jax.random.key(0), 4, well_spread=np.nan),
            "well_spread",
        ),
        (lambda: jn.models.random_driven_ring(jax.random.key(0), 4, drive=np.ones(4)), "drive"),
        (lambda: jn.models.driven_ring(E, B[:3]), "barriers"),
        (lambda: jn.models.driven_ring(E, B, np.ones(3)), "drive"),
        (lambda: jn.models.driven_ring(E, B, 0.0, 0.0), "temperature"),
        (lambda: jn.models.driven_ring(E[:2], B[:2]), "n >= 3"),
    ],
)
def test_bad_arguments_raise_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_spread_under_jit_raises():
    build = jax.jit(lambda s: jn.models.random_driven_ring(jax.random.key(0), 4, barrier_spread=s))
    with pytest.raises(Exception, match="barrier_spread"):
        jax.block_until_ready(build(-1.0))
