"""losskit losses: custom Keras losses, layers and metrics (TF ops only, no TFX)."""

import os

# tf.keras must be Keras 2 (tf_keras) everywhere: tensorflow_transform requires it, and the
# flag is read when tf.keras is first touched, so setting it here covers every entry point.
os.environ["TF_USE_LEGACY_KERAS"] = "1"

from losses._base import LossLayer  # noqa: E402
from losses.balancing import AlphaBalancing, LossWeightSchedule, UncertaintyWeighting  # noqa: E402
from losses.correlation import (  # noqa: E402
    ConcordanceCorrelation,
    ConcordanceCorrelationLoss,
    PearsonCorrelation,
    PearsonCorrelationLoss,
)
from losses.divergence import IgnoredLabelKLDivergence  # noqa: E402
from losses.dynamic import (  # noqa: E402
    FAMO,
    BalancerCallback,
    DynamicWeightAverage,
    GradNorm,
    last_shared_tensor,
)
from losses.mixture import GaussianMixtureCurveLoss  # noqa: E402
from losses.ranking import BPMLLLoss  # noqa: E402
from losses.registry import get  # noqa: E402
from losses.sequence import (  # noqa: E402
    MaskedCategoricalCrossentropy,
    MaskedSparseCategoricalAccuracy,
    MaskedSparseCategoricalCrossentropy,
)
from losses.stepwise import MaskedStepLoss  # noqa: E402
from losses.weighted import (  # noqa: E402
    ClassWeightedCrossentropy,
    CostSensitiveCrossentropy,
    WeightedBinaryCrossentropy,
)

__all__ = [
    "FAMO",
    "AlphaBalancing",
    "BalancerCallback",
    "BPMLLLoss",
    "ClassWeightedCrossentropy",
    "ConcordanceCorrelation",
    "ConcordanceCorrelationLoss",
    "CostSensitiveCrossentropy",
    "DynamicWeightAverage",
    "GaussianMixtureCurveLoss",
    "GradNorm",
    "IgnoredLabelKLDivergence",
    "LossLayer",
    "LossWeightSchedule",
    "MaskedCategoricalCrossentropy",
    "MaskedSparseCategoricalAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "MaskedStepLoss",
    "PearsonCorrelation",
    "PearsonCorrelationLoss",
    "UncertaintyWeighting",
    "WeightedBinaryCrossentropy",
    "get",
    "last_shared_tensor",
]
