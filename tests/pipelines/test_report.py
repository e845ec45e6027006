"""`losskit report` on a real penguins run, opened in headless Chromium through the DevTools
protocol: the numbers on the page are TFMA's, the page loads and runs cleanly, and a root
without an Evaluator output ends in one line. The tables and charts are also built from
synthetic metrics (no pipeline run): class names from loss.json, and a class a slice lacks
shown as absent rather than as TFMA's AUC of 0."""

import base64
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from pipelines import report as page
from pipelines import results
from pipelines.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK = os.path.join(REPO, "notebooks", "tfma_views.ipynb")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]
WINDOW_WIDTH = 1280

# Everything the assertions need, read from the rendered DOM inside the browser, within the
# penguins section: a root may hold other tasks' runs (the multitask test shares this one).
PROBE = """(() => {
const scope = document.querySelector('section[data-task="penguins"]') ?? document;
return JSON.stringify({
  tasks: Array.from(document.querySelectorAll("section[data-task]"), (s) => s.dataset.task),
  overall: Object.fromEntries(Array.from(
    scope.querySelectorAll('table[data-table="overall"] td[data-metric]'),
    (td) => [td.dataset.metric, {slice: td.dataset.slice, value: td.dataset.value,
                                 text: td.textContent}])),
  slices: Array.from(scope.querySelectorAll('table[data-table="slices"] tr[data-slice]'),
    (tr) => ({slice: tr.dataset.slice, count: tr.dataset.exampleCount,
              small: tr.dataset.small})),
  sliceColumns: Array.from(
    scope.querySelectorAll('table[data-table="slices"] th[data-metric]'), (th) => th.dataset.metric),
  checks: Array.from(scope.querySelectorAll('table[data-table="thresholds"] tr[data-slice]'),
    (tr) => ({slice: tr.dataset.slice, metric: tr.dataset.metric, kind: tr.dataset.kind,
              result: tr.dataset.result,
              value: tr.querySelector("td[data-value]")?.dataset.value})),
  blessed: scope.querySelector("[data-blessed]").dataset.blessed,
  charts: Array.from(scope.querySelectorAll("figure[data-chart]"), (f) => f.dataset.chart),
  images: Array.from(document.images, (img) => ({complete: img.complete,
                                                width: img.naturalWidth})),
  losses: Array.from(scope.querySelectorAll('table[data-table="loss"] tr[data-loss]'),
    (tr) => tr.dataset.loss),
});
})()"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium not found: install it with `apt-get install -y chromium`")


def devtools_port(profile, browser) -> str:
    """The port Chromium writes into its profile once DevTools listens."""
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 60
    while True:
        if os.path.exists(port_file):
            with open(port_file) as f:
                port = f.readline().strip()
            if port:
                return port
        assert browser.poll() is None, "chromium exited at start-up"
        assert time.monotonic() < deadline, "chromium did not open its DevTools port"
        time.sleep(0.1)


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page target."""

    def __init__(self, websocket_url):
        websocket = pytest.importorskip("websocket")
        # Chromium refuses DevTools connections that carry an Origin header it does not know.
        self.socket = websocket.create_connection(websocket_url, timeout=60, suppress_origin=True)
        self.events = []
        self.next_id = 0

    def send(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(method)
            self.events.append(json.loads(self.socket.recv()))

    def errors(self) -> list:
        """Uncaught exceptions, console.error/assert calls and browser-logged errors (CSP
        violations, failed loads)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description", details["text"]))
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found


def open_page(path, screenshot):
    """Load file `path` in headless Chromium; save a full-page PNG to `screenshot` and return
    (what PROBE reads from the DOM, console errors)."""
    binary = chromium()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    browser = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = devtools_port(profile, browser)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            target = next(t for t in json.load(r) if t["type"] == "page")
        page = DevTools(target["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            page.send(f"{domain}.enable")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=WINDOW_WIDTH,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        page.events.clear()  # about:blank's own load event must not count as the page's
        page.send("Page.navigate", url=f"file://{os.path.abspath(path)}")
        page.wait_for("Page.loadEventFired")
        probe = page.send("Runtime.evaluate", expression=PROBE, returnByValue=True)
        height = page.send("Page.getLayoutMetrics")["cssContentSize"]["height"]
        shot = page.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": WINDOW_WIDTH, "height": height, "scale": 1},
        )
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        page.socket.close()
        return json.loads(probe["result"]["value"]), page.errors()
    finally:
        browser.terminate()
        browser.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def evaluation(penguins_run):
    return results.evaluation(penguins_run.metadata_path, penguins_run.pipeline_name)


@pytest.fixture(scope="module")
def report(penguins_run, tmp_path_factory):
    """The page, written through the CLI as a user would."""
    path = str(tmp_path_factory.mktemp("report") / "report.html")
    outcome = CliRunner().invoke(main, ["report", penguins_run.root, "-o", path])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.strip() == f"report: {path}"
    return path


@pytest.fixture(scope="module")
def rendered(report):
    screenshot = os.path.join(os.path.dirname(report), "report.png")
    dom, errors = open_page(report, screenshot)
    assert "penguins" in dom["tasks"], dom["tasks"]
    return dom, errors, screenshot


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_per_class_auc_on_the_page_is_tfmas(rendered, evaluation):
    dom, _, _ = rendered
    expected = {k: v for k, v in evaluation.overall().items() if k.startswith("auc/classId:")}
    shown = {k: v for k, v in dom["overall"].items() if k.startswith("auc/classId:")}
    assert sorted(shown) == [f"auc/classId:{i}" for i in range(3)]
    for key, value in expected.items():
        assert shown[key]["slice"] == "Overall"
        assert float(shown[key]["value"]) == pytest.approx(value, abs=1e-12)
        assert shown[key]["text"] == f"{value:.4f}"
    assert "per-class" in dom["charts"]


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_both_decision_costs_on_the_page_are_tfmas(rendered, evaluation):
    """The shipped penguins spec sets label.costs: the page shows the mean cost of argmax
    decisions and of cost-aware ones, overall and in the slice table."""
    dom, _, _ = rendered
    overall = evaluation.overall()
    for key in ("decision_cost", "cost_aware_decision_cost"):
        assert float(dom["overall"][key]["value"]) == pytest.approx(overall[key], abs=1e-12)
        assert 0 <= overall[key] < 0.5  # a model that guessed would pay about 1.3 per example
    assert {"decision_cost", "cost_aware_decision_cost"} <= set(dom["sliceColumns"])


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_slice_table_has_every_island_and_flags_small_slices(rendered, evaluation):
    dom, _, _ = rendered
    rows = {row["slice"]: row for row in dom["slices"]}
    assert set(rows) == set(evaluation.metrics)
    assert {"island=Biscoe", "island=Dream", "island=Torgersen"} <= set(rows)
    for name, row in rows.items():
        count = evaluation.metrics[name]["example_count"]
        assert int(row["count"]) == count
        assert row["small"] == ("true" if count < 20 else "false")


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_blessing_and_the_thresholds_behind_it(rendered, evaluation):
    dom, _, _ = rendered
    assert dom["blessed"] == str(evaluation.blessed).lower()
    overall_checks = {c["metric"]: c["result"] for c in dom["checks"] if c["slice"] == "Overall"}
    # The penguins EvalConfig bounds each class's AUC and their macro mean on the overall slice.
    assert set(overall_checks) >= {"auc/macro", *(f"auc/classId:{i}" for i in range(3))}
    all_passed = all(c["result"] == "pass" for c in dom["checks"])
    assert all_passed == evaluation.validation_ok
    for check in dom["checks"]:  # the page names metrics and slices as results.evaluation does
        if check["kind"] == "value":
            expected = evaluation.metrics[check["slice"]][check["metric"]]
            assert float(check["value"]) == pytest.approx(expected, abs=1e-12)


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_charts_and_loss_render_without_console_errors(rendered):
    dom, errors, screenshot = rendered
    assert errors == []
    assert {"per-class", "curves", "training"} <= set(dom["charts"])
    assert dom["images"] and all(i["complete"] and i["width"] > 0 for i in dom["images"])
    assert dom["losses"] == ["ClassWeightedCrossentropy"]
    with open(screenshot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_page_is_self_contained(report):
    with open(report, encoding="utf-8") as f:
        page = f.read()
    assert "Content-Security-Policy" in page
    for attribute in ("src=", "href="):
        for value in page.split(attribute)[1:]:
            assert value[1:].startswith(("data:", "#")), value[:60]


def test_the_console_probe_sees_errors(tmp_path):
    """Guards the assertion above: a page with a blocked fetch, a console.error and an
    uncaught exception yields three errors."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><meta http-equiv="Content-Security-Policy" content="img-src data:">'
        '<p data-blessed="false"></p><img src="http://example.invalid/x.png">'
        '<script>console.error("boom"); undefinedFunction();</script>'
    )
    _, errors = open_page(str(page), str(tmp_path / "broken.png"))
    assert len(errors) == 3, errors
    assert any("Content Security Policy" in e for e in errors)
    assert "boom" in errors
    assert any("undefinedFunction" in e for e in errors)


def _mlmd_without_evaluation(root):
    """An ML Metadata database that knows the pipeline but holds no Evaluator output, as a
    run that stopped before the Evaluator leaves it."""
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = os.path.join(root, "metadata.sqlite")
    store = metadata_store.MetadataStore(config)
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name="losskit-penguins")])


@pytest.mark.parametrize("state", ["empty", "not evaluated"])
def test_root_without_evaluator_output_is_one_line(tmp_path, state):
    if state == "not evaluated":
        _mlmd_without_evaluation(tmp_path)
    outcome = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert outcome.exit_code != 0
    lines = outcome.output.strip().splitlines()
    assert len(lines) == 1, outcome.output
    assert "Traceback" not in outcome.output
    assert str(tmp_path) in lines[0] and "losskit run" in lines[0]
    expected = "no Evaluator output yet" if state == "not evaluated" else "no run here"
    assert expected in lines[0]


def test_notebook_is_valid_nbformat():
    nbformat = pytest.importorskip("nbformat")
    with open(NOTEBOOK, encoding="utf-8") as f:
        json.load(f)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            compile(cell.source, NOTEBOOK, "exec")


# --- tables and charts from synthetic metrics (no pipeline run) -------------------------------

PENGUINS = ["Adelie", "Chinstrap", "Gentoo"]


def _classified(shares: list, auc: float = 0.9, prefix: str = "") -> dict:
    """One slice of a 3-class task as `results.evaluation` keys it: per class AUC, PR-AUC and
    mean label (`shares`), their macro means, accuracy and the example count. Where a share is
    0 or 1, the class's AUCs are TFMA's 0.0 for a class the slice lacks."""
    values = {"example_count": 12.0, f"{prefix}accuracy": 0.75}
    for k, share in enumerate(shares):
        defined = 0 < share < 1
        values[f"{prefix}auc/classId:{k}"] = auc if defined else 0.0
        values[f"{prefix}pr_auc/classId:{k}"] = auc - 0.05 if defined else 0.0
        values[f"{prefix}mean_label/classId:{k}"] = share
    values[f"{prefix}auc/macro"] = sum(values[f"{prefix}auc/classId:{k}"] for k in range(3)) / 3
    values[f"{prefix}pr_auc/macro"] = 0.5
    return values


class _Cells(HTMLParser):
    """The <th>/<td> of an HTML fragment: their attributes and text."""

    def __init__(self, fragment):
        super().__init__()
        self.cells, self._open = [], None
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self._open = {"tag": tag, **dict(attrs), "text": ""}
            self.cells.append(self._open)

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


def _slice_cells(metrics, classes) -> dict:
    """{(slice, metric): td attributes} of the slice table."""
    return {
        (c["data-slice"], c["data-metric"]): c
        for c in _Cells(page._slices_html(metrics, classes)).cells
        if c["tag"] == "td" and "data-metric" in c
    }


def _column_heads(metrics, classes) -> dict:
    """{metric: th attributes} of the slice table's metric columns."""
    cells = _Cells(page._slices_html(metrics, classes)).cells
    return {c["data-metric"]: c for c in cells if c["tag"] == "th" and "data-metric" in c}


def _svg_texts(fragment: str) -> str:
    """The text of the SVG charts embedded in an HTML fragment."""
    svgs = [
        base64.b64decode(uri).decode("utf-8")
        for uri in fragment.split("data:image/svg+xml;base64,")[1:]
        for uri in [uri.split('"', 1)[0]]
    ]
    return "\n".join(svgs)


METRICS = {
    "Overall": _classified([0.45, 0.2, 0.35]),
    "island=Torgersen": _classified([1.0, 0.0, 0.0], auc=1.0),  # only Adelie
    "island=Dream": _classified([0.5, 0.5, 0.0]),  # no Gentoo
    "8x8/r4.c4=3": _classified([0.3, 0.3, 0.4]),  # every class
}


def test_auc_of_a_class_a_slice_lacks_is_absent_not_zero():
    cells = _slice_cells(METRICS, {"": PENGUINS})
    torgersen = {m: c for (s, m), c in cells.items() if s == "island=Torgersen"}
    assert torgersen["auc/classId:0"]["data-absent"] == "no negatives"
    for metric in ("auc/classId:1", "auc/classId:2", "pr_auc/classId:1", "pr_auc/classId:2"):
        cell = torgersen[metric]
        assert cell["class"] == "absent" and cell["text"] == "—", metric
        assert cell["data-absent"] == "no positives" and "data-value" not in cell
        assert float(cell["data-reported"]) == 0.0  # TFMA's number stays on the cell
        assert "no example of" in cell["title"] and "Undefined" in cell["title"]
    assert torgersen["auc/macro"]["data-absent"] == "a class is absent"
    assert "Chinstrap, Gentoo" in torgersen["auc/macro"]["title"]
    assert torgersen["pr_auc/macro"]["data-absent"] == "a class is absent"
    assert torgersen["accuracy"]["data-value"] == "0.75"  # not an AUC: shown as is
    dream = {m: c for (s, m), c in cells.items() if s == "island=Dream"}
    assert dream["auc/classId:2"]["data-absent"] == "no positives"
    assert float(dream["auc/classId:0"]["data-value"]) == pytest.approx(0.9)
    assert dream["auc/classId:0"]["class"] == "num"
    for (slice_name, metric), cell in cells.items():
        if slice_name in ("Overall", "8x8/r4.c4=3"):  # every class present: nothing absent
            assert "data-absent" not in cell, (slice_name, metric)
            assert cell["class"] == "num"


def test_mean_labels_are_tooltips_not_columns():
    heads = _column_heads(METRICS, {"": PENGUINS})
    assert not [m for m in heads if "mean_label" in m]
    assert list(heads) == [
        "accuracy",
        "auc/macro",
        "pr_auc/macro",
        *(f"auc/classId:{k}" for k in range(3)),
        *(f"pr_auc/classId:{k}" for k in range(3)),
    ]
    cell = _slice_cells(METRICS, {"": PENGUINS})[("Overall", "auc/classId:1")]
    assert float(cell["data-mean-label"]) == 0.2
    assert cell["title"] == "Chinstrap: 20.0% of the slice"


def test_class_names_head_columns_and_label_cells():
    heads = _column_heads(METRICS, {"": PENGUINS})
    for k, name in enumerate(PENGUINS):
        assert heads[f"auc/classId:{k}"]["text"] == f"auc · {name}"
        assert heads[f"auc/classId:{k}"]["data-class-name"] == name
        assert heads[f"pr_auc/classId:{k}"]["text"] == f"pr_auc · {name}"
    assert "data-class-name" not in heads["auc/macro"]
    cells = _slice_cells(METRICS, {"": PENGUINS})
    assert cells[("island=Dream", "auc/classId:2")]["data-class-name"] == "Gentoo"
    # Slice and feature names stay the user's own.
    assert cells[("8x8/r4.c4=3", "accuracy")]["data-slice"] == "8x8/r4.c4=3"
    rows = _Cells(page._slices_html(METRICS, {"": PENGUINS})).cells
    assert "8x8/r4.c4=3n < 20" in [c["text"] for c in rows if c.get("scope") == "row"]


def test_without_class_names_or_mean_labels_the_page_shows_ids_and_tfmas_numbers():
    """Runs older than loss.json's `classes` and the MeanLabel metric."""
    old = {
        name: {k: v for k, v in values.items() if "mean_label" not in k}
        for name, values in METRICS.items()
    }
    heads = _column_heads(old, {})
    assert heads["auc/classId:0"]["text"] == "auc/classId:0"
    assert not any("data-class-name" in head for head in heads.values())
    cells = _slice_cells(old, {})
    assert not any("data-absent" in cell or "data-class-name" in cell for cell in cells.values())
    assert cells[("island=Torgersen", "auc/classId:1")]["data-value"] == "0.0"
    assert page._classes(None) == page._classes({"loss": {}}) == {}
    # Class names but no mean labels: names, nothing absent.
    assert _column_heads(old, {"": PENGUINS})["auc/classId:0"]["text"] == "auc · Adelie"
    # Mean labels but no names: absent cells, tooltips that name the class by its id.
    torgersen = _slice_cells(METRICS, {})[("island=Torgersen", "auc/classId:1")]
    assert torgersen["data-absent"] == "no positives" and "class 1" in torgersen["title"]


def test_multitask_heads_are_named_by_their_own_class_lists():
    species = _classified([1.0, 0.0, 0.0], prefix="species/")
    slice_values = {**species, "body_mass/mean_squared_error": 0.3}
    metrics = {"Overall": _classified([0.4, 0.3, 0.3], prefix="species/"), "sex=F": slice_values}
    classes = {"species": PENGUINS}  # regression heads have no list
    heads = _column_heads(metrics, classes)
    assert heads["species/auc/classId:2"]["text"] == "species/auc · Gentoo"
    assert heads["body_mass/mean_squared_error"]["text"] == "body_mass/mean_squared_error"
    cells = _slice_cells(metrics, classes)
    assert cells[("sex=F", "species/auc/classId:1")]["data-absent"] == "no positives"
    assert cells[("sex=F", "species/auc/macro")]["data-absent"] == "a class is absent"
    assert cells[("sex=F", "body_mass/mean_squared_error")]["data-value"] == "0.3"
    # A class list for another head does not name this one's classes.
    assert "data-class-name" not in _column_heads(metrics, {"": PENGUINS})["species/auc/classId:0"]


def test_no_examples_at_all_is_absent_too():
    values = _classified([0.5, 0.5, 0.0])
    values["mean_label/classId:0"] = float("nan")
    absent = page._absent_classes(values)
    assert absent == {("", 0): "no examples", ("", 2): "no positives"}
    assert page._absence("auc/classId:0", absent) == "no examples"
    assert page._absence("auc/classId:1", absent) is None
    assert page._absence("mean_label/classId:0", absent) is None  # not an AUC
    assert page._absence("auc/micro", absent) is None  # pools the examples: defined


def test_overall_table_names_classes_and_marks_absent_labels():
    """A multi-label eval set in which label 2 is never set: its overall AUC is absent."""
    overall = _classified([0.3, 0.6, 0.0])
    rows = {
        c["data-metric"]: c
        for c in _Cells(page._overall_html(overall, {"": ["0", "1", "2"]})).cells
        if c["tag"] == "td"
    }
    assert rows["auc/classId:2"]["data-absent"] == "no positives"
    assert rows["auc/macro"]["data-absent"] == "a class is absent"
    assert rows["auc/classId:0"]["data-class-name"] == "0"
    assert float(rows["mean_label/classId:1"]["data-value"]) == 0.6


def test_per_class_bars_are_named_and_skip_absent_classes():
    overall = _classified([0.5, 0.5, 0.0])
    values = page._per_class_values(overall)
    assert set(values[""]) == {"auc", "pr_auc"}  # mean labels go in the tick labels
    assert values[""]["auc"][0] == pytest.approx(0.9)
    assert math.isnan(values[""]["auc"][2]) and math.isnan(values[""]["pr_auc"][2])
    fragment = page._per_class_html(overall, {"": PENGUINS})
    figure = _Cells(fragment.replace("<figure", "<td").replace("</figure>", "</td>")).cells[0]
    assert json.loads(figure["data-classes"]) == PENGUINS
    texts = _svg_texts(fragment)
    assert all(name in texts for name in PENGUINS) and "50%" in texts
    assert ">class<" in texts and "nan" not in texts
    assert "auc macro" not in texts  # the macro mean over an absent class is no line
    assert "auc macro 0.900" in _svg_texts(page._per_class_html(METRICS["Overall"], {}))
    fallback = _svg_texts(page._per_class_html(overall, {}))
    assert ">class id<" in fallback and "Adelie" not in fallback


def test_curve_legends_name_classes_and_leave_undefined_areas_out():
    overall = _classified([0.5, 0.5, 0.0])
    absent = page._absent_classes(overall)
    label = page._curve_label
    classes = {"": PENGUINS}
    assert label("classId:0", "auc", overall, absent, classes) == "Adelie (AUC 0.900)"
    assert label("classId:0", "pr_auc", overall, absent, classes) == "Adelie (PR-AUC 0.850)"
    assert label("classId:2", "auc", overall, absent, classes) == (
        "Gentoo (AUC undefined: no positives)"
    )
    assert label("classId:0", "auc", overall, absent, {}) == "classId:0 (AUC 0.900)"
    multitask = _classified([0.5, 0.5, 0.0], prefix="species/")
    assert (
        label("species/classId:1", "auc", multitask, {}, {"species": PENGUINS})
        == "species · Chinstrap (AUC 0.900)"
    )
    curve = {"fpr": [0, 1], "tpr": [0, 1], "recall": [0, 1], "precision": [1, 0]}
    texts = _svg_texts(
        page._curves_html({"classId:0": curve, "classId:2": curve}, overall, classes)
    )
    assert "Adelie (AUC 0.900)" in texts and "Gentoo (PR-AUC undefined: no positives)" in texts


def test_user_names_reach_the_page_literally():
    """Class names are the user's: escaped in HTML, drawn literally (no mathtext) in charts."""
    classes = {"": ["<b>", "$5 & up", "_other"]}
    html_text = page._slices_html(METRICS, classes)
    assert "<code>auc</code> · &lt;b&gt;" in html_text and "· <b>" not in html_text
    assert _column_heads(METRICS, classes)["auc/classId:0"]["data-class-name"] == "<b>"
    assert page._chart_text("$5 & up") == r"\$5 & up"
    assert page._chart_text("_other") == "\u200b_other"  # a legend drops `_` labels
    texts = _svg_texts(page._per_class_html(METRICS["Overall"], classes))
    assert "$5 &amp; up" in texts and "_other" in texts


def test_section_reads_class_names_from_loss_json():
    evaluation = results.Evaluation("/eval", True, True, METRICS)
    section = page.Section(
        task="penguins",
        evaluation=evaluation,
        checks=[],
        missing_slices=[],
        curves={},
        training={},
        loss={"task": "penguins", "loss": {}, "classes": {"": PENGUINS}},
        model_run="/run",
    )
    cells = _Cells(page._section_html(section)).cells
    named = {c["data-metric"]: c.get("data-class-name") for c in cells if "data-metric" in c}
    assert named["auc/classId:1"] == "Chinstrap"
    absent = [c for c in cells if c.get("data-absent")]
    assert {c["data-slice"] for c in absent} == {"island=Torgersen", "island=Dream"}
    assert "TFMA reports 0" in page._slices_html(METRICS, {})  # the note explains the —
