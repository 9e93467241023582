"""Gillespie (SSA) benchmark: jaxneq.markov.gillespie / gillespie_statistics against a
vectorised NumPy SSA (and GillesPy2 when installed).

A random dense 8-state chain (rates uniform in [0.1, 1.1), seed 0), an ensemble of 4096
trajectories of 1000 jumps each (`--quick`), float64 rates, one JAX key per ensemble:

- `jaxneq_paths`: `gillespie(rates, x0[4096], key=key, n_jumps=1000)` (states and times of
  every jump);
- `jaxneq_statistics`: `gillespie_statistics(rates, x0, key=key, n_jumps=1000)` (occupation
  times and jump counts only);
- `numpy_ssa`: the whole ensemble advanced jump by jump as NumPy arrays (cumulative rate
  table, one exponential and one uniform per member and jump), storing states and times:
  the ten-line loop a practitioner would write;
- `gillespy2` (optional, `pip install gillespy2`): GillesPy2's SSA solver on the same chain
  written as 8 species with mass-action reactions (the state is a single molecule), one
  trajectory of about 1000 jumps per run; its C++ solver (`SSACSolver`) when it builds, else
  its NumPy solver. The C++ solver runs in a child process, so only its wall time is
  compared (`ratio_vs_gillespy2`); skipped with a note when GillesPy2 is missing.

Throughput is million jumps per second (members x jumps / wall time, and per process
CPU-second: XLA may use both cores where NumPy uses one). All cases are timed
round-robin (best of `--repeats` after a warm-up, compilation excluded) in ONE process, so
load from other processes hits them alike; the load average is recorded.

    python benchmarks/gillespie.py --quick     # CPU, ~1 minute; prints ONE JSON object
    python benchmarks/gillespie.py --full      # GPU: ensembles up to 1e7 members

`--full` reports, for every ensemble size, the fraction of the device's memory bandwidth
reached (`--peak-bandwidth-gbs`), counting 12 bytes per jump written (int32 state, float64
time) for paths and the gathered cumulative row (8 x 8 bytes) per jump read for both. The
stored paths are capped at about 16 GB: at ensemble size b, `gillespie` runs
`min(1000, 1.3e9 // b)` jumps (130 at b = 1e7; 12 bytes per stored jump), while
`gillespie_statistics` (memory O(b)) always runs 1000; the JSON records the jumps of every
case and size (`n_jumps`), and throughputs and bandwidth fractions use them. The NumPy SSA
runs up to b = 1e5 only; GillesPy2 is optional; the ratios are taken at b = 4096.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

_PATH_JUMPS_CAP = 1_300_000_000  # jumps stored per paths call in --full: 12 bytes each, ~16 GB

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_ROOT, "jaxneq")) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)  # run from a checkout without installing


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def random_chain(n=8, seed=0):
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.1, 1.1, (n, n))
    np.fill_diagonal(rates, 0.0)
    return rates


def numpy_ssa(rates, x0, n_jumps, rng):
    """The whole ensemble advanced jump by jump as arrays: states and times [n_jumps+1, b]."""
    cumulative = np.cumsum(rates, axis=1)
    exit_rate = cumulative[:, -1]
    b = x0.shape[0]
    states = np.empty((n_jumps + 1, b), np.int32)
    times = np.empty((n_jumps + 1, b))
    states[0], times[0] = x0, 0.0
    for j in range(n_jumps):
        x = states[j]
        lam = exit_rate[x]
        times[j + 1] = times[j] + rng.standard_exponential(b) / lam
        u = rng.random(b) * lam
        states[j + 1] = (cumulative[x] <= u[:, None]).sum(axis=1)
    return states, times


def runners(rates_np, b, n_jumps):
    """The cases at ensemble size `b`: name -> (callable, jumps per member). `n_jumps` maps
    a case name to its number of jumps."""
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    import jaxneq as jn

    rates = jnp.asarray(rates_np)
    n = rates_np.shape[0]
    x0 = jnp.arange(b, dtype=jnp.int32) % n
    x0_np = np.asarray(x0)
    key = jr.key(0)
    rng = np.random.default_rng(0)
    n_paths, n_stats, n_numpy = (
        n_jumps[k] for k in ("jaxneq_paths", "jaxneq_statistics", "numpy_ssa")
    )

    def paths():
        return jn.markov.gillespie(rates, x0, key=key, n_jumps=n_paths).times.block_until_ready()

    def statistics():
        s = jn.markov.gillespie_statistics(rates, x0, key=key, n_jumps=n_stats)
        return jax.block_until_ready(s)

    def numpy():
        return numpy_ssa(rates_np, x0_np, n_numpy, rng)

    return {"jaxneq_paths": paths, "jaxneq_statistics": statistics, "numpy_ssa": numpy}


def jumps_per_case(b, n_jumps, full):
    """Jumps per member of every case at ensemble size `b` (paths capped in `--full`)."""
    paths = min(n_jumps, _PATH_JUMPS_CAP // b) if full else n_jumps
    return {"jaxneq_paths": paths, "jaxneq_statistics": n_jumps, "numpy_ssa": n_jumps}


def gillespy2_runner(rates_np, n_jumps):
    """GillesPy2's SSA on the chain as 8 species and 56 first-order reactions, one
    trajectory per call, integrated to the time of about `n_jumps` jumps; returns
    (callable, jumps per call) or None when GillesPy2 is not installed."""
    try:
        import gillespy2
    except Exception:
        return None
    n = rates_np.shape[0]
    model = gillespy2.Model(name="chain")
    species = [gillespy2.Species(name=f"s{i}", initial_value=1 if i == 0 else 0) for i in range(n)]
    model.add_species(species)
    for i in range(n):
        for j in range(n):
            if i != j:
                k = gillespy2.Parameter(name=f"k{i}_{j}", expression=float(rates_np[i, j]))
                model.add_parameter(k)
                model.add_reaction(
                    gillespy2.Reaction(
                        name=f"r{i}_{j}",
                        reactants={species[i]: 1},
                        products={species[j]: 1},
                        rate=k,
                    )
                )
    mean_exit = float(rates_np.sum(1).mean())
    t_end = n_jumps / mean_exit
    model.timespan(np.linspace(0.0, t_end, 2))
    try:
        solver = gillespy2.SSACSolver(model=model)
        name = "SSACSolver"
    except Exception:
        solver = gillespy2.NumPySSASolver(model=model)
        name = "NumPySSASolver"

    def go():
        return model.run(solver=solver, number_of_trajectories=1)

    return go, n_jumps, name


def time_round_robin(cases, repeats, cpu=None):
    """Best-of-`repeats` wall time of each case; the order rotates every round. With a
    dict `cpu`, also the best process CPU time of each case (what a case costs whatever
    else the shared machine runs)."""
    for go in cases.values():
        go()  # warm-up: compile
    best = {name: float("inf") for name in cases}
    best_cpu = dict(best)
    order = list(cases)
    for r in range(repeats):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            c0, t0 = time.process_time(), time.perf_counter()
            cases[name]()
            best[name] = min(best[name], time.perf_counter() - t0)
            best_cpu[name] = min(best_cpu[name], time.process_time() - c0)
    if cpu is not None:
        cpu.update(best_cpu)
    return best


def machine_info():
    import jax

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU run: 4096 x 1000 jumps")
    mode.add_argument("--full", action="store_true", help="GPU run: up to 1e7 members")
    parser.add_argument("--repeats", type=int, default=7, help="best of this many rounds")
    parser.add_argument("--peak-bandwidth-gbs", type=float, help="device bandwidth for --full")
    parser.add_argument("--json", help="also write the JSON object to this path")
    parser.add_argument("--note", help="a note on the machine (e.g. other jobs running)")
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)  # float64 rates and times, as NumPy
    rates = random_chain()
    n_jumps = 1000
    sizes = [4096] if not args.full else [4096, 10**5, 10**6, 10**7]
    result = {
        "benchmark": "jaxneq.markov Gillespie, random dense 8-state chain",
        "mode": "full" if args.full else "quick",
        "n_jumps": n_jumps,
        "n_jumps_per_case": {},
        "machine": machine_info(),
        "throughput_mjumps_per_s": {},
        "notes": [args.note] if args.note else [],
    }
    for b in sizes:
        jumps = jumps_per_case(b, n_jumps, args.full)
        cases = runners(rates, b, jumps)
        if b > 10**5:
            cases.pop("numpy_ssa")
        jumps = {name: jumps[name] for name in cases}
        result["n_jumps_per_case"][str(b)] = jumps
        log(f"b={b}: timing {', '.join(f'{c} ({jumps[c]} jumps)' for c in cases)}")
        cpu = {}
        best = time_round_robin(cases, args.repeats, cpu)
        rows = {name: b * jumps[name] / best[name] / 1e6 for name in best}
        result["throughput_mjumps_per_s"][str(b)] = rows
        result.setdefault("throughput_mjumps_per_cpu_s", {})[str(b)] = {
            name: b * jumps[name] / cpu[name] / 1e6 for name in cpu
        }
        if args.full and args.peak_bandwidth_gbs:
            for name, bytes_per_jump in (("jaxneq_paths", 12 + 64), ("jaxneq_statistics", 64)):
                gbs = rows[name] * 1e6 * bytes_per_jump / 1e9
                rows[f"{name}_bandwidth_fraction"] = gbs / args.peak_bandwidth_gbs
    rows = result["throughput_mjumps_per_s"]["4096"]
    per_cpu = result["throughput_mjumps_per_cpu_s"]["4096"]
    for key, table in (("ratio_vs_numpy_ssa", rows), ("ratio_vs_numpy_ssa_cpu_time", per_cpu)):
        result[key] = None
        if "numpy_ssa" in table:
            result[key] = {
                "paths": table["jaxneq_paths"] / table["numpy_ssa"],
                "statistics": table["jaxneq_statistics"] / table["numpy_ssa"],
            }
    result["statistics_over_paths"] = rows["jaxneq_statistics"] / rows["jaxneq_paths"]
    try:
        peer = gillespy2_runner(rates, n_jumps)
        if peer is not None:
            go, jumps, name = peer
            best = time_round_robin({"gillespy2": go}, max(1, args.repeats // 2))["gillespy2"]
    except Exception as error:  # a solver that fails to build or run: skip, with a note
        peer = None
        result["notes"].append(f"GillesPy2 failed ({type(error).__name__}: {error})")
    if peer is None:
        result["ratio_vs_gillespy2"] = None
        result["notes"].append("GillesPy2 not installed or failed: ratio_vs_gillespy2 skipped")
    else:
        rows[f"gillespy2_{name}"] = jumps / best / 1e6
        result["ratio_vs_gillespy2"] = {
            "solver": name,
            "paths": rows["jaxneq_paths"] / rows[f"gillespy2_{name}"],
            "statistics": rows["jaxneq_statistics"] / rows[f"gillespy2_{name}"],
        }
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(args.json + ".tmp", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
