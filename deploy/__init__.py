"""Deployment assets for tfx-losskit (image, Kubeflow Pipelines install, GPU node pool).

Only `deploy.render` is Python: it renders the local kustomizations without a cluster.
"""
