"""Currents, entropy production, cycle affinities, MFPT, relaxation spectrum and p(t)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from _stats import central_difference

import jaxneq as jn
from jaxneq.markov import EdgeRates

# --------------------------------------------------------------------------------------------
# Test chains (references are computed in NumPy/SciPy inside each test)
# --------------------------------------------------------------------------------------------


def detailed_balance_rates(n=5, seed=0):
    """Complete graph with r_ij = exp(E_i - B_ij), B symmetric: p ∝ exp(-E), no currents."""
    rng = np.random.default_rng(seed)
    energy = rng.normal(size=n)
    barrier = rng.uniform(1.0, 3.0, size=(n, n))
    barrier = barrier + barrier.T
    rates = np.exp(energy[:, None] - barrier)
    np.fill_diagonal(rates, 0.0)
    return rates, energy


def driven_rates(n=5, seed=1):
    """A generic dense chain without detailed balance."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.2, 2.0, size=(n, n))
    np.fill_diagonal(rates, 0.0)
    return rates


def driven_ring(n=5, seed=2):
    """Single ring 0 -> 1 -> ... -> n-1 -> 0 with unequal forward/backward rates."""
    rng = np.random.default_rng(seed)
    forward = rng.uniform(1.0, 3.0, size=n)
    backward = rng.uniform(0.2, 1.0, size=n)
    rates = np.zeros((n, n))
    for i in range(n):
        rates[i, (i + 1) % n] = forward[i]
        rates[(i + 1) % n, i] = backward[i]
    return rates, forward, backward


def np_generator(rates):
    rates = np.array(rates, dtype=float)
    np.fill_diagonal(rates, 0.0)
    return rates - np.diag(rates.sum(1))


def np_stationary(rates):
    q = np_generator(rates)
    n = q.shape[0]
    a = np.vstack([q.T[:-1], np.ones(n)])
    b = np.zeros(n)
    b[-1] = 1.0
    return np.linalg.solve(a, b)


def np_entropy_production(rates, p):
    """Direct double loop of the Schnakenberg formula (all terms finite here)."""
    n = len(p)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j and rates[i, j] > 0:
                a, b = p[i] * rates[i, j], p[j] * rates[j, i]
                total += 0.5 * (a - b) * np.log(a / b)
    return total


def split_edges(rates):
    """EdgeRates with every edge split in two duplicates (1/3 and 2/3) plus a self-loop."""
    src, dst = np.nonzero(rates)
    r = rates[src, dst]
    src2 = np.concatenate([src, src, [0]])
    dst2 = np.concatenate([dst, dst, [0]])
    r2 = np.concatenate([r / 3, 2 * r / 3, [7.0]])
    return EdgeRates(jnp.asarray(src2), jnp.asarray(dst2), jnp.asarray(r2), rates.shape[0])


# --------------------------------------------------------------------------------------------
# Currents
# --------------------------------------------------------------------------------------------


def test_currents_vanish_under_detailed_balance():
    rates, _ = detailed_balance_rates()
    p = jn.markov.stationary(jnp.asarray(rates))
    J = jn.markov.currents(jnp.asarray(rates), p)
    assert np.max(np.abs(J)) < 1e-13


def test_currents_match_definition_and_obey_kirchhoff_in_the_stationary_state():
    rates = driven_rates()
    p = np_stationary(rates)
    J = np.asarray(jn.markov.currents(jnp.asarray(rates), jnp.asarray(p)))
    expected = p[:, None] * rates - (p[:, None] * rates).T
    np.testing.assert_allclose(J, expected, atol=1e-14)
    np.testing.assert_allclose(J.sum(axis=1), 0.0, atol=1e-13)
    assert np.max(np.abs(J)) > 1e-2


def test_edge_currents_use_aggregated_rates_of_duplicate_edges():
    rates = driven_rates()
    p = jnp.asarray(np_stationary(rates))
    edges = split_edges(rates)
    J_edges = np.asarray(jn.markov.currents(edges, p))
    J_dense = np.asarray(jn.markov.currents(jnp.asarray(rates), p))
    src, dst = np.asarray(edges.src), np.asarray(edges.dst)
    np.testing.assert_allclose(J_edges, J_dense[src, dst], atol=1e-14)
    assert J_edges[-1] == 0.0  # the self-loop


def test_currents_reject_wrong_shape_of_p():
    with pytest.raises(ValueError, match="`p` must have shape"):
        jn.markov.currents(jnp.ones((3, 3)), jnp.ones(4) / 4)


# --------------------------------------------------------------------------------------------
# Entropy production and cycle affinities
# --------------------------------------------------------------------------------------------


def test_entropy_production_vanishes_under_detailed_balance():
    rates, _ = detailed_balance_rates()
    assert abs(float(jn.markov.entropy_production_rate(jnp.asarray(rates)))) < 1e-13
    assert abs(float(jn.markov.entropy_production_rate(split_edges(rates)))) < 1e-13


def test_entropy_production_on_driven_ring_equals_cycle_current_times_affinity():
    rates, forward, backward = driven_ring()
    sigma = float(jn.markov.entropy_production_rate(jnp.asarray(rates)))
    p = np_stationary(rates)
    J = p[0] * rates[0, 1] - p[1] * rates[1, 0]  # the same across every edge of a ring
    A = np.sum(np.log(forward / backward))
    np.testing.assert_allclose(sigma, J * A, rtol=1e-12)
    A_jn = float(jn.markov.cycle_affinity(jnp.asarray(rates), [0, 1, 2, 3, 4]))
    np.testing.assert_allclose(A_jn, A, rtol=1e-13)


def test_entropy_production_matches_direct_schnakenberg_sum_for_any_distribution():
    rates = driven_rates()
    p = np.random.default_rng(3).dirichlet(np.ones(5))
    sigma = float(jn.markov.entropy_production_rate(jnp.asarray(rates), jnp.asarray(p)))
    np.testing.assert_allclose(sigma, np_entropy_production(rates, p), rtol=1e-12)


def test_entropy_production_of_edge_list_with_duplicates_equals_dense():
    rates = driven_rates()
    dense = float(jn.markov.entropy_production_rate(jnp.asarray(rates)))
    sparse = float(jn.markov.entropy_production_rate(split_edges(rates)))
    np.testing.assert_allclose(sparse, dense, rtol=1e-12)


def test_one_way_edge_with_flux_gives_infinite_entropy_production_not_nan():
    rates = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert float(jn.markov.entropy_production_rate(rates)) == np.inf
    edges = EdgeRates(jnp.array([0, 1, 2]), jnp.array([1, 2, 0]), jnp.ones(3), 3)
    assert float(jn.markov.entropy_production_rate(edges)) == np.inf


def test_one_way_edge_without_flux_contributes_nothing():
    # 0 -> 1 is one way, but p_0 = 0: no flux, so only the reversible pair (1, 2) counts.
    rates = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    p = np.array([0.0, 0.25, 0.75])
    expected = 0.5 * 2 * (0.25 * 2 - 0.75 * 1) * np.log(0.5 / 0.75)
    sigma = float(jn.markov.entropy_production_rate(jnp.asarray(rates), jnp.asarray(p)))
    np.testing.assert_allclose(sigma, expected, rtol=1e-13)
    sparse = jn.markov.entropy_production_rate(EdgeRates.from_dense(rates), jnp.asarray(p))
    np.testing.assert_allclose(float(sparse), expected, rtol=1e-13)


def test_entropy_production_rejects_negative_distribution():
    with pytest.raises(ValueError, match="`p` has entry"):
        jn.markov.entropy_production_rate(jnp.ones((2, 2)), jnp.array([1.5, -0.5]))


def test_entropy_production_gradient_matches_central_differences():
    rates = driven_rates()
    grad = np.asarray(jax.grad(jn.markov.entropy_production_rate)(jnp.asarray(rates)))
    fd = central_difference(jn.markov.entropy_production_rate, rates, jit=True)
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(grad[off], fd[off], rtol=1e-6, atol=1e-8)


def test_entropy_production_gradient_wrt_edge_rates_matches_central_differences():
    rates = driven_rates()
    edges = EdgeRates.from_dense(rates)

    def f(r):
        return jn.markov.entropy_production_rate(EdgeRates(edges.src, edges.dst, r, 5))

    grad = np.asarray(jax.grad(f)(edges.rate))
    fd = central_difference(f, np.asarray(edges.rate), jit=True)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_entropy_production_under_jit_and_vmap_matches_loop():
    batch = jnp.stack([jnp.asarray(driven_rates(5, seed)) for seed in range(3)])
    batched = jax.jit(jax.vmap(jn.markov.entropy_production_rate))(batch)
    loop = [float(jn.markov.entropy_production_rate(r)) for r in batch]
    np.testing.assert_allclose(batched, loop, rtol=1e-10)


def test_cycle_affinity_vanishes_under_detailed_balance():
    rates, _ = detailed_balance_rates()
    assert abs(float(jn.markov.cycle_affinity(jnp.asarray(rates), [0, 3, 1, 4]))) < 1e-13


def test_cycle_affinity_of_edge_list_uses_aggregated_rates():
    rates, forward, backward = driven_ring()
    A = float(jn.markov.cycle_affinity(split_edges(rates), jnp.array([0, 1, 2, 3, 4])))
    np.testing.assert_allclose(A, np.sum(np.log(forward / backward)), rtol=1e-13)


def test_cycle_affinity_is_infinite_for_one_way_cycles_and_rejects_blocked_ones():
    one_way = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert float(jn.markov.cycle_affinity(one_way, [0, 1, 2])) == np.inf
    assert float(jn.markov.cycle_affinity(one_way, [0, 2, 1])) == -np.inf
    blocked = jnp.array([[0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="blocked in both directions"):
        jn.markov.cycle_affinity(blocked, [0, 1, 2])


def test_cycle_affinity_rejects_bad_cycles():
    rates = jnp.ones((3, 3))
    with pytest.raises(ValueError, match="out-of-range"):
        jn.markov.cycle_affinity(rates, [0, 1, 3])
    with pytest.raises(ValueError, match="at least 2 states"):
        jn.markov.cycle_affinity(rates, [0])
    with pytest.raises(ValueError, match="repeats a state"):
        jn.markov.cycle_affinity(rates, [0, 0, 1])
    with pytest.raises(ValueError, match="integer state indices"):
        jn.markov.cycle_affinity(rates, [0.0, 1.0])


# --------------------------------------------------------------------------------------------
# Mean first-passage times
# --------------------------------------------------------------------------------------------


def test_mfpt_matches_direct_scipy_solve():
    rates = driven_rates()
    target = [1, 4]
    tau = np.asarray(jn.markov.mean_first_passage_times(jnp.asarray(rates), target))
    q = np_generator(rates)
    free = np.setdiff1d(np.arange(5), target)
    expected = np.zeros(5)
    expected[free] = scipy.linalg.solve(q[np.ix_(free, free)], -np.ones(len(free)))
    np.testing.assert_allclose(tau, expected, rtol=1e-12)
    assert np.all(tau[target] == 0)


def test_mfpt_on_symmetric_ring_is_k_times_n_minus_k_over_twice_the_rate():
    n, k_rate = 9, 1.7
    rates = np.zeros((n, n))
    for i in range(n):
        rates[i, (i + 1) % n] = rates[(i + 1) % n, i] = k_rate
    tau = np.asarray(jn.markov.mean_first_passage_times(EdgeRates.from_dense(rates), 0))
    k = np.arange(n)
    np.testing.assert_allclose(tau, k * (n - k) / (2 * k_rate), rtol=1e-12)


def test_mfpt_on_birth_death_chain_matches_ladder_formula():
    # tau_k = sum_{j=1..k} (sum_{i>=j} pi_i) / (mu_j pi_j), target 0, reflecting at n - 1.
    n = 8
    rng = np.random.default_rng(5)
    birth = rng.uniform(0.5, 2.0, n - 1)  # i -> i + 1
    death = rng.uniform(0.5, 2.0, n - 1)  # i + 1 -> i
    rates = np.zeros((n, n))
    rates[np.arange(n - 1), np.arange(1, n)] = birth
    rates[np.arange(1, n), np.arange(n - 1)] = death
    pi = np.concatenate([[1.0], np.cumprod(birth / death)])
    step = np.array([pi[j:].sum() / (death[j - 1] * pi[j]) for j in range(1, n)])
    expected = np.concatenate([[0.0], np.cumsum(step)])
    tau = np.asarray(jn.markov.mean_first_passage_times(jnp.asarray(rates), jnp.array([0])))
    np.testing.assert_allclose(tau, expected, rtol=1e-12)


def test_mfpt_is_infinite_for_states_that_may_never_arrive():
    # 0 <-> 1 <-> 2 -> 3 (3 absorbing): from 1 or 2 the chain may fall into 3 and never reach 0.
    rates = jnp.array(
        [[0, 1.0, 0, 0], [1.0, 0, 1.0, 0], [0, 1.0, 0, 1.0], [0, 0, 0, 0]], dtype=jnp.float64
    )
    tau = np.asarray(jn.markov.mean_first_passage_times(rates, 0))
    assert tau[0] == 0 and np.all(np.isinf(tau[1:]))
    # With target {0, 3} every state arrives; compare with the direct solve.
    tau2 = np.asarray(jn.markov.mean_first_passage_times(rates, [0, 3]))
    q = np_generator(np.asarray(rates))
    expected = scipy.linalg.solve(q[1:3, 1:3], -np.ones(2))
    np.testing.assert_allclose(tau2[1:3], expected, rtol=1e-12)


def test_mfpt_accepts_boolean_mask_like_index_list():
    rates = jnp.asarray(driven_rates(5))
    mask = jnp.array([False, True, False, True, False])
    np.testing.assert_allclose(
        jn.markov.mean_first_passage_times(rates, mask),
        jn.markov.mean_first_passage_times(rates, [1, 3]),
        rtol=1e-14,
    )


def test_mfpt_rejects_bad_targets():
    rates = jnp.ones((3, 3))
    with pytest.raises(ValueError, match="out-of-range state index 3"):
        jn.markov.mean_first_passage_times(rates, [0, 3])
    with pytest.raises(ValueError, match="out-of-range"):
        jn.markov.mean_first_passage_times(rates, -1)
    with pytest.raises(ValueError, match="empty"):
        jn.markov.mean_first_passage_times(rates, jnp.zeros((0,), jnp.int32))
    with pytest.raises(ValueError, match="selects no state"):
        jn.markov.mean_first_passage_times(rates, jnp.zeros(3, bool))
    with pytest.raises(ValueError, match="boolean mask must have shape"):
        jn.markov.mean_first_passage_times(rates, jnp.ones(4, bool))
    with pytest.raises(ValueError, match="integer state indices"):
        jn.markov.mean_first_passage_times(rates, 1.0)


def test_mfpt_and_spectrum_refuse_to_densify_huge_edge_lists():
    n = 9000
    src = jnp.arange(n - 1)
    chain = EdgeRates(src, src + 1, jnp.ones(n - 1), n)
    with pytest.raises(ValueError, match="exceeds DENSE_MAX_STATES"):
        jn.markov.mean_first_passage_times(chain, 0)
    with pytest.raises(ValueError, match="exceeds DENSE_MAX_STATES"):
        jn.markov.relaxation_rates(chain)


def test_mfpt_rejects_out_of_range_target_under_jit():
    f = jax.jit(jn.markov.mean_first_passage_times)
    with pytest.raises((eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError), match="out-of-range"):
        jax.block_until_ready(f(jnp.ones((3, 3)), jnp.array(5)))


def test_mfpt_gradient_matches_central_differences():
    rates = driven_rates()

    def f(r):
        return jnp.sum(jn.markov.mean_first_passage_times(r, 0))

    grad = np.asarray(jax.grad(f)(jnp.asarray(rates)))
    fd = central_difference(f, rates, jit=True)
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(grad[off], fd[off], rtol=1e-6, atol=1e-8)


def test_mfpt_vmaps_over_chains_and_targets():
    batch = jnp.stack([jnp.asarray(driven_rates(5, s)) for s in range(3)])
    targets = jnp.array([0, 2, 3])
    out = jax.jit(jax.vmap(jn.markov.mean_first_passage_times))(batch, targets)
    for b in range(3):
        np.testing.assert_allclose(
            out[b], jn.markov.mean_first_passage_times(batch[b], int(targets[b])), rtol=1e-12
        )


# --------------------------------------------------------------------------------------------
# Relaxation rates
# --------------------------------------------------------------------------------------------


def test_relaxation_rates_match_numpy_eigenvalues():
    rates = driven_rates()
    lam = np.asarray(jn.markov.relaxation_rates(jnp.asarray(rates)))
    ev = np.linalg.eigvals(-np_generator(rates))
    ev = np.delete(ev, np.argmin(np.abs(ev)))
    ev = ev[np.lexsort((ev.imag, ev.real))]
    assert lam.shape == (4,)
    np.testing.assert_allclose(lam, ev, rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(lam.real) >= 0) and np.all(lam.real > 0)


def test_relaxation_rates_are_real_under_detailed_balance_and_agree_for_edge_lists():
    rates, _ = detailed_balance_rates()
    lam = np.asarray(jn.markov.relaxation_rates(jnp.asarray(rates)))
    assert np.max(np.abs(lam.imag)) < 1e-12
    lam_edges = np.asarray(jn.markov.relaxation_rates(split_edges(rates)))
    np.testing.assert_allclose(lam_edges, lam, rtol=1e-10)


def test_spectral_gap_gradient_matches_central_differences():
    rates, _ = detailed_balance_rates()

    def gap(r):
        return jn.markov.relaxation_rates(r)[0].real

    grad = np.asarray(jax.grad(gap)(jnp.asarray(rates)))
    fd = central_difference(gap, rates, jit=True)
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(grad[off], fd[off], rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------------------------
# Transient evolution
# --------------------------------------------------------------------------------------------


def test_evolve_matches_scipy_expm_at_several_times():
    rates = driven_rates(5)
    p0 = np.array([1.0, 0, 0, 0, 0])
    t = np.array([0.0, 0.3, 2.0, 0.05])
    out = np.asarray(jn.markov.evolve(jnp.asarray(rates), jnp.asarray(p0), jnp.asarray(t)))
    expected = np.stack([p0 @ scipy.linalg.expm(np_generator(rates) * ti) for ti in t])
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-14)


def test_uniformization_for_edge_lists_matches_scipy_expm():
    rates = driven_rates()
    p0 = np.random.default_rng(4).dirichlet(np.ones(5))
    t = np.array([3.0, 0.0, 0.7, 25.0])  # unsorted on purpose; Lambda t up to ~200
    out = jn.markov.evolve(
        split_edges(rates), jnp.asarray(p0), jnp.asarray(t), method="uniformization"
    )
    expected = np.stack([p0 @ scipy.linalg.expm(np_generator(rates) * ti) for ti in t])
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-12, atol=1e-14)
    scalar = jn.markov.evolve(split_edges(rates), jnp.asarray(p0), 0.7, method="uniformization")
    np.testing.assert_allclose(np.asarray(scalar), expected[2], rtol=1e-12)


def test_evolve_converges_to_the_stationary_state():
    rates = driven_rates(5)
    p_inf = np_stationary(rates)
    p0 = jnp.array([0.0, 0.0, 1.0, 0.0, 0.0])
    for method, r in (("expm", jnp.asarray(rates)), ("uniformization", split_edges(rates))):
        np.testing.assert_allclose(
            jn.markov.evolve(r, p0, 60.0, method=method), p_inf, rtol=1e-10, atol=1e-12
        )


def test_evolve_gradient_matches_central_differences():
    rates = driven_rates()
    p0 = jnp.array([1.0, 0.0, 0.0, 0.0, 0.0])

    def f(r):
        return jn.markov.evolve(r, p0, 0.8)[1]

    grad = np.asarray(jax.grad(f)(jnp.asarray(rates)))
    fd = central_difference(f, rates, jit=True)
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(grad[off], fd[off], rtol=1e-6, atol=1e-9)


def test_uniformization_forward_mode_derivative_matches_central_differences():
    rates = driven_rates()
    edges = EdgeRates.from_dense(rates)
    p0 = jnp.array([1.0, 0.0, 0.0, 0.0, 0.0])

    def f(r):
        return jn.markov.evolve(
            EdgeRates(edges.src, edges.dst, r, 5), p0, 0.8, method="uniformization"
        )[1]

    jac = np.asarray(jax.jacfwd(f)(edges.rate))
    fd = central_difference(f, np.asarray(edges.rate), jit=True)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-9)


def test_evolve_vmaps_over_initial_distributions_under_jit():
    rates = jnp.asarray(driven_rates())
    p0s = jnp.eye(5)
    out = jax.jit(jax.vmap(lambda p: jn.markov.evolve(rates, p, 1.3)))(p0s)
    expected = scipy.linalg.expm(np_generator(np.asarray(rates)) * 1.3)
    np.testing.assert_allclose(out, expected, rtol=1e-10)


def test_evolve_rejects_negative_times_bad_p0_and_unknown_method():
    rates = jnp.ones((3, 3))
    with pytest.raises(ValueError, match="`t` must be finite and >= 0"):
        jn.markov.evolve(rates, jnp.ones(3) / 3, -1.0)
    with pytest.raises(ValueError, match="`p0` must have shape"):
        jn.markov.evolve(rates, jnp.ones(2) / 2, 1.0)
    with pytest.raises(ValueError, match="`method` must be one of"):
        jn.markov.evolve(rates, jnp.ones(3) / 3, 1.0, method="rk4")


def test_observables_of_traced_edge_lists_under_jit_and_vmap_match_eager_results():
    batch = np.stack([driven_rates(5, seed) for seed in range(3)])
    edges = [EdgeRates.from_dense(r) for r in batch]
    src, dst = edges[0].src, edges[0].dst  # complete graph: same structure for all three
    rate = jnp.stack([e.rate for e in edges])

    def observables(r):
        e = EdgeRates(src, dst, r, 5)
        p = jn.markov.stationary(e)
        return (
            jn.markov.currents(e, p),
            jn.markov.entropy_production_rate(e, p),
            jn.markov.cycle_affinity(e, [0, 1, 2, 3]),
            jn.markov.mean_first_passage_times(e, jnp.array([1])),
            jn.markov.relaxation_rates(e),
            jn.markov.evolve(e, p, 1.0, method="uniformization"),
        )

    batched = jax.jit(jax.vmap(observables))(rate)
    for b in range(3):
        eager = observables(edges[b].rate)
        for got, want in zip(batched, eager, strict=True):
            np.testing.assert_allclose(got[b], want, rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------------------------
# float32 smoke tests: every public function accepts float32 and returns float32
# --------------------------------------------------------------------------------------------


def test_observables_float32_smoke():
    rates64 = driven_rates(4)
    p64 = np_stationary(rates64)
    q64 = np_generator(rates64)
    r32 = jnp.asarray(rates64, jnp.float32)
    e32 = EdgeRates.from_dense(r32)
    p32 = jn.markov.stationary(r32)
    p0 = jnp.array([1.0, 0.0, 0.0, 0.0], jnp.float32)
    sigma = np_entropy_production(rates64, p64)
    flow = p64[:, None] * rates64
    tau = np.concatenate([[0.0], scipy.linalg.solve(q64[1:, 1:], -np.ones(3))])
    p_t = np.asarray(p0, float) @ scipy.linalg.expm(q64 * 0.5)
    affinity = np.log(rates64[0, 1] * rates64[1, 2] * rates64[2, 0])
    affinity -= np.log(rates64[1, 0] * rates64[2, 1] * rates64[0, 2])
    checks = {
        "currents": (jn.markov.currents(r32, p32), flow - flow.T),
        "currents_edges": (jn.markov.currents(e32, p32), (flow - flow.T)[~np.eye(4, dtype=bool)]),
        "ep": (jn.markov.entropy_production_rate(r32), sigma),
        "ep_edges": (jn.markov.entropy_production_rate(e32), sigma),
        "affinity": (jn.markov.cycle_affinity(r32, [0, 1, 2]), affinity),
        "mfpt": (jn.markov.mean_first_passage_times(r32, 0), tau),
        "evolve": (jn.markov.evolve(r32, p0, 0.5), p_t),
        "evolve_unif": (jn.markov.evolve(e32, p0, 0.5, method="uniformization"), p_t),
    }
    for name, (v32, v64) in checks.items():
        assert v32.dtype == jnp.float32, name
        np.testing.assert_allclose(v32, v64, rtol=1e-4, atol=1e-5, err_msg=name)
    lam = jn.markov.relaxation_rates(r32)
    assert lam.dtype == jnp.complex64
    ev = np.linalg.eigvals(-q64)
    ev = np.sort_complex(np.delete(ev, np.argmin(np.abs(ev))))
    np.testing.assert_allclose(np.sort_complex(np.asarray(lam)), ev, rtol=1e-4)
