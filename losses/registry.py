"""``get``: a loss from a name, an alias, an instance or a TFX custom_config dict.

Names resolve in this order: a losskit class or alias; a Keras built-in by class or function
name (``"Huber"``, ``"mse"``); a registered ``package>Name``
(``tf.keras.utils.register_keras_serializable``); a dotted path ``module.ClassName`` to a
``tf.keras.losses.Loss`` subclass, imported on demand.
"""

import functools
import importlib
import inspect

import tensorflow as tf

from losses import correlation, divergence, mixture, names, ranking, sequence, stepwise, weighted

_MODULES = (correlation, divergence, mixture, ranking, sequence, stepwise, weighted)
_CLASSES = {
    name: next(getattr(m, name) for m in _MODULES if hasattr(m, name)) for name in names.CLASSES
}
ALIASES = {alias: _CLASSES[name] for alias, name in names.ALIASES.items()}


@functools.cache
def _keras_classes_by_function() -> dict:
    """Keras's function names (``mse``) → the Loss class wrapping that function, read off the
    built-in classes themselves (each default instance holds its function as ``fn``)."""
    found = {}
    for value in vars(tf.keras.losses).values():
        if isinstance(value, type) and issubclass(value, tf.keras.losses.Loss):
            try:
                fn = getattr(value(), "fn", None)
            except TypeError:  # needs arguments: not a name users can give bare
                continue
            if fn is not None:
                found.setdefault(fn, value)
    return found


def _keras_class(name: str):
    """A Keras built-in loss class for a class or function name, else None."""
    cls = getattr(tf.keras.losses, name, None)
    if isinstance(cls, type) and issubclass(cls, tf.keras.losses.Loss):
        return cls
    try:
        fn = tf.keras.losses.get(name)
    except ValueError:
        return None
    return _keras_classes_by_function().get(fn)


def _dotted(name: str):
    module_name, _, attr = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"loss {name!r}: cannot import module {module_name!r} ({err})") from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, tf.keras.losses.Loss)):
        raise ValueError(f"loss {name!r}: {module_name} has no tf.keras.losses.Loss named {attr!r}")
    return cls


def _lookup(name):
    if isinstance(name, str):
        # Keras's registered form, as tf.keras.losses.serialize writes it.
        bare = name.removeprefix("losskit>")
        if bare in _CLASSES:
            return _CLASSES[bare]
        if name in ALIASES:
            return ALIASES[name]
        if ">" in name:
            registered = tf.keras.utils.get_registered_object(name)
            if isinstance(registered, type) and issubclass(registered, tf.keras.losses.Loss):
                return registered
        elif "." in name:
            return _dotted(name)
        else:
            keras = _keras_class(name)
            if keras is not None:
                return keras
    raise ValueError(
        f"Unknown loss {name!r}: not a losskit loss ({', '.join(sorted(_CLASSES))}; aliases"
        f" {', '.join(f'{alias} ({cls.__name__})' for alias, cls in ALIASES.items())}), a Keras"
        " loss (e.g. 'mse', 'Huber'), a registered 'package>Name' or a dotted path"
        " 'module.ClassName'."
    )


def loss_class(name):
    """The Loss class a name resolves to (ValueError naming the valid forms otherwise)."""
    return _lookup(name)


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
      :data:`ALIASES` (``"bpmll"``): the class with its default arguments; likewise a Keras
      built-in (``"mse"``, ``"Huber"``), a registered ``"package>Name"`` or a dotted path;
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
