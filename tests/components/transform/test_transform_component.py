"""make_transform: the Transform component TFX builds, and how it resolves the function."""

from pathlib import Path

import pytest
from tfx.components.transform import executor_utils
from tfx.components.transform import labels as transform_labels
from tfx.components.util import udf_utils
from tfx.types import Channel, standard_artifacts

from components import spec as spec_lib
from components.transform import make_transform, preprocessing

SPECS = sorted((Path(__file__).parents[3] / "pipelines" / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=lambda path: path.stem)
def test_make_transform_names_the_preprocessing_fn_and_binds_the_spec(path):
    spec_config = {"spec": spec_lib.load(str(path)).model_dump()}
    transform = make_transform(
        Channel(type=standard_artifacts.Examples),
        Channel(type=standard_artifacts.Schema),
        spec_config,
    )
    properties = transform.exec_properties
    assert properties["module_file"] is None
    assert properties["preprocessing_fn"] == "components.transform.preprocessing.preprocessing_fn"
    assert properties["force_tf_compat_v1"] == 0

    # What TFX's Transform executor does with them (executor._GetPreprocessingFn).
    fn = udf_utils.get_fn(properties, "preprocessing_fn")
    assert fn is preprocessing.preprocessing_fn
    bound = executor_utils.MaybeBindCustomConfig(
        {transform_labels.CUSTOM_CONFIG: properties["custom_config"]}, fn
    )
    assert bound.keywords == {"custom_config": spec_config}
    # The bound config parses back to the same spec.
    assert preprocessing.spec_of(bound.keywords["custom_config"]) == spec_lib.load(str(path))


def test_preprocessing_fn_needs_the_spec_in_custom_config():
    for config in (None, {}, {"max_length": 8}):
        with pytest.raises(ValueError, match="custom_config needs 'spec'"):
            preprocessing.preprocessing_fn({}, config)
