"""make_transform: the Transform component TFX builds, and how it resolves the function."""

import pytest
from tfx.components.transform import executor_utils
from tfx.components.transform import labels as transform_labels
from tfx.components.util import udf_utils
from tfx.types import Channel, standard_artifacts

from components.transform import TASKS, make_transform, tasks


@pytest.mark.parametrize("task", TASKS)
def test_make_transform_names_the_task_function_and_binds_custom_config(task):
    transform = make_transform(
        Channel(type=standard_artifacts.Examples),
        Channel(type=standard_artifacts.Schema),
        task,
        {"max_length": 8},
    )
    properties = transform.exec_properties
    assert properties["module_file"] is None
    assert properties["preprocessing_fn"] == f"components.transform.tasks.{task}_preprocessing_fn"
    assert properties["force_tf_compat_v1"] == 0

    # What TFX's Transform executor does with them (executor._GetPreprocessingFn).
    fn = udf_utils.get_fn(properties, "preprocessing_fn")
    assert fn is getattr(tasks, f"{task}_preprocessing_fn")
    bound = executor_utils.MaybeBindCustomConfig(
        {transform_labels.CUSTOM_CONFIG: properties["custom_config"]}, fn
    )
    assert bound.keywords == {"custom_config": {"max_length": 8}}


def test_make_transform_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="task must be one of"):
        make_transform(
            Channel(type=standard_artifacts.Examples),
            Channel(type=standard_artifacts.Schema),
            "segmentation",
        )
