"""Constrained and 2D steady-state design: an entropy-production budget held exactly on a
driven ring, and a hot spot that redirects a circulating current on a 2D grid. References:
closed forms, an independent numpy/scipy SLSQP solution, brute-force scans, central
differences and (slow) Langevin ensembles."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _stats import N_SE, central_difference
from scipy.optimize import brentq, minimize

import jaxneq as jn
from jaxneq import fokker_planck as fp
from jaxneq._tour import _figures, driven_ring_design as ring_demo, fp_design_2d as demo_2d

# ----------------------------------------------------------------------------------------
# scale_to_budget on the uniform ring: J = (2/n) e^{-(B-E)} sinh(f/2), sigma = n J f (T = 1)

N_RING = 5


def uniform_ring_ep(barrier, f):
    barrier = jnp.asarray(barrier)
    energies = jnp.zeros(N_RING, barrier.dtype)
    rates = jn.models.driven_ring(energies, jnp.full(N_RING, barrier), drive=f)
    return jn.markov.entropy_production_rate(rates)


def closed_form_drive(barrier, budget):
    def gap(f):
        return N_RING * (2 / N_RING) * np.exp(-barrier) * np.sinh(f / 2) * f - budget

    return brentq(gap, 1e-9, 50.0, xtol=1e-15, rtol=1e-15)


def test_scale_to_budget_gives_the_uniform_ring_drive_of_the_closed_form():
    f = jn.fokker_planck.scale_to_budget(uniform_ring_ep, jnp.asarray(1.0), 0.3)
    assert float(f) == pytest.approx(closed_form_drive(1.0, 0.3), rel=1e-12)
    assert float(uniform_ring_ep(1.0, f)) == pytest.approx(0.3, rel=1e-13)


def test_scale_to_budget_gradient_matches_the_closed_form_derivative():
    grad = jax.grad(lambda b: fp.scale_to_budget(uniform_ring_ep, b, 0.3))(jnp.asarray(1.0))
    h = 1e-5
    exact = (closed_form_drive(1.0 + h, 0.3) - closed_form_drive(1.0 - h, 0.3)) / (2 * h)
    assert float(grad) == pytest.approx(exact, rel=1e-7)
    d_budget = jax.grad(lambda b: fp.scale_to_budget(uniform_ring_ep, 1.0, b))(jnp.asarray(0.3))
    exact_b = (closed_form_drive(1.0, 0.3 + h) - closed_form_drive(1.0, 0.3 - h)) / (2 * h)
    assert float(d_budget) == pytest.approx(exact_b, rel=1e-7)


def test_scale_to_budget_works_under_jit_and_vmap_and_in_float32():
    budgets = jnp.array([0.1, 0.5, 2.0])
    drives = jax.jit(jax.vmap(lambda b: fp.scale_to_budget(uniform_ring_ep, 1.0, b)))(budgets)
    expected = [closed_form_drive(1.0, float(b)) for b in budgets]
    np.testing.assert_allclose(drives, expected, rtol=1e-12)
    f32 = fp.scale_to_budget(uniform_ring_ep, jnp.float32(1.0), jnp.float32(0.5))
    assert f32.dtype == jnp.float32
    assert float(f32) == pytest.approx(closed_form_drive(1.0, 0.5), rel=1e-4)


def test_scale_to_budget_rejects_a_bad_bracket_and_a_vector_budget():
    with pytest.raises(ValueError, match="bracket"):
        fp.scale_to_budget(uniform_ring_ep, 1.0, 0.3, bracket=(2.0, 1.0))
    with pytest.raises(ValueError, match="budget"):
        fp.scale_to_budget(uniform_ring_ep, 1.0, jnp.ones(2))


# ----------------------------------------------------------------------------------------
# the ring design: Adam on the drive's direction against SLSQP written in numpy


def numpy_ring(f):
    """Rates, stationary state, cycle current and Schnakenberg EP in plain numpy."""
    E, B = np.asarray(ring_demo.ENERGIES), np.asarray(ring_demo.BARRIERS)
    n = len(E)
    R = np.zeros((n, n))
    for i in range(n):
        j = (i + 1) % n
        R[i, j] = np.exp(-(B[i] - E[i] - f[i] / 2))
        R[j, i] = np.exp(-(B[i] - E[j] + f[i] / 2))
    Q = R - np.diag(R.sum(1))
    A = np.vstack([Q.T[:-1], np.ones(n)])
    p = np.linalg.solve(A, np.eye(n)[-1])
    flux = p[:, None] * R
    mask = R > 0
    log = np.zeros_like(R)
    log[mask] = np.log(flux[mask] / flux.T[mask])
    return p[0] * R[0, 1] - p[1] * R[1, 0], 0.5 * np.sum((flux - flux.T) * log)


@pytest.mark.slow
def test_current_at_budget_gradient_matches_central_differences():
    w = jnp.array([1.0, 0.7, 1.3, 0.9])
    grad = jax.grad(ring_demo.current_at_budget)(w)
    fd = central_difference(ring_demo.current_at_budget, w, h=1e-5, jit=True)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-10)


@pytest.mark.slow
def test_ring_design_reaches_the_slsqp_optimum_with_the_budget_held_exactly():
    optimiser = optax.adam(0.1)

    def step(_, carry):
        w, state = carry
        updates, state = optimiser.update(-jax.grad(ring_demo.current_at_budget)(w), state, w)
        return optax.apply_updates(w, updates), state

    w0 = jnp.ones(4)
    w, _ = jax.jit(lambda w: jax.lax.fori_loop(0, 400, step, (w, optimiser.init(w))))(w0)
    drive = np.asarray(ring_demo.amplitude(w) * w)
    ref = minimize(
        lambda f: -numpy_ring(f)[0],
        np.ones(4),
        method="SLSQP",
        constraints=[{"type": "eq", "fun": lambda f: numpy_ring(f)[1] - ring_demo.BUDGET}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    j_ref, ep_ref = numpy_ring(ref.x)
    assert ep_ref == pytest.approx(ring_demo.BUDGET, abs=1e-9)
    j, ep = numpy_ring(drive)
    assert ep == pytest.approx(ring_demo.BUDGET, rel=1e-12)  # constraint: solver precision
    assert j == pytest.approx(j_ref, rel=1e-7)
    np.testing.assert_allclose(drive, ref.x, atol=2e-3)
    assert j > numpy_ring(np.asarray(ring_demo.amplitude(w0) * w0))[0]


# ----------------------------------------------------------------------------------------
# 2D: cross-section current and circulation against closed forms


def rotating_trap(spin):
    return jn.langevin.Overdamped(
        lambda x: 0.5 * (x[0] ** 2 + x[1] ** 2),
        force=lambda x: spin * jnp.stack([-x[1], x[0]]),
    )


def test_rotating_gaussian_turns_at_spin_over_two_pi_and_circulates_2_spin():
    """U = r^2/2, T = 1, force spin (-y, x): p is the unit Gaussian and J = spin (-y, x) p,
    so the current through {y = 0, x > 0} is spin / (2 pi) and  int r x J = 2 spin."""
    spin = 0.5
    grid = fp.Grid(-5.0, 5.0, (32, 32))
    system = rotating_trap(spin)
    p = fp.stationary_density(system, grid, method="lu")
    turns = fp.cross_section_current(system, grid, p, 1, 15, lambda x: x[0] > 0)
    assert float(turns) == pytest.approx(spin / (2 * np.pi), rel=2e-2)  # O(h^2), h = 0.31
    J = fp.current_field(system, grid, p)
    assert float(fp.mean_circulation(grid, J)) == pytest.approx(2 * spin, rel=3e-2)
    # a stationary current is divergence-free: every ray from the origin carries the same
    left = -fp.cross_section_current(system, grid, p, 1, 15, lambda x: x[0] < 0)
    assert float(left) == pytest.approx(float(turns), rel=1e-8)


def test_cross_section_current_rejects_an_index_outside_the_grid():
    grid = fp.Grid(-1.0, 1.0, (4, 4))
    p = jnp.full(grid.shape, 0.25)
    with pytest.raises(ValueError, match="index"):
        fp.cross_section_current(rotating_trap(0.1), grid, p, 1, 3)
    with pytest.raises(ValueError, match="axis"):
        fp.cross_section_current(rotating_trap(0.1), grid, p, 2, 0)


# ----------------------------------------------------------------------------------------
# 2D design: the hot spot that redirects the circulating current

SMALL = fp.Grid(-demo_2d.HALF, demo_2d.HALF, (12, 12))


@pytest.mark.slow
def test_turning_current_gradient_in_the_hot_spot_centre_matches_central_differences():
    c = jnp.array([0.6, -0.4])
    grad = jax.grad(lambda c: demo_2d.turns(c, SMALL))(c)
    fd = central_difference(lambda c: demo_2d.turns(c, SMALL), c, h=1e-5, jit=True)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-11)


@pytest.mark.slow
def test_turning_current_works_under_vmap_and_in_float32():
    centres = jnp.array([[0.6, 0.6], [-0.6, 0.6]])
    batch = jax.jit(jax.vmap(lambda c: demo_2d.turns(c, SMALL)))(centres)
    one = jax.jit(lambda c: demo_2d.turns(c, SMALL))
    single = [one(c) for c in centres]
    np.testing.assert_allclose(batch, single, rtol=1e-10)
    assert float(batch[0]) > 0 > float(batch[1])  # the quadrant decides the sign
    grid32 = fp.Grid(jnp.float32(-demo_2d.HALF), jnp.float32(demo_2d.HALF), (12, 12))
    t32 = demo_2d.turns(centres[1].astype(jnp.float32), grid32)
    assert t32.dtype == jnp.float32
    assert float(t32) == pytest.approx(float(single[1]), rel=1e-3)


@pytest.fixture(scope="module")
def demo_2d_quick(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("fp_design_2d")
    return out_dir, demo_2d.run(out_dir, quick=True)


def test_fp_design_2d_demo_boosts_and_reverses_the_current_like_the_scan(demo_2d_quick):
    tmp_path, out = demo_2d_quick
    _figures.wait()  # figures are written in the background
    assert (tmp_path / "fp_design_2d.png").exists()
    # Adam reaches at least the best scanned centre (the scan is coarser than Adam's path)
    assert out["turns_max_adam"] >= out["turns_max_scan"] - 1e-6
    assert out["turns_min_adam"] <= out["turns_min_scan"] + 1e-6
    assert out["turns_min_adam"] < 0 < out["turns_no_hot_spot"] < out["turns_max_adam"]
    for key in ("max", "min"):
        adam, scan = np.asarray(out[f"centre_{key}_adam"]), np.asarray(out[f"centre_{key}_scan"])
        # U and the rotation are symmetric under c -> -c: two equivalent optima
        dist = min(np.max(np.abs(adam - scan)), np.max(np.abs(adam + scan)))
        assert dist <= out["scan_resolution"]


@pytest.mark.slow
def test_fp_design_2d_optimum_is_confirmed_by_a_large_langevin_ensemble(demo_2d_quick):
    _, out = demo_2d_quick
    # Langevin at the optimum, large enough to resolve the current (stderr ~ 15 % of it)
    grid = fp.Grid(-demo_2d.HALF, demo_2d.HALF, (16, 16))
    sim, se = demo_2d.langevin_turns(jnp.asarray(out["centre_max_adam"]), grid, 8, 512, 20.0)
    bias = out["turns_max_grid_error"]
    assert se < 0.25 * out["turns_max_binned"]
    assert abs(sim - out["turns_max_binned"]) <= N_SE * se + bias


def test_driven_ring_demo_matches_slsqp_at_the_budget(tmp_path):
    out = ring_demo.run(tmp_path, quick=True)
    _figures.wait()  # figures are written in the background
    assert (tmp_path / "driven_ring_design.png").exists()
    assert out["current_adam"] == pytest.approx(out["current_slsqp"], rel=1e-5)
    assert out["entropy_production_max_deviation_along_path"] < 1e-12
    assert out["current_adam"] > out["current_uniform_drive"]
