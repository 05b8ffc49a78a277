#!/usr/bin/env bash
# The one-shot device check, for a session lent a GPU (the `device` tool): the NB201 supernet's
# DARTS and GDAS search steps in PyTorch on CUDA (bench/oneshot_reference.py), at the published
# size (C=16, N=5) and at C=8, N=2, batch 64, with the peak GPU memory; then the same on the
# device's CPU with 2 threads, so the two can be compared on one machine. Archer's own binary
# does not run there (it links libtorch 2.13.0; the device has PyTorch 2.11).
# Writes everything under $OUT.
set -euo pipefail
out=${OUT:-/tmp/device-oneshot}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.csv"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee "$out/torch.txt"
export PYTHONUNBUFFERED=1
python3 bench/oneshot_reference.py --device cuda --sizes c16n5,c8n2 --repeats 30 --warmup 5 \
    | tee "$out/oneshot_reference_cuda.json"
python3 bench/oneshot_reference.py --device cpu --threads 2 --sizes c8n2 --repeats 5 --warmup 1 \
    | tee "$out/oneshot_reference_cpu2.json"
