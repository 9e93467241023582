#!/usr/bin/env bash
# The GPU plan of benchmarks/README.md, as one script for a machine with one CUDA GPU:
#
#   bash benchmarks/gpu.sh OUTDIR [PEAK_GB_PER_S]
#
# writes into OUTDIR (at most 8 files): gpu.txt (the device, JAX's view of it),
# langevin_full.json + langevin.log (benchmarks/langevin.py --full, throughput table and
# the fraction of PEAK_GB_PER_S reached), gillespie_full.json + gillespie.log
# (benchmarks/gillespie.py --full), rattling_gpu.json (benchmarks/rattling.py --quick on the
# GPU: the vmapped typicality sweep) and pytest.log (the non-slow suite on the GPU, without
# the notebooks, docs, README and tour tests, which need no GPU). Each step has its own time
# limit (seconds, environment variables T_LANGEVIN, T_GILLESPIE, T_RATTLING, T_TESTS), so
# one slow step cannot take the others' time; every step writes its progress as it goes.
# PEAK_GB_PER_S defaults to 4800, the H200's datasheet figure (an H100 SXM: 3350).
set -u
out=${1:?usage: bash benchmarks/gpu.sh OUTDIR [PEAK_GB_PER_S]}
peak=${2:-4800}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    $py -c "import jax, jaxneq; print('jax', jax.__version__, jax.devices())"
} >"$out/gpu.txt" 2>&1

timeout "${T_LANGEVIN:-170}" $py benchmarks/langevin.py --full --throughput-only --repeats 3 \
    --peak-bandwidth-gbs "$peak" --device-json "$out/langevin_full.json" \
    >/dev/null 2>"$out/langevin.log"
echo "langevin rc $?" >>"$out/gpu.txt"

timeout "${T_GILLESPIE:-110}" $py benchmarks/gillespie.py --full --repeats 3 \
    --peak-bandwidth-gbs "$peak" --json "$out/gillespie_full.json" \
    >/dev/null 2>"$out/gillespie.log"
echo "gillespie rc $?" >>"$out/gpu.txt"

timeout "${T_RATTLING:-60}" $py benchmarks/rattling.py --quick \
    >"$out/rattling_gpu.json" 2>>"$out/gillespie.log"
echo "rattling rc $?" >>"$out/gpu.txt"

timeout "${T_TESTS:-200}" $py -m pytest tests -m "not slow" -n "${WORKERS:-12}" -v \
    -p no:cacheprovider --ignore=tests/test_notebooks.py --ignore=tests/test_docs.py \
    --ignore=tests/test_readme.py --ignore-glob='tests/test_tour*.py' \
    --ignore=tests/test_fp_design.py >"$out/pytest.log" 2>&1
echo "pytest rc $?" >>"$out/gpu.txt"
date -u >>"$out/gpu.txt"
