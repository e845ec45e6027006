"""Harness: run a preprocessing_fn through real tf.Transform on Beam's in-process DirectRunner.

Rows go in as serialized tf.Examples read through TFXIO with a schema, as TFX's Transform
feeds them; the transformed rows come back in input order, with the written transform
output and the same examples parsed back for serving-time checks.
"""

import csv
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils
from tfx_bsl.public import tfxio

ROW_KEY = "row"  # passed through the transform so rows can be matched to their input


@dataclass
class TransformRun:
    rows: list[dict[str, np.ndarray]]  # transformed rows, in input order
    output: tft.TFTransformOutput
    serialized: list[bytes]  # the input tf.Examples
    feature_spec: dict  # the raw feature spec, ROW_KEY included
    ragged: tuple[str, ...]  # features read as tf.RaggedTensor

    def example(self, row: dict) -> bytes:
        """A serialized raw tf.Example outside the analysed data."""
        return to_example({**row, ROW_KEY: -1}, self.feature_spec)

    def serve(self, serialized: list[bytes] | None = None, drop=()) -> dict[str, np.ndarray]:
        """The transform graph applied to raw examples (default: the input ones) as at
        serving time: serialized tf.Example → tf.io.parse_example → transform layer.
        `drop` leaves raw features out of the parse, as serving leaves out labels."""
        examples = self.serialized if serialized is None else serialized
        # Parse into the tensor forms the analysis saw: the saved graph's signature has them.
        parse_spec = {
            name: tf.io.RaggedFeature(spec.dtype, row_splits_dtype=tf.int64)
            if name in self.ragged
            else spec
            for name, spec in self.feature_spec.items()
            if name not in drop
        }
        parsed = tf.io.parse_example(tf.constant(examples), parse_spec)
        outputs = self.output.transform_features_layer()(parsed)
        return {name: np.asarray(value) for name, value in outputs.items()}

    def output_spec(self) -> dict:
        """The transformed feature spec the Trainer reads, without the harness's ROW_KEY."""
        spec = self.output.transformed_feature_spec()
        del spec[ROW_KEY]
        return spec

    def column(self, name: str) -> np.ndarray:
        return np.stack([row[name] for row in self.rows])

    def assert_serving_matches(self) -> None:
        """Every output of the serving-time graph equals the analyze-and-transform run's."""
        served = self.serve()
        assert set(served) == set(self.rows[0])
        for name, value in served.items():
            if value.dtype.kind in "OSU":
                np.testing.assert_array_equal(value, self.column(name), err_msg=name)
            else:
                np.testing.assert_allclose(value, self.column(name), rtol=1e-6, err_msg=name)


def to_example(row: dict, feature_spec: dict) -> bytes:
    """{name: scalar | list | None} → serialized tf.Example; None = feature absent."""
    features = {}
    for name, value in row.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        dtype = feature_spec[name].dtype
        if dtype == tf.string:
            lists = {"bytes_list": tf.train.BytesList(value=[v.encode() for v in values])}
        elif dtype == tf.float32:
            lists = {"float_list": tf.train.FloatList(value=values)}
        else:
            lists = {"int64_list": tf.train.Int64List(value=values)}
        features[name] = tf.train.Feature(**lists)
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _schema(feature_spec: dict, ragged: tuple[str, ...]):
    schema = schema_utils.schema_from_feature_spec(feature_spec)
    group = schema.tensor_representation_group[""]
    for name in ragged:
        step = group.tensor_representation[name].ragged_tensor.feature_path.step
        step.append(name)
    return schema


@pytest.fixture
def run_transform(tmp_path):
    """run_transform(preprocessing_fn, rows, feature_spec, ragged=()) → TransformRun.

    `feature_spec` is the raw feature spec (VarLenFeature → tf.SparseTensor); names in
    `ragged` are read as tf.RaggedTensor instead.
    """

    def run(preprocessing_fn, rows, feature_spec, ragged=()):
        rows = [{**row, ROW_KEY: index} for index, row in enumerate(rows)]
        feature_spec = {**feature_spec, ROW_KEY: tf.io.FixedLenFeature([], tf.int64)}
        serialized = [to_example(row, feature_spec) for row in rows]
        source = tfxio.TFExampleBeamRecord(
            physical_format="inmem",
            telemetry_descriptors=["test"],
            schema=_schema(feature_spec, tuple(ragged)),
        )

        def with_row(inputs):
            return {**preprocessing_fn(inputs), ROW_KEY: inputs[ROW_KEY]}

        output_dir = tmp_path / "transform_output"
        rows_path = tmp_path / "rows.tfrecord"
        with tft_beam.Context(temp_dir=str(tmp_path / "tmp")):
            with beam.Pipeline() as pipeline:
                raw = (
                    pipeline
                    | beam.Create(serialized, reshuffle=False)
                    | source.BeamSource(batch_size=len(serialized))
                )
                (transformed, _), transform_fn = (
                    raw,
                    source.TensorAdapterConfig(),
                ) | tft_beam.AnalyzeAndTransformDataset(with_row)
                _ = transform_fn | tft_beam.WriteTransformFn(str(output_dir))
                _ = (
                    transformed
                    | beam.Map(pickle.dumps)
                    | beam.io.WriteToTFRecord(str(rows_path), shard_name_template="")
                )
        records = tf.data.TFRecordDataset(str(rows_path)).as_numpy_iterator()
        transformed_rows = sorted(
            (pickle.loads(record) for record in records), key=lambda row: int(row[ROW_KEY])
        )
        return TransformRun(
            rows=transformed_rows,
            output=tft.TFTransformOutput(str(output_dir)),
            serialized=serialized,
            feature_spec=feature_spec,
            ragged=tuple(ragged),
        )

    return run


def penguins_csv_path() -> Path:
    """palmerpenguins' CSV, found without importing the package (its import needs pkg_resources)."""
    spec = importlib.util.find_spec("palmerpenguins")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "penguins.csv"


PENGUIN_TYPES = {
    "species": str,
    "island": str,
    "bill_length_mm": float,
    "bill_depth_mm": float,
    "flipper_length_mm": float,
    "body_mass_g": float,
    "sex": str,
    "year": int,
}


@pytest.fixture(scope="session")
def penguin_rows() -> list[dict]:
    """The penguins CSV as rows of typed values, None where the CSV says NA."""
    with penguins_csv_path().open(newline="") as handle:
        return [
            {
                name: None if row[name] == "NA" else kind(row[name])
                for name, kind in PENGUIN_TYPES.items()
            }
            for row in csv.DictReader(handle)
        ]


@pytest.fixture(scope="session")
def penguin_spec(penguin_rows) -> dict:
    """The raw feature spec SchemaGen(infer_feature_shape=True) gives the penguins CSV.

    Columns present in every row are FixedLen [1] (dense (B, 1)); columns missing somewhere
    are VarLen (tf.SparseTensor).
    """
    dtypes = {str: tf.string, float: tf.float32, int: tf.int64}
    return {
        name: tf.io.FixedLenFeature([1], dtypes[kind])
        if all(row[name] is not None for row in penguin_rows)
        else tf.io.VarLenFeature(dtypes[kind])
        for name, kind in PENGUIN_TYPES.items()
    }
