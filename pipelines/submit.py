"""Submit a compiled pipeline to a KFP 2 endpoint with kfp.Client.

Credentials come only from where kfp.Client looks itself: the environment
(KF_PIPELINES_SA_TOKEN_PATH, KF_PIPELINES_*) and the kube config. Nothing is read from, or
written to, the pipeline file.
"""

import os

from pipelines.kubeflow import validate
from pipelines.kubeflow_defaults import RUN_SERVICE_ACCOUNT

SUCCEEDED = "SUCCEEDED"


def run_url(client, run_id: str) -> str:
    """The run's page in the KFP UI, as kfp.Client links it."""
    return f"{client._get_url_prefix()}/#/runs/details/{run_id}"


def submit(
    pipeline_file: str, *, host: str, experiment: str, run_name: str | None = None
) -> tuple[str, str]:
    """Creates a run of the compiled file; returns (run id, its URL in the KFP UI)."""
    import kfp

    if not pipeline_file.endswith((".yaml", ".yml")):
        raise ValueError(f"{pipeline_file}: KFP 2 takes .yaml/.yml pipeline files")
    validate(pipeline_file)
    client = kfp.Client(host=host)
    result = client.create_run_from_pipeline_package(
        pipeline_file,
        arguments={},
        run_name=run_name or os.path.splitext(os.path.basename(pipeline_file))[0],
        experiment_name=experiment,
        # The least-privilege account deploy/kubeflow/losskit creates, not KFP's default.
        service_account=RUN_SERVICE_ACCOUNT,
    )
    return result.run_id, run_url(client, result.run_id)


def wait(host: str, run_id: str, *, timeout: float, poll: float = 5.0) -> str:
    """Follows the run (kfp.Client.wait_for_run_completion) until it ends; its final state."""
    import kfp

    run = kfp.Client(host=host).wait_for_run_completion(run_id, timeout, sleep_duration=poll)
    return str(run.state).upper()
