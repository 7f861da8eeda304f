#!/usr/bin/env bash
# The GPU figures of the benchmarks (README, "Benchmarks"), in one run on a GPU machine: WCAM at the
# defaults on resnet20, WCAM at the paper's settings (grid 28, 8 designs) on ResNet-50 and
# EfficientNet-Lite0 at 224 px, and the sweep's throughput. Each figure goes to RESULTS/NAME_TAG.txt.
#
#   [GPU_TAG=h200] scripts/bench_gpu.sh [RESULTS]   (RESULTS: bench/results, or $OUT where that is set;
#                                                     GPU_TAG names the GPU in the file names, default gpu)
#
# Call it from the work tree's root. The 224-px models are timed as seeded untrained networks: at a
# fixed number of designs WCAM's cost does not depend on the weights, so the weight packages need
# not be installed.
#
# On the lent GPU machine of this workplace the call carries at most 64 MiB and ../shared stays
# behind, so two git-ignored folders travel with it (carry: .whl .device-data):
#   .whl/          wheels of the packages that machine's Python lacks (ptwt, PyWavelets, captum,
#                  efficientnet-lite-pytorch), fetched with `pip download --python-version 3.12 ...`
#   .device-data/  cifar10_test.npz cut to its first 3,000 images (the whole set does not fit beside
#                  the work tree); the sweep figure is extrapolated from them to the 10,000. Made with
#                  python -c "import numpy as np; d = np.load('../shared/data/cifar10_test.npz'); \
#                  np.savez('.device-data/cifar10_test.npz', **{k: d[k] if k == 'classes' else d[k][:3000] for k in d})"
set -uo pipefail

RESULTS=${1:-${OUT:-bench/results}}
TAG=${GPU_TAG:-gpu}
PY=${PYTHON:-python3}
mkdir -p "$RESULTS"

if [[ -d .whl ]]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
[[ -d .device-data ]] && export SHIFTLAB_DATA=$PWD/.device-data
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$RESULTS/${TAG}_gpu.txt"
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$RESULTS/${TAG}_gpu.txt"

# bench NAME SECONDS MODULE ARGS...: one benchmark under a time limit, its output kept (a failure does not stop the rest)
bench() {
  local name=$1 seconds=$2
  shift 2
  echo "== $name"
  timeout "$seconds" $PY -m "$@" 2>&1 | tee "$RESULTS/${name}_$TAG.txt"
}

PAPER=(--grid-size 28 --nb-design 8 --max-design 8 --untrained --device cuda --images 4)
bench wcam_resnet20_32 60 bench.bench_wcam --device cuda --images 8
bench wcam_resnet50_224_paper 60 bench.bench_wcam --arch resnet50 "${PAPER[@]}"
bench wcam_resnet50_224_paper_batch512 60 bench.bench_wcam --arch resnet50 "${PAPER[@]}" --batch-size 512
bench wcam_resnet50_224_paper_reference 60 bench.bench_wcam --arch resnet50 "${PAPER[@]}" --perturbation reference
bench wcam_efficientnet_lite0_224_paper 60 bench.bench_wcam --arch efficientnet_lite0 "${PAPER[@]}"
bench wcam_efficientnet_lite0_224_defaults 100 bench.bench_wcam --arch efficientnet_lite0 --untrained --device cuda --images 2
bench sweep 170 bench.bench_sweep --device cuda --limit 3000
