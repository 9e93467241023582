"""Checkpoints: atomic, pickle-free .npz round trips, and bitwise resumption of simulate."""

from __future__ import annotations

import os
import pickle

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import assert_pytrees_bitwise_equal

from jaxneq.langevin._checkpoint import load_checkpoint, save_checkpoint


class _Box(eqx.Module):
    a: jax.Array
    b: tuple
    label: str = eqx.field(static=True)


def _nested_tree():
    return {
        "f32": jnp.linspace(-1.0, 1.0, 7, dtype=jnp.float32),
        "f64": jnp.array([[1.0 / 3.0, np.pi], [np.e, -0.0]], dtype=jnp.float64),
        "int": jnp.arange(5, dtype=jnp.int32),
        "bool": jnp.array([True, False, True]),
        "raw_key": jr.PRNGKey(3),
        "typed_key": jr.key(4),
        "typed_keys": jr.split(jr.key(5), 3),
        "bf16": jnp.array([1.5, -2.25], dtype=jnp.bfloat16),
        "scalar": jnp.float32(2.5),
        "nested": [_Box(jnp.ones((2, 3)), (jnp.zeros(()), None), "box"), (jnp.int64(7),)],
    }


def test_nested_pytree_round_trips_bitwise_with_meta(tmp_path):
    tree = _nested_tree()
    meta = {"step": 12, "n_steps": 100, "dt": 0.01, "shape": (4, 2), "name": "run"}
    path = tmp_path / "run.npz"
    save_checkpoint(path, tree, meta)
    loaded, loaded_meta = load_checkpoint(path, like=tree)
    assert_pytrees_bitwise_equal(loaded, tree)
    assert loaded_meta == {**meta, "shape": [4, 2]}  # JSON: tuples come back as lists


def test_typed_keys_come_back_typed_and_draw_the_same_numbers(tmp_path):
    tree = {"key": jr.key(11), "raw": jr.PRNGKey(11)}
    save_checkpoint(tmp_path / "k.npz", tree, {})
    loaded, _ = load_checkpoint(tmp_path / "k.npz", like=tree)
    assert jax.dtypes.issubdtype(loaded["key"].dtype, jax.dtypes.prng_key)
    assert loaded["raw"].dtype == jnp.uint32
    for k in ("key", "raw"):
        np.testing.assert_array_equal(jr.normal(loaded[k], (4,)), jr.normal(tree[k], (4,)))


def test_shape_dtype_structs_serve_as_template(tmp_path):
    tree = _nested_tree()
    save_checkpoint(tmp_path / "run.npz", tree, {})
    like = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
    loaded, _ = load_checkpoint(tmp_path / "run.npz", like=like)
    assert_pytrees_bitwise_equal(loaded, tree)


def test_failed_replace_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    old = {"x": jnp.arange(4.0)}
    save_checkpoint(path, old, {"step": 1})
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("simulated crash between the temporary write and the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(path, {"x": jnp.arange(4.0) + 1.0}, {"step": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]  # temp file cleaned
    loaded, meta = load_checkpoint(path, like=old)
    np.testing.assert_array_equal(loaded["x"], old["x"])
    assert meta == {"step": 1}


def test_file_appears_only_complete(tmp_path, monkeypatch):
    """os.replace moves a complete, fsync-ed temp file from the same folder onto the path."""
    path = tmp_path / "run.npz"
    seen = []
    real_replace, real_fsync = os.replace, os.fsync
    fsynced = []
    monkeypatch.setattr(os, "fsync", lambda fd: (fsynced.append(fd), real_fsync(fd)))

    def spy(src, dst):
        seen.append((os.path.dirname(src), len(fsynced)))
        with np.load(src, allow_pickle=False) as npz:  # already a complete checkpoint
            assert "leaf_0" in npz.files
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_checkpoint(path, {"x": jnp.ones(3)}, {})
    assert seen == [(str(tmp_path), 1)]


_TRIPPED = []


def _trip():
    _TRIPPED.append(True)
    return "unpickled"


class _Tripwire:
    def __reduce__(self):
        return (_trip, ())


def test_object_arrays_are_rejected_without_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "evil.npz"
    tree = {"x": jnp.ones(3)}
    save_checkpoint(path, tree, {})
    with np.load(path) as npz:
        entries = dict(npz)
    entries["leaf_0"] = np.array([_Tripwire()], dtype=object)
    np.savez(path, **entries)  # numpy pickles the object array here

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle must never be used to read a checkpoint")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    with pytest.raises(ValueError, match="cannot be read as a jaxneq checkpoint"):
        load_checkpoint(path, like=tree)
    assert _TRIPPED == []


def test_not_a_checkpoint_file_raises_clear_error(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="delete it or pass another path"):
        load_checkpoint(path, like={"x": jnp.ones(3)})
    np.savez(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="no jaxneq header"):
        load_checkpoint(tmp_path / "plain.npz", like={"x": jnp.ones(3)})


def test_shape_mismatch_error_names_the_run_and_the_fix(tmp_path):
    path = tmp_path / "run.npz"
    save_checkpoint(path, {"x": jnp.zeros((8, 2))}, {"n_steps": 100, "step": 40})
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, like={"x": jnp.zeros((16, 2))})
    message = str(info.value)
    for part in ("n_steps=100", "(8, 2)", "(16, 2)", "['x']", "delete it"):
        assert part in message


def test_dtype_mismatch_raises(tmp_path):
    path = tmp_path / "run.npz"
    save_checkpoint(path, {"x": jnp.zeros(3, jnp.float64)}, {})
    with pytest.raises(ValueError, match="dtype float64.*dtype float32"):
        load_checkpoint(path, like={"x": jnp.zeros(3, jnp.float32)})


def test_structure_mismatch_raises(tmp_path):
    path = tmp_path / "run.npz"
    save_checkpoint(path, {"x": jnp.zeros(3)}, {})
    with pytest.raises(ValueError, match="structure"):
        load_checkpoint(path, like={"x": jnp.zeros(3), "v": jnp.zeros(3)})
    with pytest.raises(ValueError, match="structure"):
        load_checkpoint(path, like={"y": jnp.zeros(3)})


def test_expected_meta_mismatch_raises_naming_the_entry(tmp_path):
    path = tmp_path / "run.npz"
    save_checkpoint(path, {"x": jnp.zeros(3)}, {"n_steps": 100, "shape": (3,)})
    load_checkpoint(path, like={"x": jnp.zeros(3)}, expect={"n_steps": 100, "shape": (3,)})
    with pytest.raises(ValueError, match=r"n_steps=100 \(this run: 200\)"):
        load_checkpoint(path, like={"x": jnp.zeros(3)}, expect={"n_steps": 200})


def test_save_rejects_non_array_leaves_and_bad_meta(tmp_path):
    with pytest.raises(ValueError, match="only hold arrays and numbers"):
        save_checkpoint(tmp_path / "a.npz", {"f": lambda x: x}, {})
    with pytest.raises(ValueError, match="`meta` must be JSON serialisable"):
        save_checkpoint(tmp_path / "a.npz", {"x": jnp.ones(2)}, {"f": object()})
    assert list(tmp_path.iterdir()) == []


def test_save_under_jit_raises():
    with pytest.raises(ValueError, match="concrete"):
        jax.jit(lambda x: save_checkpoint("never.npz", {"x": x}, {}))(jnp.ones(2))
