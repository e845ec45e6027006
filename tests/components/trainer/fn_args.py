"""TFX Trainer inputs for calling the real `run_fn` in tests: a pipeline run's Transform
outputs (read through MLMD) and FnArgs built the way TFX's Trainer executor builds them."""

import json

from tfx.components.trainer import fn_args_utils
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import path_utils

from pipelines import results


def transform_outputs(run):
    def uri(component, key):
        return results.latest_output(run.metadata_path, run.pipeline_name, component, key)

    return {
        "examples": uri("CsvExampleGen", "examples"),
        "transformed": uri("Transform", "transformed_examples"),
        "graph": uri("Transform", "transform_graph"),
        "schema": uri("Transform", "post_transform_schema"),
    }


def fn_args(outputs, out_dir, custom_config):
    """What tfx.components.trainer.executor.GenericExecutor hands run_fn."""
    examples = standard_artifacts.Examples()
    examples.uri = outputs["transformed"]
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    graph = standard_artifacts.TransformGraph()
    graph.uri = outputs["graph"]
    schema = standard_artifacts.Schema()
    schema.uri = outputs["schema"]
    input_dict = {"examples": [examples], "transform_graph": [graph], "schema": [schema]}
    exec_properties = {
        "train_args": json.dumps({"splits": ["train"]}),
        "eval_args": json.dumps({"splits": ["eval"]}),
        "custom_config": json.dumps(custom_config),
    }
    fn_args = fn_args_utils.get_common_fn_args(input_dict, exec_properties, str(out_dir / "w"))
    fn_args.serving_model_dir = path_utils.serving_model_dir(str(out_dir / "model"))
    fn_args.eval_model_dir = path_utils.eval_model_dir(str(out_dir / "model"))
    fn_args.model_run_dir = str(out_dir / "model_run")
    fn_args.custom_config = custom_config
    return fn_args
