"""`losskit submit` against a local stand-in for the KFP 2 API (no cluster is reachable
here): the request must carry the compiled PipelineSpec and platform document unchanged,
the run service account, and no credentials."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from click.testing import CliRunner

from pipelines import kubeflow
from pipelines.cli import main
from pipelines.kubeflow_defaults import RUN_SERVICE_ACCOUNT


class _KfpStandIn(BaseHTTPRequestHandler):
    requests = []
    states = []  # what GET /runs/{id} answers, one state per call (the last one repeats)

    def _reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_GET(self):  # noqa: N802
        self._record()
        if self.path.startswith("/apis/v2beta1/healthz"):
            return self._reply({"multi_user": False})
        if self.path.startswith("/apis/v2beta1/experiments"):
            return self._reply({"experiments": [], "total_size": 0})
        if self.path.startswith("/apis/v2beta1/runs/run-42"):
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return self._reply({"run_id": "run-42", "state": state})
        return self._reply({})

    def do_POST(self):  # noqa: N802
        body = self._record()
        if self.path.startswith("/apis/v2beta1/experiments"):
            return self._reply({"experiment_id": "exp-1", "display_name": body["display_name"]})
        if self.path.startswith("/apis/v2beta1/runs"):
            return self._reply({"run_id": "run-42", "display_name": body["display_name"]})
        return self._reply({})

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_server():
    _KfpStandIn.requests = []
    _KfpStandIn.states = ["SUCCEEDED"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KfpStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _KfpStandIn.requests
    server.shutdown()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("submit") / "penguins.yaml"
    return kubeflow.compile_task("penguins", str(out), pipeline_root="gs://bucket/root")


def test_submit_sends_the_compiled_file(kfp_server, compiled, monkeypatch):
    monkeypatch.delenv("KF_PIPELINES_SA_TOKEN_PATH", raising=False)
    host, requests = kfp_server
    result = CliRunner().invoke(
        main, ["submit", compiled, "--host", host, "--experiment", "losskit-test"]
    )
    assert result.exit_code == 0, result.output
    assert "run-42" in result.output

    [run] = [r for r in requests if r[0] == "POST" and r[1].startswith("/apis/v2beta1/runs")]
    _, _, headers, body = run
    with open(compiled) as f:
        spec, platform = yaml.safe_load_all(f)
    assert body["pipeline_spec"]["pipeline_spec"] == spec
    assert body["pipeline_spec"]["platform_spec"] == platform
    assert body["experiment_id"] == "exp-1"
    assert body["service_account"] == RUN_SERVICE_ACCOUNT
    assert "Authorization" not in headers and "authorization" not in headers
    [experiment] = [r for r in requests if r[0] == "POST" and "experiments" in r[1]]
    assert experiment[3]["display_name"] == "losskit-test"


def test_submit_refuses_a_json_pipeline(tmp_path, kfp_server):
    bad = tmp_path / "pipeline.json"
    bad.write_text("{}")
    result = CliRunner().invoke(main, ["submit", str(bad), "--host", kfp_server[0]])
    assert result.exit_code != 0
    assert "yaml" in result.output and "Traceback" not in result.output
    assert not kfp_server[1], "nothing may reach the server"


def test_submit_prints_the_run_url(kfp_server, compiled):
    host, _ = kfp_server
    result = CliRunner().invoke(main, ["submit", compiled, "--host", host])
    assert result.exit_code == 0, result.output
    assert f"submitted run run-42: {host}/#/runs/details/run-42" in result.output


@pytest.mark.parametrize(("final", "code"), [("SUCCEEDED", 0), ("FAILED", 1)])
def test_wait_follows_the_run_to_its_end(kfp_server, compiled, final, code):
    host, requests = kfp_server
    _KfpStandIn.states = [final]
    result = CliRunner().invoke(main, ["submit", compiled, "--host", host, "--wait"])
    assert result.exit_code == code, result.output
    assert f"run run-42: {final}" in result.output
    if code:
        assert f"run run-42 ended FAILED: {host}/#/runs/details/run-42" in result.output


def test_wait_polls_until_the_state_is_final(kfp_server):
    from pipelines import submit as submitting

    host, requests = kfp_server
    _KfpStandIn.states = ["PENDING", "RUNNING", "RUNNING", "SUCCEEDED"]
    assert submitting.wait(host, "run-42", timeout=30, poll=0.01) == "SUCCEEDED"
    polls = [r for r in requests if r[0] == "GET" and r[1].startswith("/apis/v2beta1/runs/run-42")]
    assert len(polls) == 4
