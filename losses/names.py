"""The loss names `losses.get` knows, as plain strings.

TF-free on purpose: `losskit check` reads this file by path (without importing the `losses`
package, whose classes need TensorFlow) to tell a misspelt loss name in about a second.
`losses.registry` builds its tables from these names, and a test keeps them in step.
"""

CLASSES = (
    "MaskedSparseCategoricalCrossentropy",
    "MaskedCategoricalCrossentropy",
    "PearsonCorrelationLoss",
    "ConcordanceCorrelationLoss",
    "BPMLLLoss",
    "ClassWeightedCrossentropy",
    "CostSensitiveCrossentropy",
    "WeightedBinaryCrossentropy",
    "IgnoredLabelKLDivergence",
    "GaussianMixtureCurveLoss",
    "MaskedStepLoss",
)

ALIASES = {
    "masked_sparse_ce": "MaskedSparseCategoricalCrossentropy",
    "masked_ce": "MaskedCategoricalCrossentropy",
    "pearson": "PearsonCorrelationLoss",
    "ccc": "ConcordanceCorrelationLoss",
    "bpmll": "BPMLLLoss",
    "class_weighted_ce": "ClassWeightedCrossentropy",
    "cost_sensitive_ce": "CostSensitiveCrossentropy",
    "weighted_bce": "WeightedBinaryCrossentropy",
    "ignored_label_kl": "IgnoredLabelKLDivergence",
    "gaussian_mixture_curve": "GaussianMixtureCurveLoss",
    "masked_step": "MaskedStepLoss",
}
