"""Bad input to `losskit run SPEC`: one line naming the file, key or column, a non-zero exit,
and nothing under the pipeline root touched — for every kind of mistake a spec can hold."""

import pytest
import yaml
from click.testing import CliRunner

from pipelines.cli import main

ROWS = [
    "kind,size,colour,empty",
    "a,1.0,red,",
    "b,2.0,blue,",
    "a,1.5,red,",
    "b,2.5,blue,",
]
BASE = {
    "name": "toy",
    "kind": "classification",
    "label": {"column": "kind"},
    "features": {"numeric": ["size"], "categorical": ["colour"]},
}


def _spec(tmp_path, rows=ROWS, **changes):
    data = tmp_path / "toy.csv"
    data.write_text("\n".join(rows) + "\n")
    spec = {**BASE, "data": str(data), **changes}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


@pytest.mark.parametrize(
    ("changes", "rows", "expected"),
    [
        (
            {"featurs": {"numeric": ["size"]}},
            ROWS,
            "unknown key 'featurs'; did you mean 'features'?",
        ),
        (
            {"label": {"colum": "kind"}},
            ROWS,
            "unknown key 'label.colum'; did you mean 'label.column'?",
        ),
        ({"features": {"numeric": ["sise"]}}, ROWS, "no column 'sise' (features.numeric)"),
        ({}, [ROWS[0], ROWS[1], ROWS[3]], "has a single class 'a'"),
        ({"features": {"numeric": ["size", "empty"]}}, ROWS, "'empty'"),
        ({"loss": "hubber"}, ROWS, "loss: Unknown loss 'hubber'"),
        (
            {"model": {"builder": "nosuchpackage.models.build"}},
            ROWS,
            "model.builder 'nosuchpackage.models.build' does not import",
        ),
        ({"kind": "tagging"}, ROWS, "kind tagging takes exactly one features.tokens column"),
    ],
)
def test_a_bad_spec_or_data_is_one_line_and_touches_nothing(tmp_path, changes, rows, expected):
    spec = _spec(tmp_path, rows, **changes)
    root = tmp_path / "root"
    result = CliRunner().invoke(main, ["run", spec, "--root", str(root)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    first = result.output.strip().splitlines()[0]
    assert first.startswith("Error: ") and expected in result.output, result.output
    assert not root.exists()


def test_check_names_the_bad_loss_without_running(tmp_path):
    result = CliRunner().invoke(main, ["check", _spec(tmp_path, loss="hubber")])
    assert result.exit_code != 0 and "did you mean 'huber'?" in result.output, result.output


def test_check_reports_a_good_spec(tmp_path):
    result = CliRunner().invoke(main, ["check", _spec(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "spec toy (classification) OK" in result.output and "4 rows" in result.output


@pytest.mark.parametrize("args", [["--help"], ["tasks"], ["check", "penguins"]])
def test_quick_commands_do_not_load_tensorflow(args):
    """They answer in about a second: TensorFlow alone takes ~10 s to import."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom pipelines.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
