"""Arrhenius rate builders: closed forms, Boltzmann at one temperature, the discrete blowtorch.

Ground truth: the Arrhenius formula evaluated entry by entry in NumPy, Boltzmann weights,
the 1D detailed-balance product formula, the Markov chain tree theorem on a cycle, central
finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import central_difference

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
        ({"temperature": -np.ones(N)}, "`temperature` has an invalid entry at state 0"),
        (
            {"temperature": np.where(np.arange(N) == 3, -1.0, 1.0)},
            "`temperature` has an invalid entry at state 3:",
        ),
        (
            {"temperature": np.where(np.arange(N * N).reshape(N, N) == 2 * N + 4, 0.0, 1.0)},
            r"`temperature` has an invalid entry at pair \(2, 4\)",
        ),
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
    with pytest.raises(ValueError, match="`energies` has an invalid entry at state 2"):
        arrhenius_rates(np.where(np.arange(N) == 2, np.nan, energy), barriers)
    bad = barriers.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"`barriers` has an invalid entry at pair \(1, 2\)"):
        arrhenius_rates(energy, bad)
    with pytest.raises(ValueError, match="`barriers` must have shape"):
        arrhenius_rates(energy, barriers[:-1])
    src, dst = ring_edges()
    with pytest.raises(ValueError, match="out-of-range state index"):
        arrhenius_edge_rates(src, dst + N, energy, barriers[src, dst])


def test_edge_list_errors_report_a_state_for_per_state_and_an_edge_for_per_edge_values():
    energy, barriers = landscape(17)
    src, dst = ring_edges()
    b = barriers[src, dst]
    t_state = np.where(np.arange(N) == 4, np.nan, 1.0)
    with pytest.raises(ValueError, match="`temperature` has an invalid entry at state 4:"):
        arrhenius_edge_rates(src, dst, energy, b, t_state, temperature_at="state")
    t_edge = np.where(np.arange(2 * N) == 7, -1.0, 1.0)
    with pytest.raises(ValueError, match="`temperature` has an invalid entry at edge 7:"):
        arrhenius_edge_rates(src, dst, energy, b, t_edge)
    with pytest.raises(ValueError, match="`barriers` has an invalid entry at edge 5:"):
        arrhenius_edge_rates(src, dst, energy, np.where(np.arange(2 * N) == 5, np.inf, b))
    with pytest.raises(ValueError, match="`prefactor` has an invalid entry at edge 2:"):
        arrhenius_edge_rates(
            src, dst, energy, b, prefactor=np.where(np.arange(2 * N) == 2, -1.0, 1.0)
        )
    with pytest.raises(ValueError, match="`energies` has an invalid entry at state 1:"):
        arrhenius_edge_rates(src, dst, np.where(np.arange(N) == 1, np.inf, energy), b)


def test_bad_temperature_raises_under_jit():
    energy, barriers = landscape(16)
    with pytest.raises(Exception, match="`temperature` has an invalid entry"):
        jax.block_until_ready(jax.jit(lambda t: arrhenius_rates(energy, barriers, t))(-1.0))


def test_public_names_are_exported():
    assert jn.markov.arrhenius_rates is arrhenius_rates
    assert jn.markov.arrhenius_edge_rates is arrhenius_edge_rates


# --------------------------------------------------------------------------------------
# jn.models.blowtorch_ring: a ring double well with one heated slope


def ring_model_rates(hot, n, cold=1.0, depth=2.0, tilt=0.3, offset=0.5):
    """The documented model written out in NumPy: dense rates [n, n]."""
    theta = 2 * np.pi * np.arange(n) / n
    energy = depth * np.cos(2 * theta) + tilt * np.sin(theta)
    rates = np.zeros((n, n))
    for link in range(n):
        i, j = link, (link + 1) % n
        barrier = max(energy[i], energy[j]) + offset
        t = hot if link < n // 4 else cold
        rates[i, j] = np.exp(-(barrier - energy[i]) / t)
        rates[j, i] = np.exp(-(barrier - energy[j]) / t)
    return energy, rates


def cycle_tree_theorem(rates):
    """Stationary state of a single cycle by the Markov chain tree theorem: the spanning
    trees of a cycle are the paths left by removing one link, directed towards the root."""
    n = rates.shape[0]
    log_w = np.full(n, -np.inf)
    for removed in range(n):
        order = [(removed + 1 + q) % n for q in range(n)]  # the path, end to end
        for pr, root in enumerate(order):
            log_tree = 0.0
            for q, state in enumerate(order):
                if q < pr:
                    log_tree += np.log(rates[state, order[q + 1]])
                elif q > pr:
                    log_tree += np.log(rates[state, order[q - 1]])
            log_w[root] = np.logaddexp(log_w[root], log_tree)
    return np.exp(log_w - np.logaddexp.reduce(log_w))


def test_blowtorch_ring_at_one_temperature_is_boltzmann_in_its_energies():
    # Detailed balance at hot == temperature: jaxneq's stationary state, and the independent
    # tree-theorem reference used below, are both Boltzmann in blowtorch_ring_energies.
    energy = np.asarray(jn.models.blowtorch_ring_energies(8))
    boltzmann = np.exp(-energy) / np.exp(-energy).sum()
    np.testing.assert_allclose(
        jn.markov.stationary(jn.models.blowtorch_ring(1.0, 8)), boltzmann, rtol=1e-12
    )
    np.testing.assert_allclose(
        cycle_tree_theorem(ring_model_rates(1.0, 8)[1]), boltzmann, rtol=1e-12
    )


def test_blowtorch_ring_rates_are_the_documented_model():
    for hot in (1.0, 3.5):
        edges = jn.models.blowtorch_ring(hot, 16)
        np.testing.assert_allclose(edges.to_dense(), ring_model_rates(hot, 16)[1], rtol=1e-13)
    energy = ring_model_rates(1.0, 16)[0]
    np.testing.assert_allclose(
        jn.models.blowtorch_ring_energies(16), energy, rtol=1e-13, atol=1e-15
    )


@pytest.mark.parametrize("hot", [0.5, 1.0, 2.0, 6.0])
def test_blowtorch_ring_stationary_state_matches_the_tree_theorem(hot):
    p = jn.markov.stationary(jn.models.blowtorch_ring(hot, 16))
    np.testing.assert_allclose(p, cycle_tree_theorem(ring_model_rates(hot, 16)[1]), rtol=1e-10)


def test_heating_the_slope_moves_the_well_ratio_away_from_boltzmann_and_drives_a_current():
    n = 16
    a, b = n // 4, 3 * n // 4
    energy = ring_model_rates(1.0, n)[0]
    ratios = []
    for hot in (1.0, 2.0, 4.0):
        rates = ring_model_rates(hot, n)[1]
        p = cycle_tree_theorem(rates)
        p_jaxneq = jn.markov.stationary(jn.models.blowtorch_ring(hot, n))
        ratios.append(float(p_jaxneq[a] / p_jaxneq[b]))
        i = np.arange(n)
        exact = p * rates[i, (i + 1) % n] - p[(i + 1) % n] * rates[(i + 1) % n, i]
        current = jn.markov.currents(jn.models.blowtorch_ring(hot, n), jnp.asarray(p))[:n]
        # one current around the cycle, zero only at equal temperatures
        np.testing.assert_allclose(current, np.full(n, exact[0]), rtol=1e-9, atol=1e-15)
        assert (abs(exact[0]) < 1e-15) == (hot == 1.0)
    np.testing.assert_allclose(ratios[0], np.exp(-(energy[a] - energy[b])), rtol=1e-12)
    assert ratios[0] > ratios[1] > ratios[2]  # heating A's slope empties A


def test_blowtorch_ring_gradient_matches_finite_differences():
    def ratio(t):
        p = jn.markov.stationary(jn.models.blowtorch_ring(t[0], 16))
        return p[4] / p[12]

    t = jnp.array([2.0])
    np.testing.assert_allclose(jax.grad(ratio)(t), central_difference(ratio, t), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"hot_temperature": 0.0}, r"`hot_temperature` must be finite and > 0, got 0.0"),
        ({"temperature": -1.0}, r"`temperature` must be finite and > 0"),
        ({"barrier_offset": -0.1}, r"`barrier_offset` must be finite and >= 0"),
        ({"depth": -1.0}, r"`depth` must be finite and >= 0"),
        ({"n": 10}, r"`n` must be an int >= 8 divisible by 4"),
    ],
)
def test_blowtorch_ring_rejects_out_of_range_arguments(kwargs, match):
    args = {"hot_temperature": 2.0, "n": 16, **kwargs}
    with pytest.raises(ValueError, match=match):
        jn.models.blowtorch_ring(**args)


def test_blowtorch_ring_traced_temperature_is_checked_under_jit():
    build = jax.jit(lambda t: jn.models.blowtorch_ring(t, 8).rate)
    assert bool(jnp.all(build(2.0) > 0))
    with pytest.raises(Exception, match="`hot_temperature` must be finite and > 0"):
        jax.block_until_ready(build(-2.0))


def test_blowtorch_ring_float32_smoke():
    edges = jn.models.blowtorch_ring(jnp.float32(2.0), 8)
    assert edges.rate.dtype == jnp.float32
    p = jn.markov.stationary(edges)
    np.testing.assert_allclose(p, cycle_tree_theorem(ring_model_rates(2.0, 8)[1]), rtol=1e-4)
