#!/usr/bin/env bash
# Launches train.py with torchrun on this node: one process per GPU, FSDP across all nodes.
#
#   ./launch.sh --nproc-per-node 8                                   # one node, 8 GPUs
#   ./launch.sh --nproc-per-node 8 --nnodes 2 --node-rank 0 \
#       --rdzv-endpoint node0:29500 -- --out /scratch/run1            # node 0 of 2 (node 1: --node-rank 1)
#
# Everything after `--` goes to train.py (--out, --steps, --bundle, ...).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: launch.sh [--nproc-per-node N] [--nnodes N] [--node-rank R] [--rdzv-endpoint HOST:PORT] [-- TRAIN_ARGS...]

  --nproc-per-node N       processes (GPUs) on this node (default 1)
  --nnodes N               nodes in the job (default 1)
  --node-rank R            this node's rank, 0 ... nnodes-1 (default 0)
  --rdzv-endpoint H:P      where the nodes meet: the first node's host and a free port (default localhost:29500)
  -- TRAIN_ARGS            passed to train.py, e.g. -- --out /scratch/run --steps 10

The gradient accumulation of the plan must be a multiple of nproc-per-node x nnodes.
USAGE
}

nproc=1
nnodes=1
node_rank=0
endpoint=localhost:29500
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nproc-per-node) nproc="$2"; shift 2 ;;
    --nnodes) nnodes="$2"; shift 2 ;;
    --node-rank) node_rank="$2"; shift 2 ;;
    --rdzv-endpoint) endpoint="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "launch.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec torchrun \
  --nproc-per-node "$nproc" \
  --nnodes "$nnodes" \
  --node-rank "$node_rank" \
  --rdzv-backend c10d \
  --rdzv-endpoint "$endpoint" \
  "$here/train.py" --bundle "$here" "$@"
