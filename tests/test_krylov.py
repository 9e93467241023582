"""The matrix-free Krylov stationary solver and the grid-chain builders.

References are computed independently: dense GTH (`method="gth"`), scipy's sparse direct
solver, the Boltzmann distribution, central finite differences.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl

import jaxneq as jn
from jaxneq.markov._krylov import krylov_adjoint, krylov_plan, krylov_stationary


def _double_well_2d(nx, ny, *, drive=1.0, hot=0.0):
    x = np.linspace(-1.5, 1.5, nx)
    y = np.linspace(-1.5, 1.5, ny)
    X, Y = np.meshgrid(x, y, indexing="ij")
    potential = 2.0 * ((X**2 - 1) ** 2 + (Y**2 - 1) ** 2 + 0.25 * X * Y)
    temperature = 1.0 + hot * np.exp(-((X - 0.5) ** 2 + Y**2))
    rotation = drive * np.stack([-Y, X], axis=-1)
    return jn.models.grid_chain(
        jnp.asarray(potential),
        spacing=(x[1] - x[0], y[1] - y[0]),
        temperature=jnp.asarray(temperature),
        drive=jnp.asarray(rotation),
    )


def _scipy_pinned_stationary(chain):
    """Sparse direct solve of p Q = 0 with the last state pinned (scipy SuperLU)."""
    src, dst, rate = (np.asarray(a) for a in (chain.src, chain.dst, chain.rate))
    n = chain.n_states
    r = sp.csr_matrix((rate, (src, dst)), shape=(n, n))
    qt = (r - sp.diags(np.asarray(r.sum(axis=1)).ravel())).T.tocsr()
    a = qt[: n - 1, : n - 1].tocsc()
    b = -qt[: n - 1, n - 1].toarray().ravel()
    p = np.append(spl.spsolve(a, b), 1.0)
    return p / p.sum()


def _max_rel_err(p, ref):
    return float(np.max(np.abs(np.asarray(p) - ref) / ref))


def _assert_balance_accuracy(p, ref):
    """The Krylov stopping rule bounds the balance error in units of probability (rtol
    1e-12 on a norm), so entries far below the largest one are only accurate in absolute
    terms: relative 1e-8, plus 1e-11 of the largest entry."""
    err = np.abs(np.asarray(p) - ref)
    assert np.all(err <= 1e-8 * ref + 1e-11 * ref.max()), float(np.max(err / ref))


def test_krylov_matches_gth_on_driven_periodic_1d_chain():
    x = np.linspace(0, 1, 300, endpoint=False)
    chain = jn.models.grid_chain(
        jnp.asarray(3.0 * np.sin(2 * np.pi * x) ** 2),
        spacing=x[1] - x[0],
        temperature=jnp.asarray(1.0 + 0.5 * np.cos(2 * np.pi * x)),
        drive=2.0,
        periodic=True,
    )
    ref = np.asarray(jn.markov.stationary(chain, method="gth"))
    p = jn.markov.stationary(chain, method="krylov")
    assert _max_rel_err(p, ref) < 1e-8


@pytest.mark.slow  # ~11 s; test_public_stationary_takes_an_explicit_plan_... checks a
# driven 2D grid with a temperature field against GTH too (24 x 20, with the plan)
def test_krylov_matches_gth_on_driven_2d_grid_with_temperature_field():
    chain = _double_well_2d(20, 16, drive=1.5, hot=1.0)
    ref = np.asarray(jn.markov.stationary(chain, method="gth"))
    p = jn.markov.stationary(chain, method="krylov")
    assert _max_rel_err(p, ref) < 1e-8


def test_krylov_accepts_dense_rates_and_matches_gth():
    rates = jr_rates(40, seed=3)
    ref = np.asarray(jn.markov.stationary(rates, method="gth"))
    p = jn.markov.stationary(rates, method="krylov")
    assert _max_rel_err(p, ref) < 1e-8


def jr_rates(n, seed):
    rng = np.random.default_rng(seed)
    r = rng.exponential(size=(n, n)) * (rng.random((n, n)) < 0.3)
    r = r + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)  # irreducible
    return jnp.asarray(r)


def test_krylov_matches_scipy_spsolve_on_2d_grid_of_3600_states():
    chain = _double_well_2d(60, 60)
    ref = _scipy_pinned_stationary(chain)
    p = jn.markov.stationary(chain, method="krylov")
    assert _max_rel_err(p, ref) < 1e-7


@pytest.mark.slow
def test_krylov_matches_scipy_spsolve_on_2d_grid_of_10000_states():
    chain = _double_well_2d(100, 100)
    ref = _scipy_pinned_stationary(chain)
    p = jn.markov.stationary(chain, method="krylov")
    assert _max_rel_err(p, ref) < 1e-7


@pytest.mark.parametrize("scheme", ["scharfetter-gummel", "arrhenius"])
def test_equilibrium_grid_chain_has_boltzmann_stationary_state(scheme):
    x = np.linspace(-2, 2, 20)
    X, Y = np.meshgrid(x, x[:16], indexing="ij")
    potential = (X**2 - 1) ** 2 + 0.5 * Y**2 + 0.3 * X
    temperature = 1.0
    chain = jn.models.grid_chain(
        jnp.asarray(potential), spacing=x[1] - x[0], temperature=temperature, scheme=scheme
    )
    boltzmann = np.exp(-potential.ravel() / temperature)
    boltzmann /= boltzmann.sum()
    p = jn.markov.stationary(chain, method="krylov")
    assert _max_rel_err(p, boltzmann) < 1e-8


def test_grid_chain_rates_obey_local_detailed_balance():
    u = jnp.asarray([0.0, 1.3, -0.4, 2.0])
    chain = jn.models.grid_chain(u, spacing=0.5, temperature=0.7, drive=0.9)
    src, dst, rate = (np.asarray(a) for a in (chain.src, chain.dst, chain.rate))
    forward = {(int(a), int(b)): r for a, b, r in zip(src, dst, rate, strict=True)}
    for (a, b), r in forward.items():
        work = -(u[b] - u[a]) + 0.9 * 0.5 * (b - a)
        np.testing.assert_allclose(r / forward[(b, a)], np.exp(work / 0.7), rtol=1e-12)


def test_grid_chain_without_potential_is_free_diffusion():
    chain = jn.models.grid_chain(jnp.zeros((3, 4)), spacing=(0.5, 0.25), temperature=2.0)
    src, dst, rate = (np.asarray(a) for a in (chain.src, chain.dst, chain.rate))
    axis = np.where(np.abs(src - dst) == 4, 0, 1)
    expected = np.where(axis == 0, 2.0 / 0.5**2, 2.0 / 0.25**2)
    np.testing.assert_allclose(rate, expected, rtol=1e-12)
    assert len(rate) == 2 * (2 * 4 + 3 * 3)


def test_grid_chain_rejects_bad_arguments():
    with pytest.raises(ValueError, match="potential"):
        jn.models.grid_chain(jnp.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="temperature"):
        jn.models.grid_chain(jnp.zeros(5), temperature=-1.0)
    with pytest.raises(ValueError, match="drive"):
        jn.models.grid_chain(jnp.zeros((4, 4)), drive=jnp.zeros(3))
    with pytest.raises(ValueError, match="scheme"):
        jn.models.grid_chain(jnp.zeros(5), scheme="upwind")


def test_gradient_through_krylov_matches_central_finite_differences():
    chain = _double_well_2d(20, 16, drive=1.0, hot=0.5)
    weights = jnp.asarray(np.random.default_rng(0).normal(size=chain.n_states))

    def loss(rate, method="krylov"):
        c = jn.markov.EdgeRates(chain.src, chain.dst, rate, chain.n_states)
        return jnp.dot(weights, jn.markov.stationary(c, method=method))

    grad = np.asarray(jax.grad(loss)(chain.rate))
    # the finite differences use the direct solver, whose rounding noise is far below h^2
    rng = np.random.default_rng(1)
    for k in rng.choice(chain.rate.shape[0], size=6, replace=False):
        h = 1e-5 * float(chain.rate[k])
        up = loss(chain.rate.at[k].add(h), "gth")
        down = loss(chain.rate.at[k].add(-h), "gth")
        fd = float(up - down) / (2 * h)
        assert abs(grad[k] - fd) <= 1e-6 * max(abs(fd), np.abs(grad).max())


def test_krylov_gradient_matches_gth_gradient():
    chain = _double_well_2d(20, 16, drive=2.0)

    def loss(rate, method):
        c = jn.markov.EdgeRates(chain.src, chain.dst, rate, chain.n_states)
        p = jn.markov.stationary(c, method=method)
        return jnp.sum(p[:20] ** 2) + p[-1]

    g_krylov = jax.grad(loss)(chain.rate, "krylov")
    g_gth = jax.grad(loss)(chain.rate, "gth")
    np.testing.assert_allclose(g_krylov, g_gth, rtol=1e-7, atol=1e-9 * np.abs(g_gth).max())


@pytest.mark.slow  # 20-45 s; the Krylov gradient is also checked by finite differences
def test_krylov_adjoint_solves_adjoint_equation_with_gauge():
    chain = _double_well_2d(20, 16, drive=1.0)
    p = jn.markov.stationary(chain, method="gth")
    g = jnp.asarray(np.random.default_rng(2).normal(size=chain.n_states))
    v = krylov_adjoint(chain, p, g)
    q = np.asarray(jn.markov.generator(chain))
    rhs = np.asarray(g - jnp.dot(p, g))
    np.testing.assert_allclose(q @ np.asarray(v), rhs, atol=1e-8 * np.abs(rhs).max())
    assert abs(float(jnp.dot(p, v))) < 1e-10 * float(jnp.abs(v).max())


def test_krylov_stationary_works_under_jit_and_vmap():
    chain = _double_well_2d(20, 16, drive=1.0)
    scales = jnp.asarray([0.5, 1.0, 2.0])

    @jax.jit
    def solve(scale):
        rate = chain.rate * jnp.where(chain.src < chain.dst, scale, 1.0)
        c = jn.markov.EdgeRates(chain.src, chain.dst, rate, chain.n_states)
        return jn.markov.stationary(c, method="krylov")

    batched = jax.vmap(solve)(scales)
    for i, s in enumerate(scales):
        rate = chain.rate * jnp.where(chain.src < chain.dst, s, 1.0)
        c = jn.markov.EdgeRates(chain.src, chain.dst, rate, chain.n_states)
        ref = np.asarray(jn.markov.stationary(c, method="gth"))
        _assert_balance_accuracy(batched[i], ref)


def test_krylov_stationary_float32_smoke():
    chain64 = _double_well_2d(12, 10, drive=1.0)
    chain32 = jn.markov.EdgeRates(
        chain64.src, chain64.dst, chain64.rate.astype(jnp.float32), chain64.n_states
    )
    p = jn.markov.stationary(chain32, method="krylov")
    assert p.dtype == jnp.float32
    ref = np.asarray(jn.markov.stationary(chain64, method="gth"))
    assert np.all(np.asarray(p) >= 0)
    np.testing.assert_allclose(np.asarray(p), ref, rtol=1e-2, atol=1e-4 * ref.max())

    def first(rate):
        c = jn.markov.EdgeRates(chain32.src, chain32.dst, rate, chain32.n_states)
        return jn.markov.stationary(c, method="krylov")[0]

    grad = jax.grad(first)(chain32.rate)
    assert grad.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(grad)))


def test_krylov_reports_non_convergence_instead_of_returning_garbage():
    chain = _double_well_2d(20, 16, drive=3.0)
    _, info = jax.jit(lambda c: krylov_stationary(c, max_iters=1, return_info=True))(chain)
    assert not bool(info.converged) and int(info.iterations) == 1
    # the error raised without return_info: tests/test_stationary_errors.py (public route)


@pytest.mark.slow  # ~22 s; the plan on grids: test_krylov's explicit-plan test and
# tests/test_fokker_planck_grid_plan.py
def test_krylov_with_structure_plan_matches_gth_on_random_sparse_graph():
    rng = np.random.default_rng(5)
    n = 600
    src = np.concatenate([np.arange(n), (np.arange(n) + 1) % n, rng.integers(0, n, 1500)])
    dst = np.concatenate([(np.arange(n) + 1) % n, np.arange(n), rng.integers(0, n, 1500)])
    chain = jn.markov.EdgeRates(
        jnp.asarray(src), jnp.asarray(dst), jnp.asarray(rng.exponential(size=src.size)), n
    )
    ref = np.asarray(jn.markov.stationary(chain, method="gth"))
    p = krylov_stationary(chain, plan=krylov_plan(src, dst, n))
    assert _max_rel_err(p, ref) < 1e-8


@pytest.mark.slow  # 20-45 s; the Krylov gradient is also checked by finite differences
def test_krylov_adjoint_with_structure_plan_solves_adjoint_equation():
    chain = _double_well_2d(24, 20, drive=1.0)
    p = jn.markov.stationary(chain, method="gth")
    g = jnp.asarray(np.random.default_rng(3).normal(size=chain.n_states))
    v = krylov_adjoint(chain, p, g, plan=krylov_plan(chain.src, chain.dst, chain.n_states))
    q = np.asarray(jn.markov.generator(chain))
    rhs = np.asarray(g - jnp.dot(p, g))
    np.testing.assert_allclose(q @ np.asarray(v), rhs, atol=1e-8 * np.abs(rhs).max())
    assert abs(float(jnp.dot(p, v))) < 1e-10 * float(jnp.abs(v).max())


@pytest.mark.slow  # ~45 s; plan-vs-scipy agreement is also checked on the 3600-state grid
def test_public_stationary_builds_the_plan_and_matches_scipy_with_fewer_iterations():
    chain = _double_well_2d(64, 64)
    plan = krylov_plan(chain.src, chain.dst, chain.n_states)
    p = jn.markov.stationary(chain, method="krylov")
    assert _max_rel_err(p, _scipy_pinned_stationary(chain)) < 1e-7
    _, with_plan = krylov_stationary(chain, plan=plan, return_info=True)
    strips = jax.jit(lambda c: krylov_stationary(c, return_info=True))(chain)[1]  # traced: no plan
    assert int(with_plan.iterations) < int(strips.iterations)


def test_public_stationary_takes_an_explicit_plan_for_a_traced_edge_list():
    # the same chain and plan also stand for "the plan matches GTH on a 2D grid"
    chain = _double_well_2d(24, 20, drive=1.5, hot=1.0)
    plan = krylov_plan(chain.src, chain.dst, chain.n_states)
    assert sorted(np.asarray(plan.perm).tolist()) == list(range(chain.n_states))
    ref = np.asarray(jn.markov.stationary(chain, method="gth"))

    def loss(c, plan):
        return jn.markov.stationary(c, method="krylov", krylov_plan=plan)[0]

    p = jax.jit(lambda c, plan: jn.markov.stationary(c, method="krylov", krylov_plan=plan))(
        chain, plan
    )
    assert _max_rel_err(p, ref) < 1e-8
    g = eqx.filter_jit(eqx.filter_grad(loss))(chain, plan).rate
    g_ref = eqx.filter_grad(lambda c: jn.markov.stationary(c, method="gth")[0])(chain).rate
    np.testing.assert_allclose(g, g_ref, rtol=1e-6, atol=1e-12)
