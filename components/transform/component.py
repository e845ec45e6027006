"""The TFX Transform component running the spec-driven `preprocessing_fn`."""

from tfx.components import Transform

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"


def make_transform(examples, schema, spec_config: dict) -> Transform:
    """Transform running `components.transform.preprocessing.preprocessing_fn`.

    The function is named by its dotted path rather than a module_file, so TFX imports it
    from the installed package instead of packaging the file as a wheel and pip-installing
    it. `spec_config` (`{"spec": TaskSpec.model_dump()}`) reaches the preprocessing_fn as
    custom_config; TF2 tracing (`force_tf_compat_v1=False`) is what lets an analysed
    sequence length be a static shape (see components.transform.padding).
    """
    return Transform(
        examples=examples,
        schema=schema,
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=spec_config,
        force_tf_compat_v1=False,
    )
