"""Task specs: the five shipped ones (`pipelines/specs/*.yaml`, over the embedded data) and
any file a user writes; where a spec's data lives; and the class lists TFMA needs up front.

TF-free: `losskit tasks` and `losskit check` import this.
"""

import glob
import os

from components import spec as spec_lib
from pipelines import profile

SPEC_DIR = os.path.join(os.path.dirname(__file__), "specs")


def shipped() -> dict[str, str]:
    """{task name: spec path} of the specs shipped in the package."""
    paths = sorted(glob.glob(os.path.join(SPEC_DIR, "*.yaml")))
    return {os.path.splitext(os.path.basename(p))[0]: p for p in paths}


def load(spec_or_task: str) -> spec_lib.TaskSpec:
    """A spec file's path, or the name of a shipped task."""
    if spec_or_task.endswith((".yaml", ".yml")) or os.path.sep in spec_or_task:
        return spec_lib.load(spec_or_task)
    tasks = shipped()
    if spec_or_task not in tasks:
        near = spec_lib._unknown("task", spec_or_task, list(tasks))
        raise spec_lib.SpecError(f"{near}, or the path of a spec file (.yaml)")
    return spec_lib.load(tasks[spec_or_task])


def embedded(spec: spec_lib.TaskSpec) -> str | None:
    """The embedded dataset a spec's `data: embedded:<name>` names, else None."""
    if spec.data and spec.data.startswith(spec_lib.EMBEDDED_PREFIX):
        return spec.data.removeprefix(spec_lib.EMBEDDED_PREFIX)
    return None


def format_of(name: str) -> str:
    """ExampleGen's input format from a file name or pattern: csv or tfrecord."""
    fmt = profile.file_format(name)
    if fmt not in ("csv", "tfrecord"):
        raise ValueError(
            f"data {name}: cannot tell the format from the name; name CSV files .csv and "
            "TFRecord files .tfrecord, .tfrecords or .gz"
        )
    return fmt


def example_gen_input(data: str) -> tuple[str, str, str]:
    """(input_base, file pattern, format) for ExampleGen from a file, a glob or a directory.

    A local directory takes every data file in it (`pipelines.profile.resolve`); remote
    (gs://, s3://) data is given as a file or a glob, since it is not listed here."""
    magic = min((i for i, ch in enumerate(data) if ch in "*?["), default=None)
    if magic is not None:
        base = data[: data.rfind("/", 0, magic) + 1].rstrip("/") or "."
        pattern = data[len(base) :].lstrip("/")
        return base, pattern, format_of(pattern)
    if "://" not in data and os.path.isdir(data):
        files, fmt = profile.resolve(data)
        known = (".csv", ".tfrecords.gz", ".tfrecord.gz", ".tfrecords", ".tfrecord", ".gz")
        suffixes = {next(k for k in known if f.lower().endswith(k)) for f in files}
        if len(suffixes) != 1:
            raise ValueError(
                f"data {data}: the files end in {', '.join(sorted(suffixes))}; give them one "
                "suffix or point data at a glob"
            )
        return data.rstrip("/"), f"*{suffixes.pop()}", fmt
    return os.path.dirname(data) or ".", os.path.basename(data), format_of(data)


def with_classes(spec: spec_lib.TaskSpec, label_values) -> spec_lib.TaskSpec:
    """The spec with every classification label's (and head's, and tagging's) `classes`
    filled in from the data, where the spec leaves them out.

    `label_values(column)` returns the distinct values of a column (for tagging, of its
    lists). TFMA's one-vs-rest metrics need the class count when the pipeline is built, and
    explicit classes make the ids the same in Transform, Trainer, TFMA and the report:
    integers in numeric order, anything else in text order.
    """
    raw = spec.model_dump()
    changed = False
    if spec.kind in ("classification", "tagging") and spec.label.classes is None:
        raw["label"]["classes"] = _ordered(label_values(spec.label.column))
        changed = True
    for head, raw_head in zip(spec.heads or [], raw.get("heads") or [], strict=True):
        if head.kind == "classification" and head.classes is None:
            raw_head["classes"] = _ordered(label_values(head.column))
            changed = True
    return spec_lib.parse(raw, source=spec.name) if changed else spec


def _ordered(values) -> list:
    values = {v for v in values if v not in ("", None)}
    try:
        return sorted(int(v) for v in values)
    except (TypeError, ValueError):
        return sorted(str(v) for v in values)


def with_classes_from(spec: spec_lib.TaskSpec, found: profile.DataProfile) -> spec_lib.TaskSpec:
    """`with_classes` reading the classes from profiled data."""
    from pipelines.contracts import class_values

    return with_classes(spec, lambda column: class_values(found, column))
