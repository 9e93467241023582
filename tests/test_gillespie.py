"""Gillespie simulation: exactness of the jumps and convergence of the streaming statistics.

Statistical claims use fixed keys and tolerances of 5 standard errors, the standard error
estimated from independent replicas (or from the exact law, for dwell times).
"""

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.stats
from _stats import N_SE, assert_within_stderr, mean_and_stderr

import jaxneq as jn
from jaxneq.markov import EdgeRates

RATES = np.array(
    [
        [0.0, 2.0, 0.5, 0.0],
        [0.3, 0.0, 1.5, 0.7],
        [1.0, 0.2, 0.0, 2.5],
        [0.8, 0.0, 0.4, 0.0],
    ]
)
"""A driven four-state chain; the pair (1, 3) is one way (1 -> 3 at rate 0.7, no 3 -> 1)."""

REVERSIBLE = np.array(
    [
        [0.0, 2.0, 0.5, 0.3],
        [0.3, 0.0, 1.5, 0.7],
        [1.0, 0.2, 0.0, 2.5],
        [0.8, 0.6, 0.4, 0.0],
    ]
)
"""Every transition has its reverse: finite entropy production, not in detailed balance."""


def np_stationary(rates):
    q = rates - np.diag(rates.sum(1))
    n = q.shape[0]
    a = np.vstack([q.T[:-1], np.ones(n)])
    b = np.zeros(n)
    b[-1] = 1.0
    return np.linalg.solve(a, b)


def duplicated_edges(rates):
    """EdgeRates with each edge split into duplicates (0.25, 0.75), shuffled, plus a self-loop."""
    src, dst = np.nonzero(rates)
    r = rates[src, dst]
    src2 = np.concatenate([src, src, [2]])
    dst2 = np.concatenate([dst, dst, [2]])
    r2 = np.concatenate([0.25 * r, 0.75 * r, [5.0]])
    perm = np.random.default_rng(0).permutation(len(r2))
    return EdgeRates(jnp.asarray(src2[perm]), jnp.asarray(dst2[perm]), jnp.asarray(r2[perm]), 4)


def replica_stats(rates, n_replicas=32, t_max=400.0, seed=0):
    """Independent runs: a batch of initial states with one key (member i: fold_in(key, i))."""
    x0s = jnp.arange(n_replicas) % 4
    return jn.markov.gillespie_statistics(rates, x0s, key=jr.key(seed), t_max=t_max)


def assert_within_standard_errors(samples, expected, n_se=N_SE):
    """Replica means agree with `expected` within n_se standard errors of the mean."""
    mean, se = mean_and_stderr(samples)
    err = np.abs(mean - np.asarray(expected))
    assert np.all(err <= n_se * se + 1e-12), (mean, expected, se)


# --------------------------------------------------------------------------------------------
# Trajectories
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dense", "edges"])
def test_trajectory_has_requested_length_starts_at_x0_and_only_uses_positive_rates(kind):
    rates = jnp.asarray(RATES) if kind == "dense" else duplicated_edges(RATES)
    traj = jn.markov.gillespie(rates, 2, key=jr.key(1), n_jumps=200)
    states, times = np.asarray(traj.states), np.asarray(traj.times)
    assert states.shape == times.shape == (201,)
    assert states[0] == 2 and times[0] == 0.0
    assert np.all(np.diff(times) > 0)
    assert np.all(RATES[states[:-1], states[1:]] > 0)


def test_edge_list_and_dense_rates_give_the_same_trajectory_for_the_same_key():
    dense = jn.markov.gillespie(jnp.asarray(RATES), 0, key=jr.key(3), n_jumps=200)
    sparse = jn.markov.gillespie(EdgeRates.from_dense(RATES), 0, key=jr.key(3), n_jumps=200)
    np.testing.assert_array_equal(dense.states, sparse.states)
    np.testing.assert_allclose(dense.times, sparse.times, rtol=1e-14)


def test_dwell_times_are_exponential_with_mean_one_over_exit_rate():
    traj = jn.markov.gillespie(jnp.asarray(RATES), 0, key=jr.key(4), n_jumps=20000)
    states, times = np.asarray(traj.states), np.asarray(traj.times)
    dwell = np.diff(times)
    exit_rates = RATES.sum(axis=1)
    for i in range(4):
        d = dwell[states[:-1] == i]
        assert len(d) > 1000
        # The mean of N Exp(lambda) samples has standard error 1 / (lambda sqrt(N)).
        assert abs(d.mean() - 1 / exit_rates[i]) < 5 / (exit_rates[i] * np.sqrt(len(d)))
        assert scipy.stats.kstest(d, "expon", args=(0, 1 / exit_rates[i])).pvalue > 1e-4


def test_jump_destinations_follow_rate_proportions():
    rates = duplicated_edges(RATES)
    traj = jn.markov.gillespie(rates, 0, key=jr.key(5), n_jumps=20000)
    states = np.asarray(traj.states)
    for i in range(4):
        nxt = states[1:][states[:-1] == i]
        prob = RATES[i] / RATES[i].sum()
        freq = np.bincount(nxt, minlength=4) / len(nxt)
        se = np.sqrt(prob * (1 - prob) / len(nxt))
        assert np.all(np.abs(freq - prob) <= 5 * se + 1e-12), (i, freq, prob)


def test_absorbing_state_gives_infinite_times_and_a_frozen_state():
    rates = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])  # 2 absorbs
    for r in (rates, EdgeRates.from_dense(rates)):
        traj = jn.markov.gillespie(r, 0, key=jr.key(6), n_jumps=200)
        states, times = np.asarray(traj.states), np.asarray(traj.times)
        k = int(np.argmax(states == 2))
        assert k > 0 and np.all(states[k:] == 2)
        assert np.all(np.isfinite(times[: k + 1])) and np.all(np.isinf(times[k + 1 :]))
        assert not np.any(np.isnan(times))


def test_gillespie_vmaps_over_initial_states_and_keys_under_jit():
    keys = jr.split(jr.key(7), 5)
    x0s = jnp.array([0, 1, 2, 3, 0])
    run = jax.jit(jax.vmap(partial(jn.markov.gillespie, jnp.asarray(RATES), n_jumps=50)))
    batch = run(x0s, key=keys)
    assert batch.states.shape == batch.times.shape == (5, 51)
    single = jn.markov.gillespie(jnp.asarray(RATES), 2, key=keys[2], n_jumps=50)
    np.testing.assert_array_equal(batch.states[2], single.states)
    np.testing.assert_allclose(batch.times[2], single.times, rtol=1e-14)


def test_gillespie_rejects_bad_arguments():
    rates = jnp.asarray(RATES)
    with pytest.raises(ValueError, match="`x0` = 4 is out of range"):
        jn.markov.gillespie(rates, 4, key=jr.key(0), n_jumps=3)
    with pytest.raises(ValueError, match="`x0` must be one integer state index"):
        jn.markov.gillespie(rates, 1.0, key=jr.key(0), n_jumps=3)
    with pytest.raises(ValueError, match="`x0` must be one integer state index or a 1D batch"):
        jn.markov.gillespie(rates, jnp.zeros((2, 2), int), key=jr.key(0), n_jumps=3)
    with pytest.raises(ValueError, match="`x0` = 5 at member 2 is out of range"):
        jn.markov.gillespie(rates, jnp.array([0, 1, 5]), key=jr.key(0), n_jumps=3)
    with pytest.raises(ValueError, match="empty ensemble axis"):
        jn.markov.gillespie(rates, jnp.zeros((0,), int), key=jr.key(0), n_jumps=3)
    with pytest.raises(ValueError, match="`key` must be ONE PRNG key"):
        jn.markov.gillespie(rates, jnp.array([0, 1]), key=jr.split(jr.key(0), 2), n_jumps=3)
    with pytest.raises(ValueError, match="`n_jumps` must be a Python int >= 0"):
        jn.markov.gillespie(rates, 0, key=jr.key(0), n_jumps=-1)
    with pytest.raises(ValueError, match="`key` is required"):
        jn.markov.gillespie(rates, 0, key=None, n_jumps=3)
    with pytest.raises(ValueError, match="negative entry"):
        jn.markov.gillespie(-rates, 0, key=jr.key(0), n_jumps=3)


def test_gillespie_rejects_out_of_range_x0_under_jit():
    run = jax.jit(lambda x: jn.markov.gillespie(jnp.asarray(RATES), x, key=jr.key(0), n_jumps=3))
    for bad in (jnp.array(7), jnp.array([0, 1, 7])):
        with pytest.raises((eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError), match="`x0`"):
            jax.block_until_ready(run(bad))


# --------------------------------------------------------------------------------------------
# Ensembles: a batch of initial states with one key
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dense", "edges"])
def test_batched_gillespie_is_bitwise_the_loop_of_single_calls_with_fold_in_keys(kind):
    rates = jnp.asarray(RATES) if kind == "dense" else duplicated_edges(RATES)
    key, x0s = jr.key(21), jnp.array([3, 0, 1, 2, 2])
    batch = jn.markov.gillespie(rates, x0s, key=key, n_jumps=40)
    assert batch.states.shape == batch.times.shape == (5, 41)
    for i in range(5):
        one = jn.markov.gillespie(rates, x0s[i], key=jr.fold_in(key, i), n_jumps=40)
        np.testing.assert_array_equal(batch.states[i], one.states)
        np.testing.assert_array_equal(batch.times[i], one.times)


def test_member_paths_do_not_depend_on_the_batch_around_them():
    rates = jnp.asarray(RATES)
    key = jr.key(22)
    small = jn.markov.gillespie(rates, jnp.array([1, 2]), key=key, n_jumps=30)
    large = jn.markov.gillespie(rates, jnp.array([1, 2, 0, 3, 3, 1, 0]), key=key, n_jumps=30)
    np.testing.assert_array_equal(small.states, large.states[:2])
    np.testing.assert_array_equal(small.times, large.times[:2])
    # under jit, with the batch traced, the numbers are the same as eagerly
    traced = jax.jit(lambda x: jn.markov.gillespie(rates, x, key=key, n_jumps=30))(
        jnp.array([1, 2])
    )
    np.testing.assert_array_equal(small.states, traced.states)
    np.testing.assert_array_equal(small.times, traced.times)


def test_batched_members_are_independent_and_sample_the_stationary_distribution():
    # 256 members started in state 0, one key: the state after 60 jumps (times ~ 30, far
    # beyond the relaxation time) of each member follows the stationary law of the JUMP
    # chain at jump times, p_i * lambda_i / sum_j p_j lambda_j, with binomial errors.
    b = 256
    traj = jn.markov.gillespie(jnp.asarray(RATES), jnp.zeros(b, int), key=jr.key(23), n_jumps=60)
    final = np.asarray(traj.states[:, -1])
    p = np_stationary(RATES)
    embedded = p * RATES.sum(1) / np.sum(p * RATES.sum(1))
    indicator = (final[:, None] == np.arange(4)[None, :]).astype(float)
    assert_within_standard_errors(indicator, embedded)
    assert len(np.unique(np.asarray(traj.times[:, 1]))) == b  # no two members alike


@pytest.mark.parametrize(("kind", "mode"), [("dense", "n_jumps"), ("edges", "t_max")])
def test_batched_statistics_are_bitwise_the_loop_of_single_calls(kind, mode):
    rates = jnp.asarray(REVERSIBLE) if kind == "dense" else duplicated_edges(REVERSIBLE)
    key, x0s = jr.key(24), jnp.array([2, 0, 3])
    kwargs = {"n_jumps": 60} if mode == "n_jumps" else {"t_max": 15.0}
    batch = jn.markov.gillespie_statistics(rates, x0s, key=key, **kwargs)
    assert batch.batch_shape == (3,) and batch.total_time.shape == (3,)
    if kind == "edges":
        assert batch.src.shape == rates.src.shape  # one shared edge list
    sigma, currents = batch.entropy_production_rate(rates), batch.currents()
    assert sigma.shape == (3,) and currents.shape == (3, *batch.jump_counts.shape[1:])
    for i in range(3):
        one = jn.markov.gillespie_statistics(rates, x0s[i], key=jr.fold_in(key, i), **kwargs)
        for field in ("occupation_time", "jump_counts", "total_time", "n_jumps", "final_state"):
            np.testing.assert_array_equal(getattr(batch, field)[i], getattr(one, field))
        # estimators reduce over states; a vectorised sum may round differently (1 ulp)
        np.testing.assert_allclose(sigma[i], one.entropy_production_rate(rates), rtol=1e-14)
        np.testing.assert_allclose(currents[i], one.currents(), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(
            batch.entropy_production_rate()[i], one.entropy_production_rate(), rtol=1e-14
        )


def test_methods_of_a_vmapped_statistics_batch_work_run_by_run():
    # a JumpStatistics made by vmap carries the edge list per run ([b, m]) and may have two
    # batch axes; every method returns the leading batch axes.
    rates = duplicated_edges(REVERSIBLE)
    keys = jr.split(jr.key(26), 6).reshape(2, 3)
    x0s = jnp.array([[0, 1, 2], [3, 0, 1]])
    run = jax.vmap(
        jax.vmap(lambda x, k: jn.markov.gillespie_statistics(rates, x, key=k, n_jumps=80))
    )
    stats = run(x0s, keys)
    assert stats.src.shape == (2, 3, rates.src.shape[0])
    sigma = stats.entropy_production_rate(rates)
    plug_in = stats.entropy_production_rate()
    currents = stats.currents()
    occupation = stats.occupation()
    assert sigma.shape == plug_in.shape == (2, 3)
    assert currents.shape == (2, 3, rates.src.shape[0]) and occupation.shape == (2, 3, 4)
    for a, c in ((0, 2), (1, 0)):
        one = jn.markov.gillespie_statistics(rates, x0s[a, c], key=keys[a, c], n_jumps=80)
        np.testing.assert_allclose(sigma[a, c], one.entropy_production_rate(rates), rtol=1e-14)
        np.testing.assert_allclose(plug_in[a, c], one.entropy_production_rate(), rtol=1e-14)
        np.testing.assert_allclose(currents[a, c], one.currents(), rtol=1e-14, atol=1e-15)


def test_batched_statistics_accept_one_dense_chain_per_run():
    chains = jnp.stack([jnp.asarray(REVERSIBLE), jnp.asarray(REVERSIBLE).T])
    keys = jr.split(jr.key(27), 2)
    run = jax.vmap(lambda r, k: jn.markov.gillespie_statistics(r, 0, key=k, n_jumps=50))
    stats = run(chains, keys)
    sigma = stats.entropy_production_rate(chains)
    for i in range(2):
        one = jn.markov.gillespie_statistics(chains[i], 0, key=keys[i], n_jumps=50)
        np.testing.assert_allclose(sigma[i], one.entropy_production_rate(chains[i]), rtol=1e-14)
    with pytest.raises(ValueError, match=r"one chain per run, \[\*b, n, n\]"):
        stats.entropy_production_rate(jnp.stack([chains] * 3))


# --------------------------------------------------------------------------------------------
# Streaming statistics
# --------------------------------------------------------------------------------------------


# 300 jumps: whole blocks of folded jumps and a remainder; 7: fewer than one block
@pytest.mark.parametrize("n_jumps", [300, 7])
@pytest.mark.parametrize("kind", ["dense", "edges"])
def test_statistics_with_n_jumps_reproduce_the_stored_trajectory(kind, n_jumps):
    rates = duplicated_edges(RATES) if kind == "edges" else jnp.asarray(RATES)
    key = jr.key(8)
    traj = jn.markov.gillespie(rates, 1, key=key, n_jumps=n_jumps)
    stats = jn.markov.gillespie_statistics(rates, 1, key=key, n_jumps=n_jumps)
    states, times = np.asarray(traj.states), np.asarray(traj.times)
    occ = np.bincount(states[:-1], weights=np.diff(times), minlength=4)
    np.testing.assert_allclose(stats.occupation_time, occ, rtol=1e-12)
    np.testing.assert_allclose(stats.total_time, times[-1], rtol=1e-12)
    assert int(stats.final_state) == states[-1] and int(stats.n_jumps) == n_jumps
    counts = np.zeros((4, 4))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    if kind == "dense":
        np.testing.assert_array_equal(stats.jump_counts, counts)
        return
    per_pair = np.zeros((4, 4))
    np.add.at(
        per_pair, (np.asarray(rates.src), np.asarray(rates.dst)), np.asarray(stats.jump_counts)
    )
    np.testing.assert_array_equal(per_pair, counts)


@pytest.fixture(scope="module", params=["dense", "edges"])
def replica_run(request):
    """32 independent runs to t = 400 of the driven chain, as dense rates or an edge list."""
    rates = jnp.asarray(RATES) if request.param == "dense" else duplicated_edges(RATES)
    return rates, replica_stats(rates)


def test_occupation_converges_to_the_stationary_distribution(replica_run):
    _, stats = replica_run
    assert_within_standard_errors(stats.occupation(), np_stationary(RATES))


def test_empirical_currents_converge_to_exact_currents(replica_run):
    rates, stats = replica_run
    exact = jn.markov.currents(rates, jn.markov.stationary(rates))
    assert_within_standard_errors(stats.currents(), exact)


def test_entropy_production_estimate_converges_to_schnakenberg_rate():
    rates = jnp.asarray(REVERSIBLE)
    stats = replica_stats(rates, seed=2)
    sigma = float(jn.markov.entropy_production_rate(rates))
    assert_within_standard_errors(stats.entropy_production_rate(rates), sigma)
    # The plug-in estimate from counts alone converges too, with a bias O(1/T): for each
    # pair, (n_ij - n_ji) ln(n_ij / n_ji) with counts of means a = p_i r_ij T, b = p_j r_ji T
    # has, to second order in the count fluctuations (delta method, Poisson variances),
    # the bias 1 + (a/b + b/a)/2. That sum over pairs, / T, is the allowance.
    plug_in = np.asarray(stats.entropy_production_rate())
    p, r, t = np.asarray(jn.markov.stationary(rates)), np.asarray(rates), 400.0
    upper = np.triu_indices(r.shape[0], 1)
    a, b = (p[:, None] * r * t)[upper], (p[:, None] * r * t).T[upper]
    bias = np.sum(1 + (a / b + b / a) / 2) / t
    mean, se = mean_and_stderr(plug_in)
    assert_within_stderr(mean, se, sigma, bias=bias)


def test_entropy_production_estimate_of_edge_list_equals_dense_estimate_for_the_same_run():
    key = jr.key(9)
    dense = jn.markov.gillespie_statistics(jnp.asarray(REVERSIBLE), 0, key=key, n_jumps=2000)
    sparse = jn.markov.gillespie_statistics(
        EdgeRates.from_dense(REVERSIBLE), 0, key=key, n_jumps=2000
    )
    np.testing.assert_allclose(
        sparse.entropy_production_rate(EdgeRates.from_dense(REVERSIBLE)),
        dense.entropy_production_rate(jnp.asarray(REVERSIBLE)),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        sparse.entropy_production_rate(), dense.entropy_production_rate(), rtol=1e-12
    )


def test_one_way_jump_makes_the_entropy_production_estimate_infinite():
    stats = jn.markov.gillespie_statistics(jnp.asarray(RATES), 1, key=jr.key(10), t_max=100.0)
    assert float(stats.entropy_production_rate(jnp.asarray(RATES))) == np.inf


def test_statistics_to_t_max_handle_absorbing_states():
    rates = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    stats = jn.markov.gillespie_statistics(rates, 0, key=jr.key(11), t_max=1000.0)
    assert float(stats.total_time) == 1000.0
    np.testing.assert_allclose(float(stats.occupation_time.sum()), 1000.0, rtol=1e-12)
    assert int(stats.final_state) == 2 and np.all(np.isfinite(stats.occupation()))


def test_statistics_reject_bad_arguments():
    rates = jnp.asarray(RATES)
    with pytest.raises(ValueError, match="exactly one of `n_jumps`"):
        jn.markov.gillespie_statistics(rates, 0, key=jr.key(0))
    with pytest.raises(ValueError, match="exactly one of `n_jumps`"):
        jn.markov.gillespie_statistics(rates, 0, key=jr.key(0), n_jumps=3, t_max=1.0)
    with pytest.raises(ValueError, match="`t_max` must be finite and > 0"):
        jn.markov.gillespie_statistics(rates, 0, key=jr.key(0), t_max=0.0)
    with pytest.raises(ValueError, match="out of range"):
        jn.markov.gillespie_statistics(rates, -1, key=jr.key(0), t_max=1.0)
    stats = jn.markov.gillespie_statistics(rates, 0, key=jr.key(0), n_jumps=3)
    with pytest.raises(ValueError, match="representation used for the run"):
        stats.entropy_production_rate(EdgeRates.from_dense(RATES))


def test_gillespie_float32_smoke():
    r32 = jnp.asarray(REVERSIBLE, jnp.float32)
    for rates in (r32, EdgeRates.from_dense(r32)):
        traj = jn.markov.gillespie(rates, 0, key=jr.key(12), n_jumps=20)
        assert traj.times.dtype == jnp.float32 and np.all(np.isfinite(traj.times))
        stats = jn.markov.gillespie_statistics(rates, 0, key=jr.key(12), t_max=2000.0)
        assert stats.occupation_time.dtype == jnp.float32
        np.testing.assert_allclose(stats.occupation(), np_stationary(REVERSIBLE), atol=0.05)
        assert np.isfinite(float(stats.entropy_production_rate(rates)))
    batch = jn.markov.gillespie_statistics(r32, jnp.array([0, 3]), key=jr.key(13), n_jumps=50)
    assert batch.occupation_time.dtype == jnp.float32
    sigma = batch.entropy_production_rate(r32)
    assert sigma.shape == (2,) and sigma.dtype == jnp.float32 and np.all(np.isfinite(sigma))


# --------------------------------------------------------------------------------------------
# Random numbers: Philox4x32-10 counter mode
# --------------------------------------------------------------------------------------------


def test_philox_matches_the_known_answers_of_random123():
    # known-answer vectors of Random123's kat_vectors (philox4x32, 10 rounds):
    # counter (4 words), key (2 words) -> output (4 words)
    from jaxneq.markov._gillespie_random import philox4x32

    cases = [
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ]
    for counter, key, expected in cases:
        words = philox4x32(
            [jnp.uint32(c) for c in counter], [jnp.uint32(k) for k in key], rounds=10
        )
        assert [int(w) for w in words] == expected


def test_float64_logarithm_is_within_one_ulp_of_numpy():
    from jaxneq.markov._gillespie_random import log64

    grid = 2.0**-52
    x = np.concatenate(
        [
            np.random.default_rng(0).random(100_000),
            1.0 - np.arange(2**14) * grid,  # near 1, where -log(1 - v) is smallest
            np.arange(1, 2**14) * grid,  # the smallest values 1 - v can take
        ]
    )
    x = x[x > 0]
    reference = np.log(x)
    got = np.asarray(log64(jnp.asarray(x)))
    ulp = np.spacing(np.abs(reference))
    assert np.all(np.abs(got - reference) <= np.where(reference == 0, 0.0, ulp))


def test_jump_numbers_do_not_depend_on_the_run_length_or_block_boundaries():
    # jump j draws from Philox counter j: a shorter run is a prefix of a longer one, for
    # lengths that end inside, at, and across blocks of 16 jumps; the statistics to t_max
    # (drawn in whole blocks) are those of the path cut at t_max
    rates = jnp.asarray(REVERSIBLE)
    x0s, key = jnp.array([0, 3]), jr.key(31)
    long = jn.markov.gillespie(rates, x0s, key=key, n_jumps=100)
    for n_jumps in (1, 15, 16, 17, 40):
        short = jn.markov.gillespie(rates, x0s, key=key, n_jumps=n_jumps)
        np.testing.assert_array_equal(short.states, long.states[:, : n_jumps + 1])
        np.testing.assert_array_equal(short.times, long.times[:, : n_jumps + 1])
    t_max = float(np.min(long.times[:, -1])) * 0.9
    stats = jn.markov.gillespie_statistics(rates, x0s, key=key, t_max=t_max)
    for i in range(2):
        made = int(np.sum(np.asarray(long.times[i, 1:]) <= t_max))
        assert int(stats.n_jumps[i]) == made
        assert int(stats.final_state[i]) == int(long.states[i, made])


def test_a_fixed_key_gives_the_recorded_jumps():
    # the numbers of this key, recorded when the Philox counter scheme was introduced: a
    # faster implementation of the same SSA must reproduce them bitwise
    traj = jn.markov.gillespie(jnp.asarray(REVERSIBLE), jnp.array([0, 3]), key=jr.key(0), n_jumps=5)
    np.testing.assert_array_equal(traj.states, [[0, 1, 2, 0, 1, 2], [3, 0, 1, 2, 0, 1]])
    times = [
        ["0x0.0p+0", "0x1.062330d957aacp-2", "0x1.c0a69086477dap-2", "0x1.dfb24c01194cap-1"]
        + ["0x1.165f426d55491p+0", "0x1.9a94389b5929cp+0"],
        ["0x0.0p+0", "0x1.d4e0aeb0518b4p-1", "0x1.828b0e4b03880p+0", "0x1.2379139a3d980p+1"]
        + ["0x1.27025e141e203p+1", "0x1.350d9729e412bp+1"],
    ]
    expected = np.array([[float.fromhex(v) for v in row] for row in times])
    np.testing.assert_array_equal(traj.times, expected)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 16, 17, 20])
def test_binary_search_counts_the_row_entries_at_or_below_the_target(n):
    # the dense sampler's next state is the number of cumulative-row entries <= the target;
    # its unrolled binary search must agree with counting them, ties and ends included
    from jaxneq.markov._gillespie_samplers import _count_at_most

    rng = np.random.default_rng(n)
    rates = rng.uniform(0.0, 1.0, (4, n)) * (rng.random((4, n)) < 0.7)  # zeros make ties
    table = np.cumsum(rates, axis=1)
    rows = np.repeat(np.arange(4), 3 * n + 2)
    targets = np.concatenate(
        [
            np.concatenate(
                [row, row - 1e-3, rng.uniform(0.0, 1.0, n) * row[-1], [0.0, row[-1] + 1]]
            )
            for row in table
        ]
    )
    got = _count_at_most(jnp.asarray(table.reshape(-1)), jnp.asarray(rows * n), n, targets)
    expected = np.sum(table[rows] <= targets[:, None], axis=1)
    np.testing.assert_array_equal(got, expected)
