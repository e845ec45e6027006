"""The TFX Transform component for one task's preprocessing_fn."""

from tfx.components import Transform

from components.transform.tasks import TASKS


def make_transform(examples, schema, task: str, custom_config: dict | None = None) -> Transform:
    """Transform running `components.transform.tasks.<task>_preprocessing_fn`.

    The function is named by its dotted path rather than a module_file, so TFX imports it
    from the installed package instead of packaging the file as a wheel and pip-installing
    it. `custom_config` (JSON-able) reaches the preprocessing_fn; TF2 tracing
    (`force_tf_compat_v1=False`) is what lets an analysed sequence length be a static shape
    (see components.transform.padding).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return Transform(
        examples=examples,
        schema=schema,
        preprocessing_fn=f"components.transform.tasks.{task}_preprocessing_fn",
        custom_config=custom_config or {},
        force_tf_compat_v1=False,
    )
