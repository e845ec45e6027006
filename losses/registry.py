"""``get``: a losskit loss from a name, an alias, an instance or a TFX custom_config dict."""

import inspect

import tensorflow as tf

from losses.correlation import ConcordanceCorrelationLoss, PearsonCorrelationLoss
from losses.divergence import IgnoredLabelKLDivergence
from losses.mixture import GaussianMixtureCurveLoss
from losses.ranking import BPMLLLoss
from losses.sequence import MaskedCategoricalCrossentropy, MaskedSparseCategoricalCrossentropy
from losses.weighted import ClassWeightedCrossentropy, WeightedBinaryCrossentropy

_CLASSES = {
    cls.__name__: cls
    for cls in (
        MaskedSparseCategoricalCrossentropy,
        MaskedCategoricalCrossentropy,
        PearsonCorrelationLoss,
        ConcordanceCorrelationLoss,
        BPMLLLoss,
        ClassWeightedCrossentropy,
        WeightedBinaryCrossentropy,
        IgnoredLabelKLDivergence,
        GaussianMixtureCurveLoss,
    )
}

ALIASES = {
    "masked_sparse_ce": MaskedSparseCategoricalCrossentropy,
    "masked_ce": MaskedCategoricalCrossentropy,
    "pearson": PearsonCorrelationLoss,
    "ccc": ConcordanceCorrelationLoss,
    "bpmll": BPMLLLoss,
    "class_weighted_ce": ClassWeightedCrossentropy,
    "weighted_bce": WeightedBinaryCrossentropy,
    "ignored_label_kl": IgnoredLabelKLDivergence,
    "gaussian_mixture_curve": GaussianMixtureCurveLoss,
}


def _lookup(name):
    if isinstance(name, str):
        # Keras's registered form, as tf.keras.losses.serialize writes it.
        bare = name.removeprefix("losskit>")
        if bare in _CLASSES:
            return _CLASSES[bare]
        if name in ALIASES:
            return ALIASES[name]
    raise ValueError(
        f"Unknown losskit loss {name!r}. Valid names: {', '.join(sorted(_CLASSES))}."
        f" Aliases: {', '.join(f'{alias} ({cls.__name__})' for alias, cls in ALIASES.items())}."
    )


def _build(name, params):
    cls = _lookup(name)
    if not isinstance(params, dict):
        raise ValueError(f"`params` for {cls.__name__} must be a dict; got {params!r}.")
    signature = inspect.signature(cls)
    try:
        signature.bind(**params)
    except TypeError as error:
        raise ValueError(
            f"{cls.__name__}: bad `params` {sorted(params)} ({error});"
            f" it accepts {list(signature.parameters)}."
        ) from None
    return cls(**params)


def get(identifier):
    """A loss instance from any of the forms pipelines carry.

    - a class name (``"BPMLLLoss"``, or the registered ``"losskit>BPMLLLoss"``) or an alias from
      :data:`ALIASES` (``"bpmll"``): the class with its default arguments;
    - ``{"name": <name or alias>, "params": {...}}``, the TFX Trainer custom_config form: the
      class built with those arguments (``params`` may be omitted);
    - a ``tf.keras.losses.Loss`` instance: returned as is.

    Unknown names raise ValueError listing the valid names and aliases; missing or unexpected
    arguments raise ValueError naming the class and what it accepts.
    """
    if isinstance(identifier, tf.keras.losses.Loss):
        return identifier
    if isinstance(identifier, str):
        return _build(identifier, {})
    if isinstance(identifier, dict):
        extra = set(identifier) - {"name", "params"}
        if "name" not in identifier or extra:
            raise ValueError(
                'A loss dict must look like {"name": ..., "params": {...}};'
                f" got keys {sorted(identifier)}."
            )
        return _build(identifier["name"], identifier.get("params", {}))
    raise ValueError(
        "A loss must be a name, an alias, a tf.keras.losses.Loss or"
        f' {{"name": ..., "params": {{...}}}}; got {identifier!r}.'
    )
