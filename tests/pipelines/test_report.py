"""`losskit report` on a real penguins run, opened in headless Chromium through the DevTools
protocol: the numbers on the page are TFMA's, the page loads and runs cleanly, and a root
without an Evaluator output ends in one line."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest
from click.testing import CliRunner

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
