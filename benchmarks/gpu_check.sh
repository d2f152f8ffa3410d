#!/usr/bin/env bash
# GPU readiness in one go: the tests marked cuda, training speed, the quickstart, NCCL and eval
# on CUDA; one table and a JSON (benchmarks/gpu_check.py says what each step does).
#   bash benchmarks/gpu_check.sh [--out DIR] [--json PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python benchmarks/gpu_check.py "$@"
