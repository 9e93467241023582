"""Stationary solvers never answer silently: reducible chains, non-convergence, bad members.

Ground truth: the chains are built reducible (or not) by construction; the reference
distributions of the good members come from scipy's SVD null space.
"""

import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jaxneq.markov import EdgeRates, stationary


def two_two_cycles():
    """Four states, two closed classes {0, 1} and {2, 3}: no unique stationary state."""
    rates = np.zeros((4, 4))
    rates[0, 1] = rates[1, 0] = 1.0
    rates[2, 3] = rates[3, 2] = 2.0
    return rates


def path_chain(n, cut=None):
    """Birth–death chain 0 - 1 - ... - n-1 with unit rates; `cut` zeroes the rates across
    the bond (cut, cut + 1), leaving two closed classes of cut + 1 and n - cut - 1 states."""
    src = np.concatenate([np.arange(n - 1), np.arange(1, n)])
    dst = np.concatenate([np.arange(1, n), np.arange(n - 1)])
    rate = np.ones(src.size)
    if cut is not None:
        rate[np.minimum(src, dst) == cut] = 0.0
    return src, dst, rate


def scipy_stationary(rates):
    q = rates - np.diag(rates.sum(axis=1))
    v = scipy.linalg.null_space(q.T)[:, 0]
    return v / v.sum()


def random_rates(seed, n):
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.5, 2.0, (n, n))
    np.fill_diagonal(r, 0.0)
    return r


# ---------------------------------------------------------------------------------------
# Reducible chains on every path
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["krylov", "gth", "lu"])
@pytest.mark.parametrize("sparse", [False, True])
def test_two_closed_classes_raise_the_same_value_error_on_every_method(method, sparse):
    rates = two_two_cycles()
    rates = EdgeRates.from_dense(rates) if sparse else jnp.asarray(rates)
    with pytest.raises(ValueError, match=r"`rates` is reducible.*\{0, 1\} and \{2, 3\}"):
        stationary(rates, method=method)


def test_auto_on_a_3000_state_chain_cut_in_two_raises_naming_both_halves():
    n = 3000  # above AUTO_DENSE_MAX_STATES: "auto" picks the Krylov solver
    src, dst, rate = path_chain(n, cut=1499)
    chain = EdgeRates(src, dst, rate, n)
    with pytest.raises(ValueError, match=r"reducible.*\{0, 1, .*1500 states\)\} and \{1500, 1501"):
        stationary(chain)


def test_krylov_under_jit_detects_a_chain_cut_by_zero_rates():
    n = 40
    src, dst, rate = path_chain(n, cut=19)
    src, dst = jnp.asarray(src), jnp.asarray(dst)  # jax arrays stay concrete when closed over

    @eqx.filter_jit
    def solve(rate):  # the structure is concrete (closed over), the values are traced
        return stationary(EdgeRates(src, dst, rate, n), method="krylov")

    with pytest.raises(RuntimeError, match=r"`rates` is reducible"):
        jax.block_until_ready(solve(jnp.asarray(rate)))
    np.testing.assert_allclose(solve(jnp.ones_like(rate)), np.full(n, 1 / n), rtol=1e-10)


def test_krylov_under_jit_with_traced_edge_list_detects_two_closed_classes():
    chain = EdgeRates.from_dense(two_two_cycles())
    solve = eqx.filter_jit(lambda c: stationary(c, method="krylov"))
    with pytest.raises(RuntimeError, match=r"`rates` is reducible"):
        jax.block_until_ready(solve(chain))


def test_krylov_with_a_structurally_reducible_edge_list_raises_at_trace_time():
    src, dst, rate = path_chain(10)
    keep = np.minimum(src, dst) != 4  # no edge at all between {0..4} and {5..9}
    src, dst, rate = jnp.asarray(src[keep]), jnp.asarray(dst[keep]), rate[keep]

    def solve(rate):
        return stationary(EdgeRates(src, dst, rate, 10), method="krylov")

    with pytest.raises(ValueError, match=r"reducible.*\{0, 1, 2, 3, 4\} and \{5, 6, 7, 8, 9\}"):
        jax.jit(solve)(jnp.asarray(rate))


# ---------------------------------------------------------------------------------------
# Non-convergence and the Krylov options
# ---------------------------------------------------------------------------------------


def _hard_chain(n=260, seed=0):
    """A random sparse driven chain that needs several Krylov iterations (n > 256: the
    preconditioner is a two-level V-cycle, not a direct solve)."""
    rng = np.random.default_rng(seed)
    ring = np.arange(n)
    src = np.concatenate([ring, (ring + 1) % n, rng.integers(0, n, 3 * n)])
    dst = np.concatenate([(ring + 1) % n, ring, rng.integers(0, n, 3 * n)])
    return src, dst, rng.exponential(size=src.size) * 10.0 ** rng.uniform(-3, 3, src.size)


@pytest.mark.parametrize("sparse", [False, True])
def test_non_convergence_raises_runtime_error_for_dense_and_edge_rates(sparse):
    src, dst, rate = _hard_chain()
    chain = EdgeRates(src, dst, rate, 260)
    rates = chain if sparse else chain.to_dense()
    with pytest.raises(RuntimeError, match=r"did not converge.*max_iters=1\b.*larger `max_iters`"):
        stationary(rates, method="krylov", max_iters=1, rtol=1e-14)
    if sparse:  # and the same type under jit (a JaxRuntimeError is a RuntimeError)
        solve = jax.jit(lambda r: stationary(r, method="krylov", max_iters=1, rtol=1e-14))
        with pytest.raises(RuntimeError, match="did not converge"):
            jax.block_until_ready(solve(rates))


@pytest.mark.parametrize(
    "option, value, match",
    [
        ("rtol", 0.0, r"`rtol` must lie in \(0, 1\)"),
        ("rtol", 2.0, r"`rtol` must lie in \(0, 1\)"),
        ("atol", -1.0, r"`atol` must be finite and >= 0"),
        ("max_iters", 0, r"`max_iters` must be >= 1"),
        ("max_iters", 2.5, r"`max_iters` must be a Python int"),
    ],
)
def test_krylov_options_are_validated(option, value, match):
    with pytest.raises(ValueError, match=match):
        stationary(jnp.asarray(random_rates(0, 4)), **{option: value})


def test_looser_rtol_bounds_the_error_relative_to_the_largest_entry():
    src, dst, rate = _hard_chain(seed=1)
    chain = EdgeRates(src, dst, rate, 260)
    reference = np.asarray(stationary(chain, method="gth"))
    for rtol in (1e-6, 1e-10):
        p = np.asarray(stationary(chain, method="krylov", rtol=rtol))
        err = np.max(np.abs(p - reference)) / reference.max()
        assert err < 100 * rtol, (rtol, err)


# ---------------------------------------------------------------------------------------
# Bad members under vmap
# ---------------------------------------------------------------------------------------


def _batch_with_bad_members(n=6, size=5, bad=None):
    batch = np.stack([random_rates(10 + k, n) for k in range(size)])
    if bad == "negative":
        batch[3, 0, 1] = -1.0
    elif bad == "nan":
        batch[3, 2, 4] = np.nan
    elif bad == "reducible":
        batch[3, :3, 3:] = batch[3, 3:, :3] = 0.0
    return jnp.asarray(batch)


@pytest.mark.parametrize("bad", ["negative", "nan", "reducible"])
def test_eager_vmap_names_the_bad_member_in_a_value_error(bad):
    batch = _batch_with_bad_members(bad=bad)
    what = "is reducible" if bad == "reducible" else "has a negative, NaN or infinite entry"
    with pytest.raises(ValueError, match=rf"^`rates` of batch member 3 {what}"):
        jax.vmap(stationary)(batch)


@pytest.mark.parametrize("jit", [jax.jit, eqx.filter_jit])
def test_vmap_under_jit_names_the_bad_member(jit):
    batch = _batch_with_bad_members(bad="reducible")
    with pytest.raises(RuntimeError, match=r"`rates` of batch member 3 is reducible"):
        jax.block_until_ready(jit(jax.vmap(stationary))(batch))


def test_vmap_over_edge_rate_values_names_the_bad_member():
    base = EdgeRates.from_dense(random_rates(3, 5))
    values = jnp.tile(base.rate, (4, 1)).at[2, 7].set(-0.5)
    with pytest.raises(ValueError, match=r"`rates` of batch member 2 has a negative"):
        jax.vmap(lambda v: stationary(EdgeRates(base.src, base.dst, v, 5)))(values)


def test_with_eqx_on_error_nan_only_the_bad_members_become_nan():
    # Equinox reads EQX_ON_ERROR once, at import: a fresh interpreter with it set.
    script = textwrap.dedent(
        """
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, numpy as np
        from jaxneq.markov import stationary
        batch = np.stack([np.random.default_rng(10 + k).uniform(0.5, 2, (6, 6)) for k in range(5)])
        batch[1, 0, 1] = -1.0                        # a negative rate
        batch[3, :3, 3:] = batch[3, 3:, :3] = 0.0    # two closed classes
        for method in ("gth", "lu"):
            p = np.asarray(jax.jit(jax.vmap(lambda r: stationary(r, method=method)))(batch))
            np.save(f"{method}.npy", p)
        """
    )
    env = dict(os.environ, EQX_ON_ERROR="nan", JAX_PLATFORMS="cpu")
    cwd = os.environ.get("TMPDIR", "/tmp")
    with_dir = os.path.join(cwd, f"jaxneq_nan_{os.getpid()}")
    os.makedirs(with_dir, exist_ok=True)
    subprocess.run([sys.executable, "-c", script], env=env, cwd=with_dir, check=True, timeout=120)
    batch = np.stack([np.random.default_rng(10 + k).uniform(0.5, 2, (6, 6)) for k in range(5)])
    for method in ("gth", "lu"):
        p = np.load(os.path.join(with_dir, f"{method}.npy"))
        assert np.all(np.isnan(p[[1, 3]])), method
        for k in (0, 2, 4):
            np.fill_diagonal(batch[k], 0.0)
            np.testing.assert_allclose(p[k], scipy_stationary(batch[k]), rtol=1e-10)


def test_a_nan_diagonal_is_ignored_under_jit_and_vmap():
    rates = random_rates(7, 6)
    with_nan = rates + np.diag(np.full(6, np.nan))
    reference = scipy_stationary(rates)
    np.testing.assert_allclose(jax.jit(stationary)(with_nan), reference, rtol=1e-10)
    batch = jnp.stack([jnp.asarray(with_nan)] * 3)
    np.testing.assert_allclose(jax.vmap(stationary)(batch)[1], reference, rtol=1e-10)
    lu = jax.jit(lambda r: stationary(r, method="lu"))(with_nan)
    np.testing.assert_allclose(lu, reference, rtol=1e-10)


def test_traced_lu_and_blocked_gth_report_a_reducible_chain_as_reducible(monkeypatch):
    import jaxneq.markov._dense_solvers as dense_module
    import jaxneq.markov._stationary as stationary_module

    # the dispatch (_stationary) and the blocked factorisation (_dense_solvers) both read it
    monkeypatch.setattr(stationary_module, "GTH_BLOCK", 4)
    monkeypatch.setattr(dense_module, "GTH_BLOCK", 4)
    n = 11  # a size no other test compiles, so GTH is traced with blocks of 4 states
    rates = np.zeros((n, n))
    for ring in (np.arange(5), np.arange(5, n)):  # two closed classes
        rates[ring, np.roll(ring, -1)] = 1.0
    for method in ("gth", "lu"):
        solve = eqx.filter_jit(lambda r, method=method: stationary(r, method=method))
        with pytest.raises(RuntimeError, match=r"`rates` is reducible"):
            jax.block_until_ready(solve(jnp.asarray(rates)))
