#!/usr/bin/env bash
# Times the 12 x 10 comparison chart (render + PNG encode) with stemkaart and with matplotlib
# on this machine, on the same data and pixel size, and prints both medians and the ratio.
# Needs python3 with matplotlib (`pip install matplotlib`). MATPLOTLIB_RUNS sets its run count.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${MATPLOTLIB_RUNS:-30}"
data="target/charts-bench-data.json"
mkdir -p target

CHARTS_BENCH_DATA="$data" cargo bench --bench charts -- comparison_12x10
rust_ms=$(python3 -c 'import json; e = json.load(open("target/criterion/comparison_12x10/new/estimates.json")); print(e["median"]["point_estimate"] / 1e6)')

# OpenBLAS variables that this workplace may set slow down numpy; matplotlib gets a fair run.
mpl=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benches/matplotlib_compare.py "$data" "$runs")
mpl_ms=$(sed -n 's/^MEDIAN_MS=//p' <<<"$mpl")

echo
echo "machine:    $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(rustc --version); Python $(python3 -c 'import platform; print(platform.python_version())')"
python3 - "$data" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"chart:      {len(d['series'])} sessions x {len(d['groups'])} statements, {d['width']}x{d['height']} px, "
      f"our PNG {d['png_bytes']} bytes")
PY
head -n 1 <<<"$mpl"
python3 -c "r, m = $rust_ms, $mpl_ms; print(f'stemkaart median:  {r:8.2f} ms (criterion, render + PNG encode)'); print(f'matplotlib median: {m:8.2f} ms ({$runs} runs, draw + savefig to memory)'); print(f'ratio:             {m / r:8.1f}x faster')"
