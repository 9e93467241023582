"""Stationary distributions: accuracy, gradients, transformations and errors.

Ground truth: the detailed-balance product formula (in log space), scipy's SVD null space,
Boltzmann weights, central finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from _stats import central_difference

import jaxneq as jn
import jaxneq.markov._dense_solvers as dense_module
import jaxneq.markov._stationary as stationary_module
from jaxneq.markov import EdgeRates, stationary

DIRECT = ("gth", "lu")
N = 6  # one size for most tests, so compiled solvers are reused across tests


def random_rates(seed, n, low=0.5, high=2.0, density=1.0):
    """Random irreducible dense rates (a ring plus random extra edges)."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(low, high, (n, n)) * (rng.uniform(size=(n, n)) < density)
    ring = np.arange(n)
    r[ring, (ring + 1) % n] = rng.uniform(low, high, n)
    np.fill_diagonal(r, 0.0)
    return r


def scipy_stationary(rates):
    q = rates - np.diag(rates.sum(axis=1))
    v = scipy.linalg.null_space(q.T)[:, 0]
    return v / v.sum()


def stiff_birth_death(seed=0, n=26, log10_span=250.0):
    """Birth–death chain whose stationary probabilities span 1 to 10**-log10_span.

    Returns the rates and the exact log stationary distribution from the detailed-balance
    product formula $p_{i+1}/p_i = u_i / d_{i+1}$, evaluated in log space.
    """
    rng = np.random.default_rng(seed)
    log_ratio = rng.uniform(0.5, 1.5, n - 1)
    log_ratio *= -log10_span * np.log(10) / log_ratio.sum()
    log_up = rng.uniform(-5, 5, n - 1)  # the rates themselves span ~1e-2 .. 1e2 and more
    log_down = log_up - log_ratio
    rates = np.zeros((n, n))
    rates[np.arange(n - 1), np.arange(1, n)] = np.exp(log_up)
    rates[np.arange(1, n), np.arange(n - 1)] = np.exp(log_down)
    log_p = np.concatenate(
        [
            [0.0],
            np.cumsum(
                np.log(rates[np.arange(n - 1), np.arange(1, n)])
                - np.log(rates[np.arange(1, n), np.arange(n - 1)])
            ),
        ]
    )
    log_p -= np.logaddexp.reduce(log_p)
    return rates, log_p


# ---------------------------------------------------------------------------------------
# Accuracy
# ---------------------------------------------------------------------------------------


def test_gth_keeps_every_entry_to_relative_1e10_on_a_chain_spanning_1_to_1e_minus_250():
    rates, log_p = stiff_birth_death()
    assert log_p.max() > np.log(0.1) and log_p.min() < -249 * np.log(10)
    p = np.asarray(stationary(jnp.asarray(rates), method="gth"))
    assert np.all(p > 0)
    rel = np.abs(np.expm1(np.log(p) - log_p))
    assert rel.max() < 1e-10, rel.max()


def test_gth_on_edge_rates_keeps_relative_accuracy_on_the_stiff_chain():
    rates, log_p = stiff_birth_death(seed=1)
    p = np.asarray(stationary(EdgeRates.from_dense(rates), method="gth"))
    assert np.abs(np.expm1(np.log(p) - log_p)).max() < 1e-10


@pytest.mark.parametrize("method", DIRECT)
@pytest.mark.parametrize("n", [N, 26])
def test_direct_methods_agree_with_scipy_null_space_on_well_conditioned_chains(method, n):
    rates = random_rates(n, n, density=0.5)
    p = np.asarray(stationary(jnp.asarray(rates), method=method))
    np.testing.assert_allclose(p, scipy_stationary(rates), rtol=1e-10, atol=0)


@pytest.mark.parametrize("method", DIRECT)
def test_detailed_balance_chain_gives_boltzmann(method):
    rng = np.random.default_rng(3)
    n = N
    energy = rng.normal(0, 2, n)
    attempt = rng.uniform(0.2, 3.0, (n, n))
    attempt = attempt + attempt.T  # symmetric prefactors
    rates = attempt * np.minimum(1.0, np.exp(-(energy[None, :] - energy[:, None])))
    boltzmann = np.exp(-energy) / np.exp(-energy).sum()
    p = np.asarray(stationary(jnp.asarray(rates), method=method))
    np.testing.assert_allclose(p, boltzmann, rtol=1e-12)


def _blocked_gth(rates, block):
    """GTH with a given block size, compiled afresh (bypasses the cached public solver)."""
    a, pivots, kstar, bad = jax.jit(lambda r: dense_module._gth_factor(r, block=block))(
        jnp.asarray(rates)
    )
    return np.asarray(dense_module._gth_back_substitute(a, pivots, kstar)), bool(bad)


@pytest.mark.parametrize("block", [1, 5, 8])
def test_blocked_gth_keeps_relative_1e10_on_the_stiff_chain(block):
    rates, log_p = stiff_birth_death(seed=3)
    for perm in (np.arange(len(log_p)), np.random.default_rng(4).permutation(len(log_p))):
        p, bad = _blocked_gth(rates[np.ix_(perm, perm)], block)
        assert not bad
        np.testing.assert_allclose(np.log(p), log_p[perm], rtol=0, atol=1e-10)


@pytest.mark.parametrize("block", [5, 8])
def test_blocked_gth_gives_exact_zeros_on_transient_states_and_flags_reducible_chains(block):
    n = 23
    rng = np.random.default_rng(7)
    # closed class {3, 11, 17} (a ring), every other state leads into it through a chain.
    rates = np.zeros((n, n))
    rates[3, 11] = rates[11, 17] = rates[17, 3] = 1.0
    others = [i for i in range(n) if i not in (3, 11, 17)]
    for i, j in zip(others, others[1:] + [17], strict=True):
        rates[i, j] = rng.uniform(0.5, 2.0)
    p, bad = _blocked_gth(rates, block)
    assert not bad
    np.testing.assert_allclose(p[[3, 11, 17]], np.full(3, 1 / 3), rtol=1e-14)
    assert np.all(p[others] == 0)
    rates[16, others[others.index(16) + 1]] = 0.0  # 15 -> 16 -> 15 becomes a second
    rates[16, 15] = 1.0  # closed class, cut off from the ring
    assert _blocked_gth(rates, block)[1]


def test_gradient_through_blocked_gth_matches_central_differences(monkeypatch):
    # the dispatch (_stationary) and the blocked factorisation (_dense_solvers) both read it
    monkeypatch.setattr(stationary_module, "GTH_BLOCK", 4)
    monkeypatch.setattr(dense_module, "GTH_BLOCK", 4)
    n = 13  # a size no other test compiles, so the solver is traced with 4-state blocks
    rates = jnp.asarray(random_rates(12, n))
    weights = jnp.asarray(np.random.default_rng(13).normal(size=n))

    def fun(r):
        return jnp.dot(weights, jnp.log(stationary(r, method="gth")))

    grad = np.asarray(jax.grad(fun)(rates))
    for i, j in [(0, 5), (12, 3), (6, 9), (7, 8)]:
        e = jnp.zeros((n, n)).at[i, j].set(1e-5)
        fd = float((fun(rates + e) - fun(rates - e)) / 2e-5)
        np.testing.assert_allclose(grad[i, j], fd, rtol=1e-6)


def test_gth_on_a_chain_larger_than_one_block_matches_scipy():
    n = dense_module.GTH_BLOCK * 2 + 37  # three blocks, the last one partial
    rates = random_rates(11, n, density=0.1)
    np.testing.assert_allclose(
        np.asarray(stationary(jnp.asarray(rates), method="gth")),
        scipy_stationary(rates),
        rtol=1e-10,
    )


def test_transient_states_get_exactly_zero_probability():
    # 0 <-> 1 is the closed class; 2..5 only lead into it (transient).
    rates = np.zeros((N, N))
    rates[0, 1], rates[1, 0], rates[2, 0], rates[3, 2], rates[2, 3] = 1.0, 3.0, 2.0, 1.0, 5.0
    rates[4, 5], rates[5, 4], rates[5, 1] = 1.0, 1.0, 0.5
    for method in DIRECT:
        p = np.asarray(stationary(jnp.asarray(rates), method=method))
        np.testing.assert_allclose(p, [0.75, 0.25, 0, 0, 0, 0], atol=1e-14)


def test_dense_diagonal_and_edge_self_loops_are_ignored():
    rates = random_rates(5, N)
    with_diag = rates + np.diag([7.0, -3.0, 1.0, 0.0, 2.0, np.nan])
    np.testing.assert_array_equal(
        stationary(jnp.asarray(with_diag)), stationary(jnp.asarray(rates))
    )
    e = EdgeRates.from_dense(rates)
    looped = EdgeRates(jnp.append(e.src, 2), jnp.append(e.dst, 2), jnp.append(e.rate, 9.0), N)
    np.testing.assert_allclose(stationary(looped), stationary(e), rtol=1e-14)


def test_duplicate_edges_add_up():
    rates = random_rates(6, N)
    e = EdgeRates.from_dense(rates)
    split = EdgeRates(
        jnp.concatenate([e.src, e.src]),
        jnp.concatenate([e.dst, e.dst]),
        jnp.concatenate([0.25 * e.rate, 0.75 * e.rate]),
        N,
    )
    np.testing.assert_allclose(stationary(split), scipy_stationary(rates), rtol=1e-12)


# ---------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------


def _loss(p, weights):
    return jnp.sum(weights * jnp.log(p)) + 3.0 * p[0] ** 2


@pytest.mark.parametrize("method", DIRECT)
def test_gradient_wrt_dense_rates_matches_central_differences(method):
    n = N
    rates = random_rates(11, n)
    weights = jnp.asarray(np.random.default_rng(12).normal(size=n))

    def fun(r):
        return _loss(stationary(r, method=method), weights)

    grad = np.asarray(jax.grad(fun)(jnp.asarray(rates)))
    reference = central_difference(fun, rates, 1e-6)
    off = ~np.eye(n, dtype=bool)
    np.testing.assert_allclose(grad[off], reference[off], rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(np.diag(grad), 0.0)  # the diagonal is ignored


@pytest.mark.parametrize("method", DIRECT)
def test_gradient_wrt_edge_rate_values_matches_central_differences(method):
    rng = np.random.default_rng(13)
    n, m = 6, 14
    ring = np.arange(n)
    src = np.concatenate([ring, rng.integers(0, n, m - n), [1]])  # with a duplicate ring edge
    dst = np.concatenate([(ring + 1) % n, rng.integers(0, n, m - n), [2]])
    values = rng.uniform(0.5, 2.0, src.shape[0])
    weights = jnp.asarray(rng.normal(size=n))

    def fun(rate):
        return _loss(stationary(EdgeRates(src, dst, rate, n), method=method), weights)

    grad = np.asarray(jax.grad(fun)(jnp.asarray(values)))
    reference = central_difference(fun, values, 1e-6)
    np.testing.assert_allclose(grad, reference, rtol=1e-6, atol=1e-8)
    loops = src == dst
    np.testing.assert_array_equal(grad[loops], 0.0)


@pytest.mark.slow
def test_gradient_of_stiff_chain_is_finite_and_matches_log_space_differences():
    rates, _ = stiff_birth_death(seed=2)
    up = jnp.asarray(np.log(rates[0, 1]))

    def log_p_last(log_r01):
        r = jnp.asarray(rates).at[0, 1].set(jnp.exp(log_r01))
        return jnp.log(stationary(r, method="gth")[-1])

    # d log p_last / d log r01 = 1 - p_1 ... exactly: p_last ∝ r01 and p_0 ∝ 1 => 1 - p_{>0}
    g = float(jax.grad(log_p_last)(up))
    fd = float((log_p_last(up + 1e-5) - log_p_last(up - 1e-5)) / 2e-5)
    assert np.isfinite(g)
    assert abs(g - fd) < 1e-7


def test_gth_gradient_memory_is_that_of_one_adjoint_solve_not_of_an_unrolled_elimination():
    # Reverse-mode AD through the elimination would store the updated block at every step:
    # ~n^3 numbers (22 MB at n = 140). The implicit adjoint reuses the factors: its compiled
    # temporary memory is that of the forward pass plus a few O(n^2) arrays.
    n = 140  # two blocks of the blocked factorisation
    rates = jnp.asarray(random_rates(1, n))

    def fun(r):
        return jnp.sum(jnp.log(stationary(r, method="gth")))

    def temp_bytes(f):
        return jax.jit(f).lower(rates).compile().memory_analysis().temp_size_in_bytes

    forward, backward = temp_bytes(fun), temp_bytes(jax.grad(fun))
    assert backward <= 2 * forward + 8 * 8 * n * n, (forward, backward)
    # an unrolled elimination stores sum_k (n - k)^2 ~ n^3 / 3 numbers (7.3 MB); XLA:CPU
    # assigns the adjoint 1.3 MB here, XLA:GPU (H200) 2.4 MB
    assert backward < 8 * n**3 / 3 / 2


# ---------------------------------------------------------------------------------------
# jit, vmap, dtypes
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", DIRECT)
def test_jit_gives_the_eager_result(method):
    rates = jnp.asarray(random_rates(21, N))
    eager = stationary(rates, method=method)
    jitted = jax.jit(lambda r: stationary(r, method=method))(rates)
    np.testing.assert_allclose(jitted, eager, rtol=1e-14)


@pytest.mark.parametrize("method", DIRECT)
def test_vmap_over_a_batch_of_chains_matches_scipy_one_by_one(method):
    batch = np.stack([random_rates(100 + k, N, density=0.6) for k in range(64)])
    p = np.asarray(jax.vmap(lambda r: stationary(r, method=method))(jnp.asarray(batch)))
    reference = np.stack([scipy_stationary(r) for r in batch])
    np.testing.assert_allclose(p, reference, rtol=1e-10)


@pytest.mark.parametrize("block", [5, 8])
def test_vmap_over_blocked_gth_matches_the_unbatched_factorisation(block):
    # Regression: with jax.scipy triangular solves inside the blocked elimination, a
    # vmapped blocked GTH deadlocked XLA:CPU (batch 1024 of 16 states, or 8 of 300).
    batch = np.stack([random_rates(300 + k, 16, density=0.5) for k in range(1024)])
    solve = jax.jit(jax.vmap(lambda r: _blocked_gth_jax(r, block)))
    for _ in range(10):  # the deadlock struck on some calls, not all
        batched = solve(jnp.asarray(batch)).block_until_ready()
    for k in (0, 511, 1023):
        np.testing.assert_allclose(batched[k], scipy_stationary(batch[k]), rtol=1e-10)


def _blocked_gth_jax(rates, block):
    a, pivots, kstar, _ = dense_module._gth_factor(rates, block=block)
    return dense_module._gth_back_substitute(a, pivots, kstar)


@pytest.mark.parametrize("n, unrolled", [(12, False), (20, False), (12, True)])
def test_vmap_over_small_chains_mixing_irreducible_and_transient_ones(n, unrolled, monkeypatch):
    # Under vmap, one-block chains are eliminated with the ensemble axis last, first without
    # the killing rates (exact unless a pivot other than the last is zero), then again with
    # them when any chain in the batch has a transient state: by a loop, or by an unrolled
    # loop in batches of >= GTH_VMAP_UNROLL_MIN_BATCH (lowered here so 300 chains take it).
    # (the unrolled case uses its own batch size: a shape traced before keeps its cached path)
    b = 280 if unrolled else 300
    if unrolled:
        monkeypatch.setattr(dense_module, "GTH_VMAP_UNROLL_MIN_BATCH", 256)
    assert dense_module._unroll_under_vmap(n, b) == unrolled
    solve = jax.jit(jax.vmap(stationary))
    clean = np.stack([random_rates(400 + k, n, density=0.3) for k in range(b)])
    mixed = clean.copy()
    odd = [3, 150, b - 1]
    mixed[odd, :6, 6:] = 0.0  # states >= 6 lead into {0..5} but cannot be reached from it
    mixed[odd, 5, 0] = 1.0  # and {0..5} stays irreducible (the ring 0 -> 1 -> ... -> 5 -> 0)
    p_mixed = np.asarray(solve(jnp.asarray(mixed)))
    p_clean = np.asarray(solve(jnp.asarray(clean)))
    for k in (0, 3, 150, 200, b - 1):
        np.testing.assert_allclose(p_clean[k], scipy_stationary(clean[k]), rtol=1e-10)
        reference = np.zeros(n)
        closed = slice(0, 6) if k in odd else slice(0, n)
        reference[closed] = scipy_stationary(mixed[k][closed, closed])
        np.testing.assert_allclose(p_mixed[k], reference, rtol=1e-10, atol=0)
    rest = np.setdiff1d(np.arange(b), odd)
    np.testing.assert_allclose(p_mixed[rest], p_clean[rest], rtol=1e-12)


@pytest.mark.slow
def test_vmap_over_a_large_batch_of_20_state_chains_takes_the_unrolled_path_exactly():
    # Batches of >= GTH_VMAP_UNROLL_MIN_BATCH chains of 17..32 states are unrolled too
    # (compiles for ~15 s, hence slow); the transient-state fallback must still hold.
    n, batch = 20, dense_module.GTH_VMAP_UNROLL_MIN_BATCH
    assert dense_module._unroll_under_vmap(n, batch)
    rates = np.stack([random_rates(600 + k, n, density=0.3) for k in range(batch)])
    odd = [1, 700]
    rates[odd, :6, 6:] = 0.0  # states >= 6 transient, {0..5} closed (ring 0 -> ... -> 5 -> 0)
    rates[odd, 5, 0] = 1.0
    p = np.asarray(jax.jit(jax.vmap(stationary))(jnp.asarray(rates)))
    for k in (0, 1, 700, batch - 1):
        reference = np.zeros(n)
        closed = slice(0, 6) if k in odd else slice(0, n)
        reference[closed] = scipy_stationary(rates[k][closed, closed])
        np.testing.assert_allclose(p[k], reference, rtol=1e-10, atol=0)


def test_vmap_of_grad_matches_grad_one_by_one():
    batch = jnp.asarray(np.stack([random_rates(200 + k, N) for k in range(8)]))

    def fun(r):
        return stationary(r)[0]

    batched = jax.vmap(jax.grad(fun))(batch)
    single = jnp.stack([jax.grad(fun)(r) for r in batch])
    np.testing.assert_allclose(batched, single, rtol=1e-12, atol=1e-15)


def test_vmap_over_edge_rate_values():
    base = EdgeRates.from_dense(random_rates(31, N))
    rng = np.random.default_rng(32)
    values = jnp.asarray(np.asarray(base.rate) * rng.uniform(0.1, 10.0, (16, base.rate.shape[0])))

    def solve(v):
        return stationary(EdgeRates(base.src, base.dst, v, N))

    p = np.asarray(jax.vmap(solve)(values))
    for k in range(values.shape[0]):
        dense = np.asarray(EdgeRates(base.src, base.dst, values[k], N).to_dense())
        np.testing.assert_allclose(p[k], scipy_stationary(dense), rtol=1e-10)


@pytest.mark.parametrize("method, sparse", [("gth", False), ("lu", True)])
def test_float32_smoke(method, sparse):
    rates64 = random_rates(41, N)
    rates32 = jnp.asarray(rates64, dtype=jnp.float32)
    edges = EdgeRates.from_dense(rates32)
    p = stationary(edges if sparse else rates32, method=method)
    assert p.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(p), scipy_stationary(rates64), rtol=2e-5)

    def fun(values):
        r = EdgeRates(edges.src, edges.dst, values, N) if sparse else values
        return stationary(r, method=method)[0]

    grad = jax.grad(fun)(edges.rate if sparse else rates32)
    assert grad.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(grad)))


def test_result_has_the_dtype_of_the_rates_and_sums_to_one():
    for dtype, tol in ((jnp.float32, 1e-6), (jnp.float64, 1e-14)):
        p = stationary(jnp.asarray(random_rates(42, N), dtype=dtype))
        assert p.dtype == dtype
        assert abs(float(p.sum()) - 1.0) < tol


# ---------------------------------------------------------------------------------------
# method="auto"
# ---------------------------------------------------------------------------------------


def test_auto_rule_is_documented():
    doc = stationary.__doc__
    assert '"auto"' in doc and "AUTO_DENSE_MAX_STATES" in doc and "2048" in doc
    assert stationary_module.AUTO_DENSE_MAX_STATES == 2048


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_auto_is_gth_up_to_the_threshold_for_dense_and_edge_rates(dtype):
    rates = jnp.asarray(random_rates(51, N), dtype=dtype)
    gth = stationary(rates, method="gth")
    np.testing.assert_array_equal(stationary(rates), gth)
    np.testing.assert_array_equal(stationary(EdgeRates.from_dense(rates)), gth)


def test_auto_is_lu_for_dense_and_krylov_for_edge_rates_above_the_threshold(monkeypatch):
    monkeypatch.setattr(stationary_module, "AUTO_DENSE_MAX_STATES", N - 1)
    big = jnp.asarray(random_rates(52, N))
    np.testing.assert_array_equal(stationary(big), stationary(big, method="lu"))
    small = jnp.asarray(random_rates(53, N - 1))
    np.testing.assert_array_equal(stationary(small), stationary(small, method="gth"))
    choose = stationary_module._choose_method
    assert choose(EdgeRates.from_dense(big), "auto") == "krylov"
    assert choose(EdgeRates.from_dense(small), "auto") == "gth"


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="`method` must be one of"):
        stationary(jnp.ones((3, 3)), method="qr")


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, what", [(-1.0, "negative"), (np.nan, "NaN"), (np.inf, "infinite")])
def test_bad_rate_values_raise_naming_rates_and_the_entry(value, what):
    rates = np.ones((3, 3))
    rates[0, 1] = value
    with pytest.raises(ValueError, match=rf"`rates` has an? {what} entry at index \(0, 1\)"):
        stationary(jnp.asarray(rates))


def test_bad_edge_rate_value_raises_naming_the_edge():
    e = EdgeRates(jnp.array([0, 1, 2]), jnp.array([1, 2, 0]), jnp.array([1.0, -2.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"`rates.rate` has a negative entry at edge 1"):
        stationary(e)


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
def test_bad_rate_values_raise_under_jit(value):
    rates = jnp.ones((3, 3)).at[0, 1].set(value)
    with pytest.raises(Exception, match="`rates` has a"):
        jax.block_until_ready(jax.jit(stationary)(rates))


def test_non_square_rates_are_rejected_at_trace_time():
    with pytest.raises(ValueError, match=r"`rates` must be a square \[n, n\]"):
        stationary(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"`rates` must be a square"):
        jax.jit(stationary)(jnp.ones((2, 3, 3)))


def test_out_of_range_edge_indices_are_rejected():
    with pytest.raises(ValueError, match=r"`dst` has an out-of-range state index 3"):
        EdgeRates(jnp.array([0, 1]), jnp.array([1, 3]), jnp.ones(2), 3)
    with pytest.raises(ValueError, match="same length"):
        EdgeRates(jnp.array([0, 1]), jnp.array([1]), jnp.ones(2), 3)


def test_out_of_range_edge_indices_raise_under_jit():
    def solve(src):
        return stationary(EdgeRates(src, jnp.array([1, 2, 0]), jnp.ones(3), 3))

    np.testing.assert_allclose(jax.jit(solve)(jnp.array([0, 1, 2])), np.full(3, 1 / 3))
    with pytest.raises(Exception, match="out-of-range state index"):
        jax.block_until_ready(jax.jit(solve)(jnp.array([0, 7, 2])))


def reducible_rates():
    rates = np.zeros((N, N))
    rates[0, 1] = rates[1, 0] = 1.0  # closed class {0, 1}
    rates[2, 3] = rates[3, 2] = 2.0  # closed class {2, 3}
    rates[4, 0] = rates[4, 2] = rates[5, 4] = 1.0  # transient states 4 and 5 feeding both
    return rates


@pytest.mark.parametrize("sparse", [False, True])
def test_reducible_chain_raises_naming_rates_and_the_closed_classes(sparse):
    rates = reducible_rates()
    rates = EdgeRates.from_dense(rates) if sparse else jnp.asarray(rates)
    with pytest.raises(ValueError, match=r"`rates` is reducible.*\{0, 1\} and \{2, 3\}"):
        stationary(rates, method="gth")


def test_reducible_chain_raises_under_jit():
    with pytest.raises(Exception, match="`rates` is reducible"):
        jax.block_until_ready(jax.jit(lambda r: stationary(r, method="gth"))(reducible_rates()))


@pytest.mark.slow
def test_reducible_chain_under_vmap_raises():
    batch = jnp.stack([jnp.asarray(random_rates(61, N)), jnp.asarray(reducible_rates())])
    with pytest.raises(Exception, match="reducible"):
        jax.block_until_ready(jax.jit(jax.vmap(stationary))(batch))


def test_public_name_is_exported():
    assert jn.markov.stationary is stationary


@pytest.mark.slow
def test_krylov_dispatch_shares_the_implicit_adjoint_and_matches_gth():
    e = EdgeRates.from_dense(random_rates(71, N, density=0.6))

    def log_p2(values, method):
        return jnp.log(stationary(EdgeRates(e.src, e.dst, values, N), method=method))[2]

    np.testing.assert_allclose(
        stationary(e, method="krylov"), stationary(e, method="gth"), rtol=1e-8
    )
    np.testing.assert_allclose(
        jax.grad(log_p2)(e.rate, "krylov"), jax.grad(log_p2)(e.rate, "gth"), rtol=1e-6, atol=1e-10
    )
