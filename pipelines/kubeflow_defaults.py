"""Defaults shared by `losskit compile` and the deploy/ manifests; they must agree."""

# The image `deploy/Dockerfile` builds; `losskit compile --image` overrides it.
DEFAULT_IMAGE = "tfx-losskit:0.1.0"
DEFAULT_GPU_IMAGE = "tfx-losskit:0.1.0-gpu"
# Kubernetes extended resource the NVIDIA device plugin advertises.
GPU_RESOURCE = "nvidia.com/gpu"
# Taint on the GPU node pool; the Trainer step tolerates it, nothing else does.
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
GPU_TAINT_EFFECT = "NoSchedule"
# Label on the GPU node pool's nodes that the Trainer's node selector matches (`--node-pool`).
NODE_POOL_LABEL_KEY = "losskit.dev/node-pool"
NODE_POOL_LABEL_VALUE = "gpu"
# GKE labels GPU nodes with the accelerator model; `--gpu TYPE:COUNT` selects TYPE through it.
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
DEFAULT_GPU_TYPE = "nvidia-tesla-t4"
DEFAULT_GPU_COUNT = 1
# Kubernetes namespace of the Kubeflow Pipelines install and its run service account.
NAMESPACE = "kubeflow"
RUN_SERVICE_ACCOUNT = "losskit-pipeline-runner"
KFP_VERSION = "2.2.0"
