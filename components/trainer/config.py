"""The Trainer's `custom_config`, parsed and checked before any training starts."""

import dataclasses
from typing import Any

from components.trainer.distribution import STRATEGIES

TASKS = ("penguins", "multitask", "tagging", "correlation", "multilabel")
BALANCERS = ("uncertainty", "alpha")
MULTITASK_HEADS = ("species", "body_mass")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """What `run_fn` reads from `custom_config`.

    `loss` is `{"name": ..., "params": {...}}` as `losses.get` takes it; None means the
    task's default. `batch_size` is per replica. For `multitask`, `balancer` picks
    UncertaintyWeighting or AlphaBalancing and `loss` is a dict with one spec per head.
    """

    task: str
    loss: Any = None
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 0.01
    distribution: str = "auto"
    seed: int = 0
    balancer: str = "uncertainty"
    transform: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_custom_config(cls, custom_config: dict | None) -> "TrainerConfig":
        raw = dict(custom_config or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ValueError(
                f"custom_config has unknown keys {unknown}; known keys: {sorted(names)}"
            )
        if "task" not in raw:
            raise ValueError(f"custom_config needs 'task', one of {', '.join(TASKS)}")
        config = cls(**raw)
        config.validate()
        return config

    def validate(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        if self.distribution not in STRATEGIES:
            raise ValueError(
                f"distribution must be one of {', '.join(STRATEGIES)}; got {self.distribution!r}"
            )
        if self.balancer not in BALANCERS:
            raise ValueError(
                f"balancer must be one of {', '.join(BALANCERS)}; got {self.balancer!r}"
            )
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {self.learning_rate!r}")
        self._validate_loss_shape()

    def _validate_loss_shape(self) -> None:
        """multitask takes a spec per head, every other task one spec; a spec of the wrong
        form would otherwise be ignored or fail only once training starts."""
        per_head = isinstance(self.loss, dict) and "name" not in self.loss
        if self.loss is None:
            return
        if self.task == "multitask":
            if not per_head or not self.loss or not set(self.loss) <= set(MULTITASK_HEADS):
                raise ValueError(
                    "the multitask loss is one spec per head, "
                    f"keys among {', '.join(MULTITASK_HEADS)}, e.g. "
                    '{"body_mass": {"name": "ConcordanceCorrelationLoss"}}; '
                    f"got {self.loss!r}"
                )
        elif per_head or not isinstance(self.loss, str | dict):
            raise ValueError(
                f"the {self.task} loss is a name or one {{'name': ..., 'params': ...}} spec; "
                f"got {self.loss!r}"
            )
