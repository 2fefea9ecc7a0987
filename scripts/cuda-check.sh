#!/usr/bin/env bash
# Compiles the `inference` crate (with its tests) and the service with their `cuda` feature on a
# machine without a GPU or a CUDA toolkit: nvcc and the CUDA headers come from NVIDIA's PyPI wheels, pinned by SHA-256
# (scripts/cuda-requirements.txt), into .venv-cuda (git-ignored). candle's kernels are compiled
# for CUDA_COMPUTE_CAP (default 90, an H100). `cargo check` compiles everything, kernels and
# tests included, and links nothing, so no CUDA library is needed. Running the GPU path takes a
# machine with a GPU and the CUDA libraries:
#   INFERENCE_TEST_DEVICE=cuda cargo test -p inference --features cuda device
# A separate target folder (CUDA_TARGET_DIR) keeps the CPU build's artefacts as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${CUDA_VENV:-.venv-cuda}
if [ ! -x "$venv/bin/nvcc-ready" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes --only-binary=:all: \
    -r scripts/cuda-requirements.txt
  touch "$venv/bin/nvcc-ready" && chmod +x "$venv/bin/nvcc-ready"
fi
cuda=$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
export PATH="$cuda/bin:$PATH" CUDA_PATH="$cuda" CUDA_ROOT="$cuda" CUDA_HOME="$cuda"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
nvcc --version | tail -1
export CARGO_TARGET_DIR=${CUDA_TARGET_DIR:-target/cuda}
cargo check -p inference --features cuda --tests
cargo check -p agent --features cuda
echo "cuda-check: inference and agent compile with the cuda feature (compute capability $CUDA_COMPUTE_CAP)"
