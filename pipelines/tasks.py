"""The five tasks: each names its embedded data, the Transform and Trainer configuration
and its EvalConfig. `create_pipeline` wires them all the same way."""

import dataclasses
from collections.abc import Callable

from components.evaluator import configs as eval_configs
from components.trainer.config import TrainerConfig


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    summary: str
    dataset: str  # key of pipelines.datasets.DATASETS
    data_format: str  # "csv" | "tfrecord"
    transform_config: dict
    trainer_config: dict
    eval_config: Callable[..., object]

    def trainer_custom_config(self, **overrides) -> dict:
        """The Trainer's custom_config, checked here so a bad override stops the run before
        any component starts."""
        config = {"task": self.name, **self.trainer_config, "transform": self.transform_config}
        config.update({k: v for k, v in overrides.items() if v is not None})
        TrainerConfig.from_custom_config(config)
        return config

    def component_config(self, **trainer_overrides) -> dict:
        """The `create_pipeline` arguments that come from the task itself."""
        return {
            "task": self.name,
            "transform_config": self.transform_config,
            "trainer_config": self.trainer_custom_config(**trainer_overrides),
            "eval_config": self.eval_config(),
        }


def data_format_of(path: str) -> str:
    """ExampleGen's input format from the file name: .csv, anything else TFRecord."""
    return "csv" if path.endswith(".csv") else "tfrecord"


TASKS = {
    "penguins": Task(
        name="penguins",
        summary="species from body measurements; class-weighted cross-entropy from a "
        "tf.Transform class-weight table; TFMA one-vs-rest AUC by island and sex",
        dataset="penguins",
        data_format="csv",
        transform_config={"label_key": "species", "class_weight_scheme": "balanced"},
        trainer_config={"epochs": 40, "batch_size": 16, "learning_rate": 0.02},
        eval_config=lambda: eval_configs.penguins(num_classes=3),
    ),
    "multitask": Task(
        name="multitask",
        summary="species (3 classes) and body mass (1 value) from one trunk; the two head "
        "losses balanced by UncertaintyWeighting (or AlphaBalancing) with a warm-up schedule",
        dataset="multitask",
        data_format="csv",
        transform_config={"label_key": "species", "class_weight_scheme": "balanced"},
        trainer_config={"epochs": 60, "batch_size": 16, "learning_rate": 0.02},
        eval_config=lambda: eval_configs.multitask(num_classes=3),
    ),
    "tagging": Task(
        name="tagging",
        summary="hidden-state tags of HMM sequences; padded by tf.Transform, trained with "
        "MaskedSparseCategoricalCrossentropy; TFMA masked token accuracy by length bucket",
        dataset="tagging",
        data_format="tfrecord",
        transform_config={"max_length": 40, "num_tags": 4},
        trainer_config={"epochs": 8, "batch_size": 32, "learning_rate": 0.01},
        eval_config=lambda: eval_configs.tagging(),
    ),
    "correlation": Task(
        name="correlation",
        summary="a sequence regressor on a linear dynamical system trained with "
        "ConcordanceCorrelationLoss; TFMA per-sequence CCC and Pearson",
        dataset="correlation",
        data_format="tfrecord",
        transform_config={"max_length": 60, "mask_value": -9999.0},
        trainer_config={"epochs": 6, "batch_size": 32, "learning_rate": 0.01},
        eval_config=lambda: eval_configs.correlation(mask_value=-9999.0),
    ),
    "multilabel": Task(
        name="multilabel",
        summary="8 correlated labels ranked with BPMLLLoss (pos_weight from tf.Transform for "
        "WeightedBinaryCrossentropy); TFMA per-label AUC, ranking and hamming loss",
        dataset="multilabel",
        data_format="tfrecord",
        transform_config={"num_labels": 8},
        trainer_config={"epochs": 20, "batch_size": 32, "learning_rate": 0.005},
        eval_config=lambda: eval_configs.multilabel(num_labels=8),
    ),
}


def get(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]
