"""The seed's four-state chain: p_1/p_2 depends on r_34 (Landauer's blowtorch, Markov form).

Ground truth: the Markov chain tree theorem, with the spanning trees enumerated here by brute
force over edge subsets (independently of jaxneq), and its finite differences.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import central_difference, central_difference_step, unit_roundoff

import jaxneq as jn
from jaxneq.markov import stationary
from jaxneq.models import four_state_chain, four_state_stationary


def ring_rates(r34):
    """The chain written out by hand: ring 1-2-3-4-1 (indices 0..3), unit rates but 3 -> 4."""
    rates = np.zeros((4, 4))
    for i in range(4):
        rates[i, (i + 1) % 4] = rates[(i + 1) % 4, i] = 1.0
    rates[2, 3] = r34
    return rates


def tree_theorem(rates):
    """Stationary distribution by the Markov chain tree theorem.

    p_k is proportional to the sum, over spanning trees directed towards k (every other state
    has exactly one outgoing tree edge and following them always reaches k), of the product
    of the rates on the tree's edges.
    """
    n = rates.shape[0]
    edges = [(i, j) for i in range(n) for j in range(n) if i != j and rates[i, j] > 0]
    weights = np.zeros(n)
    for root in range(n):
        for subset in itertools.combinations(edges, n - 1):
            out = dict(subset)
            if root in out or len(out) != n - 1:
                continue  # the root has no outgoing edge; every other state exactly one
            reaches_root = True
            for state in range(n):
                for _ in range(n):
                    if state == root:
                        break
                    state = out[state]
                reaches_root &= state == root
            if reaches_root:
                weights[root] += np.prod([rates[e] for e in subset])
    return weights / weights.sum()


def tree_ratio(r34):
    p = tree_theorem(ring_rates(r34))
    return p[0] / p[1]


def test_model_rates_are_the_seed_ring_with_r34_on_the_jump_3_to_4():
    for r34 in (0.3, 1.0, 7.0):
        np.testing.assert_array_equal(four_state_chain(r34), ring_rates(r34))
        np.testing.assert_array_equal(
            four_state_chain(r34, sparse=True).to_dense(), ring_rates(r34)
        )


def test_stationary_and_the_tree_theorem_give_boltzmann_on_a_detailed_balance_chain():
    # r_ij = e^{E_i - 2} obeys detailed balance with respect to e^{-E}: both jaxneq and the
    # independent reference used below must return the Boltzmann distribution.
    energy = np.array([0.0, 0.7, -0.4, 1.1])
    rates = np.exp(energy - 2.0)[:, None] * (1 - np.eye(4))
    expected = np.exp(-energy) / np.exp(-energy).sum()
    np.testing.assert_allclose(stationary(jnp.asarray(rates)), expected, rtol=1e-13)
    np.testing.assert_allclose(tree_theorem(rates), expected, rtol=1e-13)


R34_VALUES = [0.01, 0.2, 1.0, 3.0, 50.0]


@pytest.mark.parametrize("sparse", [False, True])
def test_stationary_distribution_matches_the_tree_theorem(sparse):
    for r34 in R34_VALUES:
        p = stationary(four_state_chain(r34, sparse=sparse))
        np.testing.assert_allclose(p, tree_theorem(ring_rates(r34)), rtol=1e-13)


def test_p1_over_p2_depends_on_r34_though_no_rate_of_states_1_and_2_changes():
    ratios = [
        float(jn.markov.stationary(four_state_chain(r))[0] / stationary(four_state_chain(r))[1])
        for r in R34_VALUES
    ]
    for r34, ratio in zip(R34_VALUES, ratios, strict=True):
        assert ratio == pytest.approx(tree_ratio(r34), rel=1e-13)
    # At r34 = 1 every rate is 1 and the ring is uniform (ratio 1 up to rounding); the ratio
    # rises through it, from below 1 to above 1, as r34 grows.
    assert ratios[2] == pytest.approx(1.0, rel=1e-13)
    assert ratios[0] < 1 < ratios[-1]
    assert np.all(np.diff(ratios) > 0)
    # the rows and columns of states 1 and 2 are the same for every r34
    low, high = four_state_chain(R34_VALUES[0]), four_state_chain(R34_VALUES[-1])
    np.testing.assert_array_equal(low[:2], high[:2])
    np.testing.assert_array_equal(low[:, :2], high[:, :2])


def ratio(r34, sparse=False):
    p = stationary(four_state_chain(r34, sparse=sparse))
    return p[0] / p[1]


def tree_ratio_derivative(r34):
    """Central difference of the brute-force tree-theorem ratio, and its error bound.

    The ratio is f = 2 - 4/(r + 3); that form is used only to bound the third derivative,
    24/(r + 3)^4 <= 24/(r + 2.9)^4 on [r - h, r + h] for h <= 0.1. Each evaluation of f is a
    few sums of products of at most three rates and one quotient: rounding below 16 u |f|.
    """
    f = 2 * (r34 + 1) / (r34 + 3)
    h, bound = central_difference_step(24 / (r34 + 2.9) ** 4, 16 * unit_roundoff(np.float64) * f)
    assert h <= 0.1 and h < r34  # the bound holds and r34 - h is still a valid rate
    return float(central_difference(tree_ratio, r34, h=h)), bound


# Rounding of a gradient computed by jaxneq (a 4-state solve and its adjoint, condition
# number O(1) here): a generous 64 u relative, still far tighter than the old rel=1e-7.
GRADIENT_RTOL = 64 * unit_roundoff(np.float64)


@pytest.mark.parametrize("sparse", [False, True])
def test_autodiff_gradient_of_p1_over_p2_matches_the_tree_theorem_finite_difference(sparse):
    grad = jax.grad(ratio)
    for r34 in R34_VALUES:
        reference, bound = tree_ratio_derivative(r34)
        value = float(grad(jnp.float64(r34), sparse))
        assert abs(value - reference) <= bound + GRADIENT_RTOL * abs(reference), (r34, value)


def test_closed_form_stationary_state_is_the_formula_of_its_docstring():
    # p = (2(r34 + 1), r34 + 3, 4, 3 r34 + 1) / (6 r34 + 10), so p1/p2 = 2(r34 + 1)/(r34 + 3)
    for r34 in R34_VALUES:
        weights = np.array([2 * (r34 + 1), r34 + 3, 4, 3 * r34 + 1])
        p = four_state_stationary(r34)
        np.testing.assert_allclose(p, weights / (6 * r34 + 10), rtol=1e-13)
        assert float(p[0] / p[1]) == pytest.approx(2 * (r34 + 1) / (r34 + 3), rel=1e-13)


def test_sweep_under_jit_and_vmap():
    r34 = jnp.logspace(-2, 2, 33)
    ratios, grads = jax.jit(jax.vmap(jax.value_and_grad(ratio)))(r34)
    np.testing.assert_allclose(ratios, 2 * (r34 + 1) / (r34 + 3), rtol=1e-12)
    np.testing.assert_allclose(grads, 4 / (r34 + 3) ** 2, rtol=1e-10)


def test_float32_smoke():
    value, grad = jax.value_and_grad(ratio)(jnp.float32(3.0))
    assert value.dtype == grad.dtype == jnp.float32
    # float32 (u = 6e-8): a 4-state solve, its adjoint and a quotient; 1e-5 and 1e-4 are
    # ~170 u and ~1700 u, generous for O(1)-conditioned 4x4 systems and far below any error
    # that a wrong formula would make
    assert float(value) == pytest.approx(4 / 3, rel=1e-5)
    assert float(grad) == pytest.approx(4 / 36, rel=1e-4)
    assert four_state_chain(jnp.float32(2.0)).dtype == jnp.float32


def test_non_scalar_r34_is_rejected():
    with pytest.raises(ValueError, match="`r34` must be a scalar"):
        four_state_chain(jnp.ones(3))


def test_closed_form_stationary_state_matches_the_brute_force_tree_theorem():
    for r34 in R34_VALUES:
        np.testing.assert_allclose(
            four_state_stationary(r34), tree_theorem(ring_rates(r34)), rtol=1e-13
        )


def test_closed_form_ratio_gradient_matches_the_tree_theorem_finite_difference():
    def exact_ratio(r):
        p = four_state_stationary(r)
        return p[0] / p[1]

    for r34 in R34_VALUES:
        reference, bound = tree_ratio_derivative(r34)
        value = float(jax.grad(exact_ratio)(jnp.float64(r34)))
        assert abs(value - reference) <= bound + GRADIENT_RTOL * abs(reference), (r34, value)
    assert four_state_stationary(jnp.float32(2.0)).dtype == jnp.float32


@pytest.mark.parametrize("bad", [-0.5, np.nan, np.inf])
@pytest.mark.parametrize("build", [four_state_chain, four_state_stationary])
def test_r34_outside_its_range_is_rejected(bad, build):
    with pytest.raises(
        ValueError, match=r"`r34` \(the rate of the jump 3 -> 4\) must be finite and >= 0"
    ):
        build(bad)


def test_traced_r34_is_checked_under_jit():
    build = jax.jit(four_state_chain)
    np.testing.assert_array_equal(build(2.0), ring_rates(2.0))
    with pytest.raises(Exception, match="`r34` .* must be finite and >= 0"):
        jax.block_until_ready(build(-1.0))
