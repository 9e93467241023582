"""Arrhenius rate builders: closed forms, Boltzmann at one temperature, the discrete blowtorch.

Ground truth: the Arrhenius formula evaluated entry by entry in NumPy, Boltzmann weights,
the 1D detailed-balance product formula, central finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneq as jn
from jaxneq.markov import EdgeRates, arrhenius_edge_rates, arrhenius_rates, stationary

N = 6


def landscape(seed=0, n=N):
    rng = np.random.default_rng(seed)
    energy = rng.normal(0.0, 1.0, n)
    saddle = rng.uniform(1.0, 3.0, (n, n))
    barriers = np.maximum(saddle + saddle.T, np.maximum.outer(energy, energy) + 0.1)
    return energy, barriers


def ring_edges(n=N):
    i = np.arange(n)
    return np.concatenate([i, (i + 1) % n]), np.concatenate([(i + 1) % n, i])


def test_dense_rates_follow_the_arrhenius_formula_entry_by_entry():
    energy, barriers = landscape()
    temperature = np.linspace(0.5, 2.0, N)
    rates = np.asarray(arrhenius_rates(energy, barriers, temperature, prefactor=2.5))
    for i in range(N):
        for j in range(N):
            expected = (
                0.0 if i == j else 2.5 * np.exp(-(barriers[i, j] - energy[i]) / temperature[i])
            )
            assert rates[i, j] == pytest.approx(expected, rel=1e-14)


def test_infinite_barrier_means_no_edge_with_finite_zero_gradient():
    energy, barriers = landscape(1)
    barriers[0, 3] = barriers[3, 0] = np.inf
    rates = arrhenius_rates(energy, barriers)
    assert rates[0, 3] == 0 and rates[3, 0] == 0

    def loss(e, b, t):
        return jnp.sum(jnp.log(stationary(arrhenius_rates(e, b, t))))

    grads = jax.grad(loss, argnums=(0, 1, 2))(jnp.asarray(energy), jnp.asarray(barriers), 1.3)
    for g in grads:
        assert bool(jnp.all(jnp.isfinite(g)))
    assert grads[1][0, 3] == 0


@pytest.mark.parametrize("temperature", [0.7, 2.0])
def test_symmetric_barriers_at_one_temperature_give_boltzmann(temperature):
    energy, barriers = landscape(2)
    p = np.asarray(stationary(arrhenius_rates(energy, barriers, temperature)))
    boltzmann = np.exp(-energy / temperature)
    np.testing.assert_allclose(p, boltzmann / boltzmann.sum(), rtol=1e-12)


def test_edge_rates_at_one_temperature_give_boltzmann_and_match_the_dense_builder():
    energy, barriers = landscape(3)
    src, dst = ring_edges()
    edges = arrhenius_edge_rates(src, dst, energy, barriers[src, dst], 0.8)
    dense = np.where(np.isin(np.arange(N * N), src * N + dst).reshape(N, N), barriers, np.inf)
    np.testing.assert_allclose(edges.to_dense(), arrhenius_rates(energy, dense, 0.8), rtol=1e-14)
    boltzmann = np.exp(-energy / 0.8)
    np.testing.assert_allclose(stationary(edges), boltzmann / boltzmann.sum(), rtol=1e-12)


def test_heated_barrier_between_two_wells_changes_their_ratio_on_a_ring():
    # The discrete blowtorch: heat the barrier on the far side of the ring (edges 3 <-> 4);
    # nothing adjacent to states 0 and 1 changes, yet p_0 / p_1 does.
    energy, barriers = landscape(4)
    src, dst = ring_edges()
    far = ((src == 3) & (dst == 4)) | ((src == 4) & (dst == 3))

    def ratio(hot):
        t = jnp.where(jnp.asarray(far), hot, 1.0)
        p = stationary(arrhenius_edge_rates(src, dst, energy, barriers[src, dst], t))
        return p[0] / p[1]

    cold = float(ratio(1.0))
    assert cold == pytest.approx(np.exp(-(energy[0] - energy[1])), rel=1e-12)
    assert abs(float(ratio(4.0)) / cold - 1) > 1e-3
    assert abs(float(jax.grad(ratio)(2.0))) > 1e-4


def test_per_edge_temperatures_on_a_chain_give_the_local_boltzmann_product():
    # On an open chain (a tree) detailed balance holds edge by edge:
    # p_{i+1}/p_i = exp(-(E_{i+1} - E_i) / T_{i,i+1}).
    energy, barriers = landscape(5)
    i = np.arange(N - 1)
    src, dst = np.concatenate([i, i + 1]), np.concatenate([i + 1, i])
    t_link = np.linspace(0.5, 3.0, N - 1)
    edges = arrhenius_edge_rates(src, dst, energy, barriers[src, dst], np.tile(t_link, 2))
    log_p = np.concatenate([[0.0], np.cumsum(-(energy[1:] - energy[:-1]) / t_link)])
    expected = np.exp(log_p - np.logaddexp.reduce(log_p))
    np.testing.assert_allclose(stationary(edges), expected, rtol=1e-12)


def test_per_state_temperature_uses_the_temperature_of_the_state_left():
    energy, barriers = landscape(6)
    t_state = np.linspace(0.5, 2.0, N)
    src, dst = ring_edges()
    edges = arrhenius_edge_rates(src, dst, energy, barriers[src, dst], t_state)
    expected = np.exp(-(barriers[src, dst] - energy[src]) / t_state[src])
    np.testing.assert_allclose(edges.rate, expected, rtol=1e-14)


def test_ambiguous_temperature_shape_requires_temperature_at():
    energy, barriers = landscape(7)
    src, dst = np.arange(N), (np.arange(N) + 1) % N  # m == n
    t = np.linspace(1.0, 2.0, N)
    with pytest.raises(ValueError, match="temperature_at"):
        arrhenius_edge_rates(src, dst, energy, barriers[src, dst], t)
    by_state = arrhenius_edge_rates(src, dst, energy, barriers[src, dst], t, temperature_at="state")
    by_edge = arrhenius_edge_rates(src, dst, energy, barriers[src, dst], t, temperature_at="edge")
    np.testing.assert_allclose(by_state.rate, np.exp(-(barriers[src, dst] - energy[src]) / t[src]))
    np.testing.assert_allclose(by_edge.rate, np.exp(-(barriers[src, dst] - energy[src]) / t))


def central_difference(fun, x, h=1e-6):
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        out[idx] = (float(fun(jnp.asarray(up))) - float(fun(jnp.asarray(down)))) / (2 * h)
    return out


def test_stationary_gradients_wrt_energies_barriers_temperatures_match_finite_differences():
    energy, barriers = landscape(8)
    src, dst = ring_edges()
    b = barriers[src, dst]
    t = np.linspace(0.6, 1.8, N)
    weights = jnp.asarray(np.random.default_rng(9).normal(size=N))

    def loss(e, b, t):
        return jnp.dot(weights, jnp.log(stationary(arrhenius_edge_rates(src, dst, e, b, t))))

    grads = jax.grad(loss, argnums=(0, 1, 2))(jnp.asarray(energy), jnp.asarray(b), jnp.asarray(t))
    args = [energy, b, t]
    for k, g in enumerate(grads):

        def partial(x, k=k):
            return loss(*[x if j == k else jnp.asarray(a) for j, a in enumerate(args)])

        np.testing.assert_allclose(g, central_difference(partial, args[k]), rtol=1e-6, atol=1e-9)


def test_dense_builder_gradient_wrt_per_edge_temperature_matches_finite_differences():
    energy, barriers = landscape(10)
    t = np.full((N, N), 1.0) + np.random.default_rng(11).uniform(0, 1, (N, N))

    def loss(temp):
        return stationary(arrhenius_rates(energy, barriers, temp))[2]

    g = np.asarray(jax.grad(loss)(jnp.asarray(t)))
    np.testing.assert_allclose(g, central_difference(loss, t), rtol=1e-6, atol=1e-10)
    np.testing.assert_array_equal(np.diag(g), 0.0)


def test_builders_work_under_jit_and_vmap_over_temperatures():
    energy, barriers = landscape(12)
    temps = jnp.linspace(0.5, 3.0, 8)

    @jax.jit
    def solve(t):
        return stationary(arrhenius_rates(energy, barriers, t))

    p = jax.vmap(solve)(temps)
    boltzmann = np.exp(-energy[None, :] / np.asarray(temps)[:, None])
    np.testing.assert_allclose(p, boltzmann / boltzmann.sum(1, keepdims=True), rtol=1e-12)


def test_float32_smoke():
    energy, barriers = landscape(13)
    e32, b32 = jnp.asarray(energy, jnp.float32), jnp.asarray(barriers, jnp.float32)
    dense = arrhenius_rates(e32, b32, jnp.float32(1.5))
    assert dense.dtype == jnp.float32
    src, dst = ring_edges()
    edges = arrhenius_edge_rates(src, dst, e32, b32[src, dst], jnp.ones(N, jnp.float32))
    assert isinstance(edges, EdgeRates) and edges.rate.dtype == jnp.float32
    g = jax.grad(lambda e: stationary(arrhenius_rates(e, b32))[0])(e32)
    assert g.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(g)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "`temperature` has an invalid entry"),
        ({"temperature": -np.ones(N)}, "`temperature` has an invalid entry at index"),
        ({"temperature": np.ones(N + 1)}, "`temperature` must be a scalar"),
        ({"prefactor": -1.0}, "`prefactor` has an invalid entry"),
        ({"temperature_at": "barrier"}, "`temperature_at` must be"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, match):
    energy, barriers = landscape(14)
    with pytest.raises(ValueError, match=match):
        arrhenius_rates(energy, barriers, **kwargs)


def test_bad_energies_and_barriers_raise_naming_the_argument():
    energy, barriers = landscape(15)
    with pytest.raises(ValueError, match="`energies` has an invalid entry at index 2"):
        arrhenius_rates(np.where(np.arange(N) == 2, np.nan, energy), barriers)
    bad = barriers.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"`barriers` has an invalid entry at index \(1, 2\)"):
        arrhenius_rates(energy, bad)
    with pytest.raises(ValueError, match="`barriers` must have shape"):
        arrhenius_rates(energy, barriers[:-1])
    src, dst = ring_edges()
    with pytest.raises(ValueError, match="out-of-range state index"):
        arrhenius_edge_rates(src, dst + N, energy, barriers[src, dst])


def test_bad_temperature_raises_under_jit():
    energy, barriers = landscape(16)
    with pytest.raises(Exception, match="`temperature` has an invalid entry"):
        jax.block_until_ready(jax.jit(lambda t: arrhenius_rates(energy, barriers, t))(-1.0))


def test_public_names_are_exported():
    assert jn.markov.arrhenius_rates is arrhenius_rates
    assert jn.markov.arrhenius_edge_rates is arrhenius_edge_rates
