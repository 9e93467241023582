"""jaxneq.thermo free-energy estimators (Jarzynski, BAR, MBAR, Crooks) against closed forms
(Gaussian work, stiffness change of a harmonic trap), against pymbar on the same data, and
under jit / vmap / grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import N_SE, assert_within_stderr, central_difference, mean_and_stderr

import jaxneq as jn

T = 1.5


def _gaussian_work(key, n, mu=1.0, temperature=T):
    """Work of the dragged harmonic trap: W ~ N(mu, 2 T mu), for which Delta F = 0 exactly."""
    return mu + jnp.sqrt(2 * temperature * mu) * jax.random.normal(key, (n,))


def _stiffness_change(key, n_f, n_r, k0=1.0, k1=3.0, temperature=T):
    """Instantaneous stiffness change k0 -> k1 of a harmonic trap, from exact equilibrium
    samples: forward W = (k1 - k0) x^2 / 2 with x ~ N(0, T/k0), reverse W = (k0 - k1) x^2 / 2
    with x ~ N(0, T/k1). Returns (x0, x1, w_f, w_r)."""
    ka, kb = jax.random.split(key)
    x0 = jax.random.normal(ka, (n_f,)) * jnp.sqrt(temperature / k0)
    x1 = jax.random.normal(kb, (n_r,)) * jnp.sqrt(temperature / k1)
    return x0, x1, 0.5 * (k1 - k0) * x0**2, 0.5 * (k0 - k1) * x1**2


def _stiffness_delta_f(k0=1.0, k1=3.0, temperature=T):
    return 0.5 * temperature * np.log(k1 / k0)


# ----------------------------------------------------------------------- closed forms


def test_jarzynski_recovers_zero_free_energy_of_gaussian_dragged_trap_work():
    work = _gaussian_work(jax.random.key(0), 20_000)
    result = jn.thermo.jarzynski(work, T)
    assert_within_stderr(result.value, result.stderr, 0.0, bias=result.bias)


def test_bar_recovers_zero_free_energy_of_gaussian_dragged_trap_work():
    kf, kr = jax.random.split(jax.random.key(1))
    result = jn.thermo.bar(_gaussian_work(kf, 3000), _gaussian_work(kr, 2000), T)
    assert_within_stderr(result.value, result.stderr, 0.0)


def test_jarzynski_and_bar_recover_stiffness_change_free_energy():
    _, _, w_f, w_r = _stiffness_change(jax.random.key(2), 3000, 2000)
    exact = _stiffness_delta_f()
    exp = jn.thermo.jarzynski(w_f, T)
    assert_within_stderr(exp.value, exp.stderr, exact, bias=exp.bias)
    ba = jn.thermo.bar(w_f, w_r, T)
    assert_within_stderr(ba.value, ba.stderr, exact)
    assert float(ba.stderr) < float(exp.stderr)  # BAR uses both directions


def _trap_states():
    """Reduced potentials of four harmonic traps at temperature T, exact samples of the first
    three (the last state is unsampled, only reweighted): (stiffness, n_k, u_kn)."""
    stiffness = np.array([1.0, 3.0, 0.5, 2.0])
    n_k = np.array([3000, 2000, 2500, 0])
    keys = jax.random.split(jax.random.key(3), 4)
    x = jnp.concatenate(
        [
            jax.random.normal(k, (n,)) * jnp.sqrt(T / s)
            for k, n, s in zip(keys, n_k, stiffness, strict=True)
        ]
    )
    return stiffness, n_k, 0.5 * jnp.asarray(stiffness)[:, None] * x[None, :] ** 2 / T


def test_mbar_recovers_free_energies_of_traps_including_an_unsampled_state():
    stiffness, n_k, u_kn = _trap_states()
    result = jn.thermo.mbar(u_kn, n_k)
    exact = 0.5 * np.log(stiffness / stiffness[0])  # reduced: f_k - f_0
    assert result.value.shape == (4,) and result.covariance.shape == (4, 4)
    assert float(result.value[0]) == 0.0 and float(result.stderr[0]) == 0.0
    assert_within_stderr(result.value[1:], result.stderr[1:], exact[1:])
    np.testing.assert_allclose(np.diag(result.covariance), result.stderr**2, rtol=1e-12)


def test_bar_stderr_covers_the_exact_value_at_the_nominal_rate():
    # 1000 independent replicas of the stiffness change; |error| <= stderr must hold for
    # 68.3 % of them (Gaussian asymptotics), within 5 binomial standard errors.
    n_rep = 1000
    keys = jax.random.split(jax.random.key(4), n_rep)

    def one(key):
        _, _, w_f, w_r = _stiffness_change(key, 400, 400)
        r = jn.thermo.bar(w_f, w_r, T)
        return r.value, r.stderr

    values, stderrs = jax.jit(jax.vmap(one))(keys)
    covered = np.abs(np.asarray(values) - _stiffness_delta_f()) <= np.asarray(stderrs)
    p = 0.6827
    assert abs(covered.mean() - p) <= N_SE * np.sqrt(p * (1 - p) / n_rep), covered.mean()


def test_jarzynski_bias_field_predicts_the_mean_error_over_replicas():
    # Gaussian work (Delta F = 0): the mean error of the EXP estimate over replicas equals
    # the leading Zuckerman-Woolf bias; the bias-corrected estimate is unbiased.
    n_rep, n = 8000, 200
    keys = jax.random.split(jax.random.key(5), n_rep)

    def one(key):
        r = jn.thermo.jarzynski(_gaussian_work(key, n, mu=1.0, temperature=1.0), 1.0)
        return r.value, r.bias

    values, biases = jax.jit(jax.vmap(one))(keys)
    mean_error, se = mean_and_stderr(values)
    # second-order bias terms are O(1/N^2) ~ (e^2 - 1)^2 / N^2 ~ 1e-3: allowed explicitly
    second_order = (np.e**2 - 1) ** 2 / n**2
    assert_within_stderr(mean_error, se, np.mean(biases), bias=second_order)
    corrected, se_c = mean_and_stderr(values - biases)
    assert_within_stderr(corrected, se_c, 0.0, bias=second_order)


def test_crooks_log_ratio_follows_the_line_for_gaussian_work():
    kf, kr = jax.random.split(jax.random.key(6))
    w_f, w_r = _gaussian_work(kf, 100_000), _gaussian_work(kr, 100_000)
    check = jn.thermo.crooks(w_f, w_r, bins=12, temperature=T, delta_f=0.0)
    valid = np.asarray(check.valid)
    assert valid.sum() >= 8
    # a bin of width h averages exp(W / T) over |W - W_c| <= h / 2: bias <= h / (2 T)
    h = float(check.work[1] - check.work[0])
    assert_within_stderr(
        check.log_ratio[valid], check.stderr[valid], check.expected[valid], bias=h / (2 * T)
    )
    default = jn.thermo.crooks(w_f, w_r, bins=12, temperature=T)  # Delta F from BAR
    assert abs(float(default.delta_f)) <= N_SE * float(jn.thermo.bar(w_f, w_r, T).stderr)


# ------------------------------------------------------------------- against pymbar


@pytest.fixture(scope="module")
def pymbar():
    return pytest.importorskip("pymbar")


def test_bar_and_exp_agree_with_pymbar_on_the_same_data(pymbar):
    _, _, w_f, w_r = _stiffness_change(jax.random.key(7), 3000, 2000)
    reduced_f, reduced_r = np.asarray(w_f) / T, np.asarray(w_r) / T
    ref = pymbar.other_estimators.bar(reduced_f, reduced_r)
    ours = jn.thermo.bar(w_f, w_r, T)
    np.testing.assert_allclose(float(ours.value) / T, ref["Delta_f"], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(float(ours.stderr) / T, ref["dDelta_f"], rtol=1e-9)
    ref_exp = pymbar.other_estimators.exp(reduced_f)
    exp = jn.thermo.jarzynski(w_f, T)
    np.testing.assert_allclose(float(exp.value) / T, ref_exp["Delta_f"], rtol=1e-12)
    np.testing.assert_allclose(float(exp.stderr) / T, ref_exp["dDelta_f"], rtol=1e-10)


def test_mbar_agrees_with_pymbar_on_the_same_data(pymbar):
    _, n_k, u_kn = _trap_states()
    ref = pymbar.MBAR(np.asarray(u_kn), n_k).compute_free_energy_differences()
    ours = jn.thermo.mbar(u_kn, n_k)
    np.testing.assert_allclose(ours.value, ref["Delta_f"][0], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.stderr, ref["dDelta_f"][0], rtol=1e-7, atol=1e-11)


def test_two_state_mbar_equals_bar(pymbar):
    # the same data as BAR: samples of A and B with u_A = 0 and u_B = w_F for A-samples,
    # u_A = w_R for B-samples, u_B = 0 (pymbar's bar_overlap construction)
    _, _, w_f, w_r = _stiffness_change(jax.random.key(9), 3000, 2000)
    u_kn = jnp.zeros((2, 5000)).at[1, :3000].set(w_f / T).at[0, 3000:].set(w_r / T)
    f = jn.thermo.mbar(u_kn, jnp.array([3000, 2000]))
    bar = jn.thermo.bar(w_f, w_r, T)
    np.testing.assert_allclose(T * float(f.value[1]), float(bar.value), rtol=1e-9)


# ------------------------------------------------------------- jit, vmap, grad, dtypes


def test_bar_gradient_wrt_work_matches_central_differences():
    _, _, w_f, w_r = _stiffness_change(jax.random.key(10), 12, 9)

    def value(w):
        return jn.thermo.bar(w[:12], w[12:], T).value

    w = jnp.concatenate([w_f, w_r])
    grad = jax.grad(value)(w)
    fd = central_difference(jax.jit(value), w, h=1e-6)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    # the gradient is that of the root of the BAR equation: the weights sum to one
    np.testing.assert_allclose(float(grad[:12].sum() - grad[12:].sum()), 1.0, rtol=1e-10)


def test_mbar_gradient_wrt_reduced_potentials_matches_central_differences():
    rng = np.random.default_rng(11)
    stiffness = np.array([1.0, 2.0, 3.0])
    x = np.concatenate([rng.normal(0, 1 / np.sqrt(s), 8) for s in stiffness])
    u = jnp.asarray(0.5 * stiffness[:, None] * x[None, :] ** 2)
    weights = jnp.array([0.0, 1.0, -0.5])

    def value(u):
        return jnp.dot(weights, jn.thermo.mbar(u, jnp.array([8, 8, 8])).value)

    np.testing.assert_allclose(
        jax.grad(value)(u), central_difference(value, u, jit=True), rtol=1e-6, atol=1e-8
    )


def test_jarzynski_gradient_wrt_work_matches_central_differences():
    work = _gaussian_work(jax.random.key(12), 10)

    def value(w):
        return jn.thermo.jarzynski(w, T).value

    np.testing.assert_allclose(
        jax.grad(value)(work), central_difference(value, work, jit=True), rtol=1e-7, atol=1e-9
    )


def test_vmapped_bar_equals_one_call_per_problem():
    keys = jax.random.split(jax.random.key(13), 5)
    w_f = jax.vmap(lambda k: _gaussian_work(k, 3000))(keys)
    w_r = jax.vmap(lambda k: _gaussian_work(k, 2000))(keys[::-1])
    batch = jax.jit(jax.vmap(jn.thermo.bar, in_axes=(0, 0, None)))(w_f, w_r, T)
    for i in (0, 4):
        one = jn.thermo.bar(w_f[i], w_r[i], T)
        np.testing.assert_allclose(batch.value[i], one.value, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batch.stderr[i], one.stderr, rtol=1e-10)


def test_float32_inputs_give_float32_estimates_of_the_stiffness_change():
    _, _, w_f, w_r = _stiffness_change(jax.random.key(14), 2000, 2000)
    w_f, w_r, temperature = w_f.astype(jnp.float32), w_r.astype(jnp.float32), jnp.float32(T)
    u_kn = jnp.stack([jnp.zeros(4000, jnp.float32), jnp.concatenate([w_f, -w_r])]) / temperature
    results = [
        jn.thermo.jarzynski(w_f, temperature),
        jn.thermo.bar(w_f, w_r, temperature),
        jn.thermo.mbar(u_kn, jnp.array([2000, 2000])),
    ]
    exact = _stiffness_delta_f()
    for result, scale in zip(results, [1.0, 1.0, T], strict=True):
        value = scale * result.value if result.value.ndim == 0 else scale * result.value[1]
        stderr = scale * (result.stderr if result.stderr.ndim == 0 else result.stderr[1])
        assert value.dtype == jnp.float32 and stderr.dtype == jnp.float32
        # float32 rounding of sums over 4000 terms: ~4000 eps relative, far below the stderr
        assert_within_stderr(value, stderr, exact, bias=getattr(result, "bias", 0.0) + 1e-3)


def test_float_of_a_scalar_result_is_its_value():
    result = jn.thermo.bar(jnp.array([0.5, 1.0, 1.5]), jnp.array([-0.2, 0.3]))
    assert float(result) == float(result.value)
    assert float(jn.thermo.jarzynski(jnp.array([1.0, 2.0]))) == pytest.approx(
        -np.log(np.mean(np.exp([-1.0, -2.0])))
    )


# ----------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: jn.thermo.jarzynski(jnp.zeros(0)), "`work` is empty"),
        (lambda: jn.thermo.jarzynski(jnp.zeros((2, 3))), "`work` must be a 1-D"),
        (lambda: jn.thermo.bar(jnp.ones(3), jnp.zeros(0)), "`w_reverse` is empty"),
        (lambda: jn.thermo.bar(jnp.ones(3), jnp.ones(2), jnp.ones(2)), "`temperature` must be"),
        (lambda: jn.thermo.mbar(jnp.zeros((2, 4)), jnp.array([4])), "`n_k` must have shape"),
        (lambda: jn.thermo.tur_bound(jnp.ones(1), 1.0), "at least 2 samples"),
    ],
)
def test_bad_shapes_raise_value_errors_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


BAD_VALUES = [
    (jn.thermo.jarzynski, (jnp.array([1.0, jnp.nan]), 1.0), "`work` has a NaN"),
    (jn.thermo.bar, (jnp.ones(3), jnp.array([jnp.inf, 0.0]), 1.0), "`w_reverse` has a NaN"),
    (jn.thermo.jarzynski, (jnp.ones(3), 0.0), "`temperature` must be > 0"),
    (jn.thermo.bar, (jnp.ones(3), jnp.ones(3), -1.0), "`temperature` must be > 0"),
    (jn.thermo.mbar, (jnp.zeros((2, 4)), jnp.array([2, 3])), "`n_k` must be >= 0"),
]


@pytest.mark.parametrize("fn, args, match", BAD_VALUES)
def test_bad_values_raise_value_errors_naming_the_argument(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)


@pytest.mark.parametrize("fn, args, match", [BAD_VALUES[0], BAD_VALUES[2]])
def test_bad_values_raise_under_jit_naming_the_argument(fn, args, match):
    with pytest.raises(Exception, match=match):
        jax.block_until_ready(jax.jit(fn)(*args))
