"""`jaxneq.plot`: each function draws exactly the data it is given (checked on the artists:
error bar extents equal n_se * stderr, quiver arrows equal the current, mesh colours equal
the density), and rejects bad input with an error naming the argument."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import jaxneq as jn  # noqa: E402
from jaxneq import plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_estimates_error_bars_span_n_se_standard_errors_and_exact_is_drawn():
    x = np.array([1.0, 2.0, 4.0])
    y = np.array([0.5, 1.5, 2.0])
    se = np.array([0.1, 0.2, 0.05])
    ax = plot.estimates(x, y, se, exact=(x, 2 * x), n_se=2, xlabel="T (energy)", ylabel="v")
    container = ax.containers[0]
    segments = container.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments], np.stack([y - 2 * se, y + 2 * se], 1))
    np.testing.assert_allclose(container.lines[0].get_ydata(), y)
    exact_line = ax.get_lines()[0]
    np.testing.assert_allclose(exact_line.get_xydata(), np.stack([x, 2 * x], 1))
    assert ax.get_xlabel() == "T (energy)" and ax.get_legend() is not None
    assert "± 2 SE" in [t.get_text() for t in ax.get_legend().get_texts()][1]


def test_estimates_with_a_callable_exact_draws_it_over_the_measured_range():
    x = np.array([0.1, 1.0, 10.0])
    ax = plot.estimates(x, x, exact=np.sqrt, xscale="log")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), np.sqrt(line.get_xdata()))
    assert line.get_xdata()[0] == 0.1 and line.get_xdata()[-1] == pytest.approx(10.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"measured": [1.0, 2.0]}, "measured"),
        ({"stderr": [-1.0, 0.1, 0.1]}, "stderr"),
        ({"stderr": [0.1, 0.1]}, "stderr"),
        ({"exact": [1.0]}, "exact"),
        ({"n_se": 0}, "n_se"),
    ],
)
def test_estimates_rejects_mismatched_or_invalid_input(kwargs, match):
    args = {"measured": [1.0, 2.0, 3.0], "stderr": None} | kwargs
    with pytest.raises(ValueError, match=match):
        plot.estimates([1.0, 2.0, 3.0], args.pop("measured"), args.pop("stderr"), **args)


def test_density_map_of_a_grid_draws_the_density_and_the_current_arrows():
    grid = jn.fokker_planck.Grid((-1.0, -2.0), (1.0, 2.0), (4, 5))
    rng = np.random.default_rng(0)
    p = rng.random((4, 5))
    J = rng.normal(size=(4, 5, 2))
    ax = plot.density_map(p, grid=grid, current=J, xlabel="x (length)", ylabel="y (length)")
    mesh = ax.collections[0]
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(5, 4), p.T)
    quiver = ax.collections[1]
    np.testing.assert_allclose(quiver.U.reshape(4, 5), J[..., 0])
    np.testing.assert_allclose(quiver.V.reshape(4, 5), J[..., 1])
    np.testing.assert_allclose(quiver.X.reshape(4, 5), np.asarray(grid.centres[..., 0]), atol=1e-12)
    np.testing.assert_allclose(quiver.Y.reshape(4, 5), np.asarray(grid.centres[..., 1]), atol=1e-12)
    assert ax.get_xlabel() == "x (length)"
    assert len(ax.figure.axes) == 2  # the colour bar


def test_density_map_of_histogram_edges_subsamples_arrows_to_max_arrows():
    edges = (np.linspace(0, 1, 41), np.linspace(0, 2, 21))
    J = np.ones((40, 20, 2))
    ax = plot.density_map(np.ones((40, 20)), edges=edges, current=J, max_arrows=10)
    quiver = ax.collections[1]
    assert quiver.U.size == 10 * 10
    np.testing.assert_allclose(quiver.X.reshape(10, 10)[:, 0], (edges[0][:-1:4] + 0.0125))


def test_density_map_in_1d_is_a_profile():
    grid = jn.fokker_planck.Grid(0.0, 1.0, 10)
    p = np.linspace(0, 1, 10)
    ax = plot.density_map(p, grid=grid, label="p")
    np.testing.assert_allclose(ax.get_lines()[0].get_xydata()[:, 1], p)
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.asarray(grid.axes[0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"current": np.zeros((4, 5))}, "current"),
        ({"current": np.zeros((4, 5, 3))}, "current"),
        ({"density": np.zeros((5, 4))}, "density"),
        ({"density": np.full((4, 5), np.nan)}, "density"),
        ({"grid": None}, "exactly one"),
        ({"edges": (np.arange(5.0), np.arange(6.0))}, "exactly one"),
    ],
)
def test_density_map_rejects_bad_shapes_and_values(kwargs, match):
    args = {
        "density": np.ones((4, 5)),
        "grid": jn.fokker_planck.Grid((0.0, 0.0), (1.0, 1.0), (4, 5)),
    } | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        plot.density_map(args.pop("density"), **args)


def test_density_map_rejects_a_current_in_1d_and_decreasing_edges():
    with pytest.raises(ValueError, match="current"):
        plot.density_map(np.ones(3), edges=np.arange(4.0), current=np.ones((3, 1)))
    with pytest.raises(ValueError, match="edges"):
        plot.density_map(np.ones(3), edges=np.arange(4.0)[::-1])


def test_ensemble_snapshot_wraps_into_the_box_and_colours_by_value():
    x = np.array([[0.5, 1.5], [-0.5, 2.5], [3.5, 0.0]])
    T = np.array([1.0, 2.0, 3.0])
    ax = plot.ensemble_snapshot(x, color_by=T, box=2.0, colorbar_label="temperature T")
    points = ax.collections[0]
    np.testing.assert_allclose(points.get_offsets(), np.mod(x, 2.0))
    np.testing.assert_allclose(points.get_array(), T)
    assert ax.get_xlim() == (0.0, 2.0)
    with pytest.raises(ValueError, match="color_by"):
        plot.ensemble_snapshot(x, color_by=T[:2])
    with pytest.raises(ValueError, match="positions"):
        plot.ensemble_snapshot(np.ones((3, 3)))
    with pytest.raises(ValueError, match="box"):
        plot.ensemble_snapshot(x, box=-1.0)


def test_ensemble_snapshot_with_a_diameter_draws_discs_of_that_size_in_data_units():
    x = np.array([[0.5, 1.5], [1.0, 0.25], [1.5, 1.0]])
    T = np.array([1.0, 2.0, 3.0])
    ax = plot.ensemble_snapshot(x, color_by=T, box=2.0, diameter=0.3)
    discs = ax.collections[0]
    np.testing.assert_allclose(discs.get_offsets(), x)
    np.testing.assert_allclose(discs.get_array(), T)
    # discs in data units ("xy"): full widths and heights equal the diameter
    np.testing.assert_allclose(discs.get_widths(), 0.3)
    np.testing.assert_allclose(discs.get_heights(), 0.3)
    with pytest.raises(ValueError, match="diameter"):
        plot.ensemble_snapshot(x, diameter=0.0)


def test_optimisation_trace_draws_every_step_and_the_optimum():
    values = np.array([3.0, 2.0, 1.5, 1.2])
    ax = plot.optimisation_trace(values, reference=1.0, log=True, ylabel="work (k_B T)")
    line, optimum = ax.get_lines()
    np.testing.assert_allclose(line.get_xydata(), np.stack([np.arange(4), values], 1))
    np.testing.assert_allclose(optimum.get_ydata(), [1.0, 1.0])
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="step 1"):
        plot.optimisation_trace([1.0, np.nan])
    with pytest.raises(ValueError, match="log"):
        plot.optimisation_trace([1.0, -1.0], log=True)


def test_rattling_law_places_points_on_the_line_when_the_law_holds():
    R = np.linspace(0.0, 2.0, 7)
    p = np.exp(-1.5 * R)
    p /= p.sum()
    fit = jn.rattling.fit_gamma(p, R)
    ax = plot.rattling_law(p, R, fit, where=R < 1.9)
    points = ax.get_lines()[0]
    assert points.get_xdata().size == 6  # the mask leaves one out
    np.testing.assert_allclose(points.get_xdata(), points.get_ydata(), rtol=1e-10)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="rattling"):
        plot.rattling_law(p, R[:3], fit)
    with pytest.raises(TypeError, match="fit"):
        plot.rattling_law(p, R, 1.5)


def test_panels_and_save_write_a_png_and_close_the_figure(tmp_path):
    fig, axes = plot.panels(3, title="a agrees with b", ncols=2)
    assert len(axes) == 3 and fig._suptitle.get_text() == "a agrees with b"
    plot.estimates([1.0], [1.0], [0.1], ax=axes[0])
    path = plot.save(fig, tmp_path / "f.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="`n`"):
        plot.panels(0)
    with pytest.raises(TypeError, match="ax"):
        plot.estimates([1.0], [1.0], ax="not axes")


def test_float32_inputs_are_drawn():
    import jax.numpy as jnp

    ax = plot.estimates(jnp.arange(3, dtype=jnp.float32), jnp.ones(3, jnp.float32), 0.1)
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), 1.0)
