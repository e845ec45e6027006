"""The loss and model names a spec gives, checked without TensorFlow (`losskit check`).

losskit's loss names come from `losses/names.py` and Keras's from tf_keras's generated API
listing, both read as files: importing either package would load TensorFlow (~10 s). A
dotted path (a user's loss class or `build_model`) is checked for an importable module with
`importlib.util.find_spec`, which imports only its parent packages. `losskit run` resolves
everything for real before any component starts, so what passes here and still fails
there (a registered `package>Name`, a class missing from an existing module) stops the run
just as early.
"""

import ast
import difflib
import functools
import importlib.util
import os

from components import spec as spec_lib

# Exported by tf_keras.losses but not losses one can name in a spec.
_KERAS_NOT_LOSSES = {"Loss", "Reduction", "get", "serialize", "deserialize"}


def _package_file(package: str, *parts: str) -> str:
    found = importlib.util.find_spec(package)  # locates, does not execute, a top-level package
    return os.path.join(found.submodule_search_locations[0], *parts)


@functools.cache
def known_losses() -> frozenset:
    names = {}
    source = _package_file("losses", "names.py")
    spec = importlib.util.spec_from_file_location("_losskit_loss_names", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = set(module.CLASSES) | set(module.ALIASES) | {f"losskit>{c}" for c in module.CLASSES}
    listing = _package_file("tf_keras", "api", "_v2", "keras", "losses", "__init__.py")
    with open(listing, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return frozenset(names - _KERAS_NOT_LOSSES)


def _module_exists(dotted: str) -> bool:
    module = dotted.rpartition(".")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def problems(spec: spec_lib.TaskSpec) -> list[str]:
    """One line per loss name or model builder that cannot resolve."""
    losses = [("loss", spec.loss)] + [
        (f"heads.{i}.loss", head.loss) for i, head in enumerate(spec.heads or [])
    ]
    found = []
    for key, loss in losses:
        if loss is None or ">" in loss.name:
            continue
        if "." in loss.name:
            if not _module_exists(loss.name):
                found.append(
                    f"{key}: {loss.name!r} does not import (no module {loss.name.rpartition('.')[0]!r})"
                )
        elif loss.name not in known_losses():
            near = difflib.get_close_matches(loss.name, sorted(known_losses()), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            found.append(
                f"{key}: unknown loss {loss.name!r}{hint} (a losskit or Keras loss, a "
                "registered 'package>Name' or a dotted path 'module.ClassName')"
            )
    builder = spec.model.builder
    if builder and not _module_exists(builder):
        found.append(
            f"model.builder: {builder!r} does not import (no module {builder.rpartition('.')[0]!r})"
        )
    return found
