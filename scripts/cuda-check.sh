#!/usr/bin/env bash
# Compiles the `inference` crate (with its tests) and the service with their `cuda` feature on a
# machine without a GPU or a CUDA toolkit: nvcc and the CUDA headers come from NVIDIA's PyPI wheels, pinned by SHA-256
# (scripts/cuda-requirements.txt), into .venv-cuda (git-ignored). candle's kernels are compiled
# for CUDA_COMPUTE_CAP (default 90, an H100 or H200). `cargo check` compiles everything, kernels
# and tests included, and links nothing, so no CUDA library is needed. Running the GPU path takes a
# machine with a GPU and the CUDA libraries:
#   INFERENCE_TEST_DEVICE=cuda cargo test -p inference --features cuda device
#
# `--link` builds runnable release binaries instead, for a GPU machine that has the CUDA
# libraries but no Rust toolchain: the inference tests and the service. cuBLAS, cuRAND and
# NVRTC come from pinned wheels (scripts/cuda-link-requirements.txt); the driver library
# (libcuda.so.1, which only a GPU machine has) is linked through a stub that defines the driver
# functions cudarc declares, so the binaries bind to the real driver where they run. There:
#   LD_LIBRARY_PATH=<driver and CUDA 13 library folders> INFERENCE_TEST_DEVICE=cuda <inference test binary> device
#   AGENT__MODEL__DEVICE=cuda agent bench model
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

if [ "${1:-}" != "--link" ]; then
  cargo check -p inference --features cuda --tests
  cargo check -p agent --features cuda
  echo "cuda-check: inference and agent compile with the cuda feature (compute capability $CUDA_COMPUTE_CAP)"
  exit 0
fi

if [ ! -x "$venv/bin/link-ready" ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes --only-binary=:all: --no-deps \
    -r scripts/cuda-link-requirements.txt
  touch "$venv/bin/link-ready" && chmod +x "$venv/bin/link-ready"
fi
cargo fetch -q
links="$CARGO_TARGET_DIR/cuda-link"
mkdir -p "$links"
for lib in cublas.so.13 cublasLt.so.13 curand.so.10 nvrtc.so.13 cudart.so.13; do
  ln -sf "$cuda/lib/lib$lib" "$links/lib${lib%%.so.*}.so"
done
# The stub: every driver function of cudarc's bindings, soname libcuda.so.1.
cudarc=$(cargo metadata --format-version 1 --features inference/cuda | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc"))')
grep -hE '^\s+fn cu[A-Za-z0-9_]+\(' "$(dirname "$cudarc")/src/driver/sys/mod.rs" \
  | sed -E 's/^\s+fn (cu[A-Za-z0-9_]+)\(.*/void \1(void) {}/' | sort -u > "$links/cuda_stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$links/libcuda.so" "$links/cuda_stub.c"
export RUSTFLAGS="-L native=$(cd "$links" && pwd)"
cargo test --release --no-run -p inference --features cuda
cargo build --release -p agent --features cuda
echo "cuda-check --link: $CARGO_TARGET_DIR/release/agent and the inference tests above (compute capability $CUDA_COMPUTE_CAP)"
