"""Atomic, pickle-free checkpoints of pytrees (units: k_B = 1, though nothing here is physics).

A checkpoint is one `.npz` file (`numpy.savez`, uncompressed) holding

- `leaf_0`, `leaf_1`, ...: the leaves of the pytree, flattened with `jax.tree_util` in its
  canonical order. New-style typed PRNG keys (`jax.random.key`) are stored as their raw key
  data (`jax.random.key_data`) and re-wrapped on load; raw `uint32` keys are ordinary arrays.
  Dtypes that `.npy` cannot describe natively (`bfloat16`, float8, ...) are stored as
  unsigned integers of the same width and viewed back on load.
- `__header__`: a `uint8` array holding UTF-8 JSON with the format version, a text
  description of the tree structure, and the path, shape and dtype of every leaf; used to
  check that the checkpoint fits the run that loads it.
- `__meta__`: a `uint8` array holding the caller's `meta` dict as UTF-8 JSON.

`fingerprint(system, x0, integrator)` is the hash `simulate` stores in `meta` to recognise
its own run when resuming: the system's arrays and x0 by value, its functions by code,
constants and closures (no memory addresses, so it is the same in every process).

Files are written atomically (temporary file in the same folder, flush, `fsync`,
`os.replace`), so a crash leaves either the previous checkpoint or the new one, never a
torn file. Loading always uses `numpy.load(..., allow_pickle=False)`: a checkpoint never
runs code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import types
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np

_FORMAT = "jaxneq-checkpoint"
_VERSION = 1
_HEADER_KEY = "__header__"
_META_KEY = "__meta__"
_NATIVE_KINDS = frozenset("biufc")  # bool, int, uint, float, complex: plain .npy dtypes
_MISSING = object()


def _is_typed_key(dtype) -> bool:
    return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _structure_text(treedef) -> str:
    """A process-independent description of a tree structure (memory addresses removed)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(treedef))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray | jax.Array) and np.ndim(obj) == 0:
        return np.asarray(obj).item()
    if isinstance(obj, np.ndarray | jax.Array):
        return np.asarray(obj).tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _to_json_bytes(obj, what: str) -> np.ndarray:
    try:
        text = json.dumps(obj, default=_json_default, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"`{what}` must be JSON serialisable (dicts, lists, str, numbers, bools, None, "
            f"numpy scalars): {e}"
        ) from e
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _leaf_spec(leaf) -> tuple[tuple[int, ...], Any]:
    """(shape, dtype) of an array, a `jax.ShapeDtypeStruct`, or a Python/numpy scalar."""
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return tuple(int(s) for s in leaf.shape), leaf.dtype
    if isinstance(leaf, bool | int | float | complex | np.generic):
        arr = jnp.asarray(leaf)
        return tuple(arr.shape), arr.dtype
    raise ValueError(
        f"checkpoint trees may only hold arrays and numbers, got a leaf of type "
        f"{type(leaf).__name__}; mark non-array fields `eqx.field(static=True)` or remove "
        "them from the tree (`eqx.partition(tree, eqx.is_array)`)"
    )


def save_checkpoint(path: str | os.PathLike, tree: Any, meta: dict | None = None) -> None:
    """Write a pytree and a JSON-able `meta` dict to `path` atomically, as a `.npz` file.

    The leaves are copied to host memory (`numpy.asarray`, which gathers sharded arrays on
    one host). The file appears under `path` only once it is complete: it is first written to
    a temporary file in the same folder, flushed and `fsync`-ed, then moved over `path` with
    `os.replace`. If anything fails before that, the previous file at `path` is untouched
    and the temporary file is removed. The name is used as given (no `.npz` is appended).

    **Arguments:**

    - `path`: file to write.
    - `tree`: a pytree whose leaves are arrays (any dtype, including typed PRNG keys) or
      Python/numpy numbers. Must be concrete (not traced).
    - `meta`: a dict of JSON-serialisable values (numbers, strings, lists, dicts, numpy
      scalars); tuples come back as lists.

    **Returns:** nothing.

    **Example:**

    ```python
    save_checkpoint("run.npz", {"x": x, "key": key}, {"step": 100, "n_steps": 1000})
    tree, meta = load_checkpoint("run.npz", like={"x": x, "key": key})
    ```
    """
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise ValueError(f"`meta` must be a dict, got {type(meta).__name__}")
    path = os.fspath(path)
    leaves_with_path, treedef = jtu.tree_flatten_with_path(tree)
    arrays: dict[str, np.ndarray] = {}
    specs = []
    for i, (key_path, leaf) in enumerate(leaves_with_path):
        if isinstance(leaf, jax.core.Tracer):
            raise ValueError(
                "save_checkpoint needs concrete values, got a traced leaf at "
                f"{jtu.keystr(key_path)}; call it outside jit/vmap/grad"
            )
        shape, dtype = _leaf_spec(leaf)
        spec: dict[str, Any] = {"path": jtu.keystr(key_path), "shape": list(shape)}
        if _is_typed_key(dtype):
            spec["dtype"] = str(dtype)  # e.g. "key<fry>"
            spec["key_impl"] = str(jr.key_impl(leaf))
            data = np.asarray(jr.key_data(leaf))
        else:
            dtype = np.dtype(dtype)
            spec["dtype"] = dtype.name
            data = np.asarray(leaf, dtype=dtype)
            if dtype.kind not in _NATIVE_KINDS:
                # e.g. bfloat16: .npy cannot describe it without pickle; store the bits.
                data = data.view(np.dtype(f"u{dtype.itemsize}"))
        spec["stored_dtype"] = data.dtype.name
        arrays[f"leaf_{i}"] = data
        specs.append(spec)
    header = {
        "format": _FORMAT,
        "version": _VERSION,
        "structure": _structure_text(treedef),
        "leaves": specs,
    }
    arrays[_HEADER_KEY] = _to_json_bytes(header, "tree")
    arrays[_META_KEY] = _to_json_bytes(meta, "meta")

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable; not possible on every OS/filesystem
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _describe_meta(meta: dict) -> str:
    if not meta:
        return "no metadata"
    return ", ".join(f"{k}={v!r}" for k, v in sorted(meta.items()))


def load_checkpoint(
    path: str | os.PathLike, like: Any, *, expect: dict | None = None
) -> tuple[Any, dict]:
    """Read a checkpoint written by `save_checkpoint`, checked against a template tree.

    The file is opened with `numpy.load(..., allow_pickle=False)`: object arrays (which
    would need unpickling) are rejected. The stored tree must have the structure of `like`
    and every leaf its shape and dtype; otherwise a `ValueError` says what differs, what the
    checkpoint was written for (its `meta`) and how to proceed.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a pytree with the expected structure; leaves may be arrays, numbers or
      `jax.ShapeDtypeStruct`s (e.g. from `jax.eval_shape`). Loaded leaves are placed with
      the sharding of the corresponding `like` leaf when it has one.
    - `expect`: optional dict of `meta` entries that must match (e.g.
      `{"n_steps": 1000, "dt": 0.01}`); a mismatch raises `ValueError` naming them.

    **Returns:** `(tree, meta)`: the tree with JAX array leaves (typed PRNG keys re-wrapped)
    and the `meta` dict as saved (tuples read back as lists).

    **Example:**

    ```python
    like = {"x": jax.ShapeDtypeStruct((1000, 2), jnp.float32), "key": jr.key(0)}
    tree, meta = load_checkpoint("run.npz", like, expect={"n_steps": 1000})
    ```
    """
    path = os.fspath(path)
    leaves_with_path, treedef = jtu.tree_flatten_with_path(like)
    try:
        npz = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise ValueError(
            f"checkpoint {path!r} is not a jaxneq checkpoint (.npz without pickled "
            f"objects): {e}; delete it or pass another path"
        ) from e
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(
            f"checkpoint {path!r} is a single .npy array, not a jaxneq checkpoint (.npz); "
            "delete it or pass another path"
        )
    with npz:
        try:
            names = set(npz.files)
            if _HEADER_KEY not in names or _META_KEY not in names:
                raise ValueError("it has no jaxneq header")
            header = json.loads(npz[_HEADER_KEY].tobytes().decode("utf-8"))
            meta = json.loads(npz[_META_KEY].tobytes().decode("utf-8"))
            if header.get("format") != _FORMAT:
                raise ValueError(f"its format is {header.get('format')!r}")
            if header.get("version") != _VERSION:
                raise ValueError(
                    f"it has format version {header.get('version')}, this jaxneq reads "
                    f"version {_VERSION}"
                )
            specs = header["leaves"]
            stored = [npz[f"leaf_{i}"] for i in range(len(specs))]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            # np.load raises ValueError("Object arrays cannot be loaded when
            # allow_pickle=False") on access to a pickled entry: it lands here too.
            raise ValueError(
                f"checkpoint {path!r} cannot be read as a jaxneq checkpoint: {e}; "
                "delete it or pass another path"
            ) from e

    advice = (
        f"checkpoint {path!r} was written for a different run ({_describe_meta(meta)}); "
        "delete it, or pass another `checkpoint=` path, or rerun with the settings it was "
        "written for"
    )
    if expect:
        diffs = [
            f"{k}={meta.get(k, '<missing>')!r} (this run: {v!r})"
            for k, v in expect.items()
            if _jsonable(v) != meta.get(k, _MISSING)
        ]
        if diffs:
            raise ValueError(f"{advice}. Differs: {', '.join(diffs)}")
    structure = _structure_text(treedef)
    if len(specs) != len(leaves_with_path) or header["structure"] != structure:
        raise ValueError(
            f"{advice}. Its state has structure {header['structure']} with {len(specs)} "
            f"arrays; this run expects {structure} with {len(leaves_with_path)} arrays"
        )

    out = []
    for spec, data, (key_path, leaf) in zip(specs, stored, leaves_with_path, strict=True):
        where = jtu.keystr(key_path)
        shape, dtype = _leaf_spec(leaf)
        want_key = _is_typed_key(dtype)
        want_dtype = str(dtype) if want_key else np.dtype(dtype).name
        if spec["dtype"] != want_dtype or tuple(spec["shape"]) != shape:
            raise ValueError(
                f"{advice}. Array {where}: checkpoint has shape {tuple(spec['shape'])} "
                f"and dtype {spec['dtype']}, this run expects shape {shape} and dtype "
                f"{want_dtype} (e.g. another ensemble shape or precision)"
            )
        if data.dtype.name != spec["stored_dtype"] or data.dtype.kind == "O":
            raise ValueError(f"{advice}. Array {where} is stored with an unexpected dtype")
        sharding = getattr(leaf, "sharding", None)
        if want_key:
            value = jr.wrap_key_data(jnp.asarray(data), impl=spec["key_impl"])
            if sharding is not None:
                value = jax.device_put(value, sharding)
        else:
            np_dtype = np.dtype(dtype)
            if np_dtype.kind not in _NATIVE_KINDS:
                data = data.view(np_dtype)
            # straight from host to the placement of the template leaf, when it has one
            value = jax.device_put(data, sharding) if sharding is not None else jnp.asarray(data)
        if tuple(value.shape) != shape or str(value.dtype) != str(dtype):
            raise ValueError(f"{advice}. Array {where} is stored with an unexpected layout")
        out.append(value)
    return jtu.tree_unflatten(treedef, out), meta


def _jsonable(value):
    """`value` as it reads back after a JSON round trip (tuples -> lists, numpy -> Python)."""
    return json.loads(json.dumps(value, default=_json_default))


# --------------------------------------------------------------------------------------
# fingerprints of runs


def key_data(key) -> list[int]:
    """The raw data of a PRNG key (typed or raw `uint32`) as a JSON-able list of ints."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jr.key_data(key)
    return [int(v) for v in np.asarray(key).ravel()]


def _hash_array(h, a) -> None:
    a = np.asarray(a)
    h.update(str((a.shape, a.dtype.name)).encode())
    h.update(np.ascontiguousarray(a).tobytes())


def _hash_function(h, obj, depth: int) -> None:
    """Name, bytecode, names, constants, defaults, closure cells and bound Module."""
    _hash_static(h, obj.__code__, depth + 1)
    _hash_static(h, getattr(obj, "__defaults__", None), depth + 1)
    for cell in getattr(obj, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        _hash_static(h, value, depth + 1)
    owner = getattr(obj, "__self__", None)  # bound method of a Module
    if isinstance(owner, eqx.Module):
        _hash_static(h, owner, depth + 1)


def _hash_static(h, obj, depth: int = 0) -> None:
    """Feed a process-independent description of a non-array leaf to the hash `h`.

    Functions are hashed by name, bytecode, names, constants (nested code recursively; no
    reprs with memory addresses), defaults and closure cells, so that two lambdas that
    differ only in a constant or a captured value get different fingerprints.
    """
    if depth > 6:
        h.update(b"<deep>")
    elif obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
        h.update(repr(obj).encode())
    elif isinstance(obj, np.ndarray | np.generic | jax.Array):
        if jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
            obj = jr.key_data(obj)
        _hash_array(h, obj)
    elif isinstance(obj, tuple | list):
        h.update(f"{type(obj).__name__}{len(obj)}".encode())
        for item in obj:
            _hash_static(h, item, depth + 1)
    elif isinstance(obj, frozenset):  # e.g. in co_consts; sorted: set order varies by process
        h.update(repr(sorted(map(repr, obj))).encode())
    elif isinstance(obj, types.CodeType):
        h.update(obj.co_code)
        h.update(repr(obj.co_names).encode())
        for const in obj.co_consts:
            _hash_static(h, const, depth + 1)
    else:
        h.update(getattr(obj, "__qualname__", type(obj).__qualname__).encode())
        if getattr(obj, "__code__", None) is not None:
            _hash_function(h, obj, depth)
        elif isinstance(obj, eqx.Module):
            for leaf in jtu.tree_leaves(obj):
                _hash_static(h, leaf, depth + 1)


def fingerprint(system, x0, integrator=None) -> str:
    """Hash of the system's arrays, functions (code, constants, closures), x0 and the
    integrator, to recognise the run a checkpoint belongs to (32 hex digits)."""
    h = hashlib.sha256()
    h.update(type(system).__qualname__.encode())
    arrays, other = eqx.partition(system, eqx.is_array)
    for leaf in jtu.tree_leaves(arrays) + [x0]:
        _hash_array(h, leaf)
    for leaf in jtu.tree_leaves(other):
        _hash_static(h, leaf)
    if integrator is not None:
        _hash_static(h, integrator)
    return h.hexdigest()[:32]
