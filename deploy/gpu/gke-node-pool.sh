#!/usr/bin/env bash
# Create the GKE node pool the losskit Trainer runs on: NVIDIA GPUs, drivers installed by GKE,
# tainted so that nothing but pods tolerating the taint lands there, and labelled so that the
# Trainer's node selector finds it. Scales from zero, so an idle pool costs nothing.
#
#   CLUSTER=my-cluster LOCATION=us-central1-a deploy/gpu/gke-node-pool.sh
#   DRY_RUN=1 CLUSTER=c LOCATION=l deploy/gpu/gke-node-pool.sh   # print the command only
#
# The defaults below must agree with pipelines/kubeflow_defaults.py (tests/deploy checks):
#   NODE_LABELS  = NODE_POOL_LABEL_KEY=NODE_POOL_LABEL_VALUE   (`losskit compile --node-pool`)
#   NODE_TAINTS  = GPU_TAINT_KEY=GPU_TAINT_VALUE:GPU_TAINT_EFFECT (the Trainer's toleration)
#   GPU_TYPE     = DEFAULT_GPU_TYPE; GKE labels the nodes cloud.google.com/gke-accelerator=TYPE
#                  (`losskit compile --gpu TYPE:COUNT`), GPU_COUNT = DEFAULT_GPU_COUNT.
# GKE also taints GPU nodes nvidia.com/gpu=present:NoSchedule by itself; it is spelled out here
# so the pool's contract is visible and identical on clusters that do not.
set -euo pipefail

CLUSTER="${CLUSTER:?set CLUSTER to the GKE cluster name}"
LOCATION="${LOCATION:?set LOCATION to the cluster zone or region, e.g. us-central1-a}"
PROJECT="${PROJECT:-}"                       # empty: gcloud's configured project
POOL_NAME="${POOL_NAME:-losskit-gpu}"
MACHINE_TYPE="${MACHINE_TYPE:-n1-standard-8}" # T4s attach to N1 machine types
GPU_TYPE="${GPU_TYPE:-nvidia-tesla-t4}"
GPU_COUNT="${GPU_COUNT:-1}"
GPU_DRIVER_VERSION="${GPU_DRIVER_VERSION:-default}" # default | latest | disabled
NODE_LABELS="${NODE_LABELS:-losskit.dev/node-pool=gpu}"
NODE_TAINTS="${NODE_TAINTS:-nvidia.com/gpu=present:NoSchedule}"
NUM_NODES="${NUM_NODES:-0}"                  # per zone; the autoscaler adds nodes on demand
MIN_NODES="${MIN_NODES:-0}"
MAX_NODES="${MAX_NODES:-2}"
DISK_SIZE="${DISK_SIZE:-100}"                # GB; the GPU image is several GB
SPOT="${SPOT:-0}"                            # 1: Spot VMs (cheaper, may be preempted)
DRY_RUN="${DRY_RUN:-0}"

command=(
  gcloud container node-pools create "$POOL_NAME"
  --cluster="$CLUSTER"
  --location="$LOCATION"
  --machine-type="$MACHINE_TYPE"
  --accelerator="type=${GPU_TYPE},count=${GPU_COUNT},gpu-driver-version=${GPU_DRIVER_VERSION}"
  --node-labels="$NODE_LABELS"
  --node-taints="$NODE_TAINTS"
  --num-nodes="$NUM_NODES"
  --enable-autoscaling
  --min-nodes="$MIN_NODES"
  --max-nodes="$MAX_NODES"
  --disk-size="$DISK_SIZE"
)
if [[ -n "$PROJECT" ]]; then
  command+=(--project="$PROJECT")
fi
if [[ "$SPOT" == 1 ]]; then
  command+=(--spot)
fi

if [[ "$DRY_RUN" == 1 ]]; then
  printf '%q ' "${command[@]}"
  printf '\n'
  exit 0
fi
"${command[@]}"
