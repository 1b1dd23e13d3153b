"""Dataflow, proven offline.

Google Cloud cannot be reached from here, so these tests check everything up
to the service's front door, and the driver's side of what comes back:

* the Dataflow job for the demo config is built offline (docs/dataflow.md,
  "Templates and dry runs": `--template_location` at a local file, local
  temp and staging folders, `--dataflow_endpoint=http://localhost:9`,
  `--no_auth`):
  its graph names our transforms with the config's gs:// paths inside, the
  setup package is staged as workflow.tar.gz with heads/ and pipeline/ in
  it, and the GPU variant carries the accelerator service option, the
  container image, the machine type and the experiment;
* a submitted (not templated) job goes to a stand-in for the Dataflow API
  on localhost that runs the staged graph in-process: the driver reads the
  job's counts, writes run.json and commits the report; a job that ends
  CANCELLED leaves none;
* the sdist Beam stages installs into a fresh virtualenv and `headeval demo`
  runs from there, outside the checkout (what a worker does with it);
* `headeval run` and `headeval show` read the config and records and write
  the report through Beam's filesystem layer with a non-local filesystem
  (`fakegs://`, tests/support/fake_object_store.py): the code path gs://
  takes, with the numbers of a local run.

Beam ships no in-memory filesystem, and its GCS filesystem cannot be pointed
at a fake server offline (without network a gs:// call hangs 120 s in
retries), so the object-store tests use a FileSystem subclass registered in
the process: it works with the in-process FnApiRunner (the CLI's default),
not with `--direct_running_mode=multi_processing`, whose worker processes
would not have the scheme registered.

The `e2e` tests build jobs and run pipelines (about 80 s together on 2
cores); `pytest -m "not e2e"` keeps the fast checks.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import types

import pytest
import yaml

from pipeline.runtime import dataflow
from pipeline.config import load_config
from pipeline.errors import ConfigError, HeadevalError, JobNotFinishedError

from tests.support import REPO  # noqa: E402
DEMO_CONFIG = os.path.join(REPO, "configs", "demo.yaml")
DEMO_DATA = os.path.join(REPO, "pipeline", "data")

BUCKET = "gs://headeval-test-bucket"
GPU_IMAGE = "us-central1-docker.pkg.dev/my-project/headeval/headeval-gpu:0.1.0"
ACCELERATOR = "worker_accelerator=type:nvidia-tesla-t4;count:1;install-nvidia-driver"
# The transforms pipeline/run.py names (build_pipeline), and ReadBatches' steps.
EXPECTED_TRANSFORMS = ("Read", "Read/Pattern", "Read/Match", "Read/Spread", "Read/ReadFiles",
                       "Evaluate", "MergePerSlice", "GatherSlices", "WriteReport", "SumCounts",
                       "WriteCounts")


def _env(**extra):
    env = dict(os.environ)
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}, **extra)
    return env


def _run(cmd, cwd, env=None, timeout=180):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env or _env(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail("%s exited with %d\n--- stdout ---\n%s\n--- stderr ---\n%s"
                    % (" ".join(map(str, cmd)), proc.returncode, proc.stdout[-4000:],
                       proc.stderr[-6000:]), pytrace=False)
    return proc


# -- fast checks: pipeline/runtime/dataflow.py --------------------------------------------

def _options(*argv):
    from apache_beam.options.pipeline_options import PipelineOptions
    return PipelineOptions(list(argv))


@pytest.fixture(scope="module")
def demo_config():
    return load_config(DEMO_CONFIG)


def _remote(config, prefix=BUCKET + "/demo"):
    import dataclasses
    return dataclasses.replace(config, input=dataclasses.replace(
        config.input, pattern=prefix + "/demo.tfrecord.gz"))


@pytest.mark.parametrize("runner, expected", [
    ("DataflowRunner", True), ("dataflow", True), ("TestDataflowRunner", True),
    ("apache_beam.runners.dataflow.dataflow_runner.DataflowRunner", True),
    ("FnApiRunner", False), ("DirectRunner", False), (None, False)])
def test_is_dataflow(runner, expected):
    argv = ["--runner=%s" % runner] if runner else []
    assert dataflow.is_dataflow(_options(*argv)) is expected


def test_local_paths_are_refused_on_dataflow(demo_config, tmp_path):
    options = _options("--runner=DataflowRunner", "--setup_file=%s/setup.py" % REPO)
    with pytest.raises(ConfigError) as e:
        dataflow.check_dataflow_run(demo_config, str(tmp_path / "report"), options)
    message = str(e.value)
    assert "gs://" in message and "Cloud Storage" in message
    assert "`input.pattern`" in message and demo_config.input.pattern in message
    assert "report folder" in message and str(tmp_path / "report") in message
    # Only the output left local: only it is named.
    with pytest.raises(ConfigError) as e:
        dataflow.check_dataflow_run(_remote(demo_config), "out/report", options)
    assert "input.pattern" not in str(e.value) and "out/report" in str(e.value)
    # Everything remote: fine.
    dataflow.check_dataflow_run(_remote(demo_config), BUCKET + "/reports/demo", options)


def test_model_and_transform_paths_are_checked(demo_config):
    import dataclasses
    from pipeline.config import ModelConfig, TransformConfig
    config = dataclasses.replace(_remote(demo_config),
                                 model=ModelConfig(saved_model="/models/m"),
                                 baseline=ModelConfig(saved_model="/models/b"),
                                 transform=TransformConfig(tft_output="tft/out"))
    with pytest.raises(ConfigError) as e:
        dataflow.check_dataflow_run(config, BUCKET + "/r", _options(
            "--runner=DataflowRunner", "--sdk_container_image=img"))
    assert "`model.saved_model`" in str(e.value) and "/models/m" in str(e.value)
    assert "`baseline.saved_model`" in str(e.value) and "/models/b" in str(e.value)
    assert "`transform.tft_output`" in str(e.value) and "tft/out" in str(e.value)


def test_other_runners_may_use_local_paths(demo_config, tmp_path):
    dataflow.check_dataflow_run(demo_config, str(tmp_path), _options("--runner=FnApiRunner"))
    dataflow.check_dataflow_run(demo_config, str(tmp_path), _options())


def test_dataflow_needs_our_code_on_the_workers(demo_config):
    config, out = _remote(demo_config), BUCKET + "/r"
    with pytest.raises(HeadevalError) as e:
        dataflow.check_dataflow_run(config, out, _options("--runner=DataflowRunner"))
    assert "--setup_file=%s" % os.path.join(REPO, "setup.py") in str(e.value)
    for flag in ("--setup_file=./setup.py", "--extra_package=dist/headeval-0.1.0.tar.gz",
                 "--sdk_container_image=" + GPU_IMAGE):
        dataflow.check_dataflow_run(config, out, _options("--runner=DataflowRunner", flag))


def test_builds_job_only():
    assert dataflow.builds_job_only(_options(
        "--runner=DataflowRunner", "--template_location=/tmp/t.json")) == "template"
    assert dataflow.builds_job_only(_options("--runner=DataflowRunner", "--dry_run=True")) \
        == "dry_run"
    assert dataflow.builds_job_only(_options("--runner=DataflowRunner")) is None
    assert dataflow.builds_job_only(_options("--runner=FnApiRunner",
                                             "--template_location=/tmp/t.json")) is None


def test_check_finished():
    dataflow.check_finished(types.SimpleNamespace(state="DONE"))
    dataflow.check_finished(object())  # a result without a state: nothing to check
    with pytest.raises(JobNotFinishedError) as e:
        dataflow.check_finished(types.SimpleNamespace(state="CANCELLED", job_id=lambda: "j-1"))
    assert "j-1" in str(e.value) and "CANCELLED" in str(e.value) and e.value.state == "CANCELLED"


def test_dockerfile_matches_the_pins():
    """containers/Dockerfile: the Beam base image of the installed Beam, and
    the TensorFlow pin inside pyproject.toml's range."""
    from importlib.metadata import version
    import apache_beam
    text = open(os.path.join(REPO, "containers", "Dockerfile")).read()
    base = re.search(r"^FROM apache/beam_python(\d+\.\d+)_sdk:(\S+)$", text, re.M)
    assert base, "containers/Dockerfile must start FROM apache/beam_pythonX.Y_sdk:VERSION"
    assert base.group(2) == apache_beam.__version__
    pin = re.search(r'^ARG TENSORFLOW="tensorflow\[and-cuda\]==(\S+)"$', text, re.M)
    assert pin and pin.group(1).split(".")[:2] == version("tensorflow").split(".")[:2]
    pyproject = open(os.path.join(REPO, "pyproject.toml")).read()
    assert '"tensorflow>=%s,<' % ".".join(pin.group(1).split(".")[:2]) in pyproject


def test_cli_refuses_local_paths_on_dataflow(capsys):
    """`headeval run configs/demo.yaml --runner=DataflowRunner`: exit 1 and an
    error naming what to move to Cloud Storage, before any job is built."""
    from pipeline import cli
    code = cli.main(["run", DEMO_CONFIG, "--output", "out/x", "--runner=DataflowRunner",
                     "--project=my-project", "--region=us-central1",
                     "--temp_location=%s/tmp" % BUCKET, "--setup_file=./setup.py"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("headeval run: error: the DataflowRunner's workers cannot read")
    assert "`input.pattern`" in err and "gs://" in err and "Traceback" not in err


def test_dry_run_builds_the_job_and_writes_nothing(tmp_path):
    """--dry_run=True: Beam builds the Dataflow job and submits nothing (a
    gs:// temp location is fine: nothing is staged); run_pipeline returns
    the summary instead of failing on the counts file."""
    from pipeline.run import run_pipeline
    config = load_config(_remote_demo_config(tmp_path))
    summary = run_pipeline(config, config.output, beam_argv=[
        "--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
        "--temp_location=%s/tmp" % BUCKET, "--dry_run=True", "--no_auth",
        "--dataflow_endpoint=http://localhost:9", "--sdk_container_image=" + GPU_IMAGE])
    assert summary["job"] == "dry_run" and summary["report_written"] is False
    assert summary["output"] == BUCKET + "/reports/demo"
    assert os.listdir(tmp_path) == ["demo-gcs.yaml"]


# -- the Dataflow job, built offline ----------------------------------------------

def _remote_demo_config(folder, saved_models=False):
    """configs/demo.yaml with its input and output on gs://; with
    `saved_models`, its candidate and baseline are two SavedModels there."""
    with open(DEMO_CONFIG) as f:
        data = yaml.safe_load(f)
    data["input"]["pattern"] = BUCKET + "/demo/demo.tfrecord.gz"
    data["output"] = BUCKET + "/reports/demo"
    if saved_models:
        outputs = dict(data["model"]["logits"])
        data["model"] = {"saved_model": BUCKET + "/models/candidate", "output": outputs,
                         "device": "gpu"}
        data["baseline"] = {"saved_model": BUCKET + "/models/baseline", "output": outputs,
                            "device": "gpu", "batch_size": 512}
    path = folder / "demo-gcs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _offline_flags(folder):
    for name in ("temp", "staging"):
        (folder / name).mkdir()
    return ["--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
            "--temp_location=%s" % (folder / "temp"),
            "--staging_location=%s" % (folder / "staging"),
            "--template_location=%s" % (folder / "job.json"),
            "--dataflow_endpoint=http://localhost:9", "--no_auth",
            "--setup_file=%s" % os.path.join(REPO, "setup.py")]


def _read_job(folder):
    """(job JSON, the pipeline proto it points to, {transform name: transform})."""
    from apache_beam.portability.api import beam_runner_api_pb2
    with open(folder / "job.json") as f:
        job = json.load(f)
    proto = beam_runner_api_pb2.Pipeline()
    with open(job["environment"]["sdkPipelineOptions"]["options"]["pipelineUrl"], "rb") as f:
        proto.ParseFromString(f.read())
    transforms = {t.unique_name: t for t in proto.components.transforms.values()}
    return job, proto, transforms


def _dofn(transform):
    """The DoFn a ParDo transform of the pipeline proto runs (unpickled)."""
    from apache_beam.internal import pickler
    from apache_beam.portability.api import beam_runner_api_pb2
    payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
    fn = pickler.loads(payload.do_fn.payload)
    return fn[0] if isinstance(fn, tuple) else fn


def _check_job(folder, job, proto, transforms):
    missing = [n for n in EXPECTED_TRANSFORMS if n not in transforms]
    assert not missing, "transforms missing from the job: %s (has %s)" % (
        missing, sorted(transforms))
    # The DoFns travel with the config's gs:// paths, unchanged.
    evaluate = _dofn(transforms["Evaluate/ParDo(EvaluateBatches)"])
    assert type(evaluate).__name__ == "EvaluateBatches"
    assert evaluate._config.input.pattern == BUCKET + "/demo/demo.tfrecord.gz"
    write_report = next(_dofn(t) for name, t in transforms.items()
                        if name.startswith("WriteReport")
                        and t.spec.urn == "beam:transform:pardo:v1")
    assert write_report._folder == BUCKET + "/reports/demo"
    # The setup package is staged and named in the job and in the environment.
    pool = job["environment"]["workerPools"][0]
    packages = {p["name"]: p["location"] for p in pool["packages"]}
    assert packages.get("workflow.tar.gz") == str(folder / "staging" / "workflow.tar.gz")
    staged = [d.role_payload for env in proto.components.environments.values()
              for d in env.dependencies]
    assert any(b"workflow.tar.gz" in p for p in staged)
    with tarfile.open(folder / "staging" / "workflow.tar.gz") as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for name in ("setup.py", "pyproject.toml", "heads/__init__.py", "pipeline/run.py",
                 "pipeline/runtime/dataflow.py", "pipeline/data/demo.yaml",
                 "pipeline/data/demo.tfrecord.gz"):
        assert name in names, "%s is not in the staged workflow.tar.gz" % name
    return pool


@pytest.mark.e2e
def test_dataflow_job_builds_offline_cpu(tmp_path):
    """`headeval run CONFIG --runner=DataflowRunner ... --setup_file=./setup.py`
    through the CLI: the template is written, no report, exit 0."""
    config = _remote_demo_config(tmp_path)
    proc = _run([sys.executable, "-m", "pipeline", "run", config, *_offline_flags(tmp_path)],
                cwd=REPO, env=_env(PYTHONPATH=REPO), timeout=150)
    assert "Dataflow template written to %s" % (tmp_path / "job.json") in proc.stderr
    assert "no report was written" in proc.stderr
    job, proto, transforms = _read_job(tmp_path)
    pool = _check_job(tmp_path, job, proto, transforms)
    assert job["type"] == "JOB_TYPE_BATCH"
    options = job["environment"]["sdkPipelineOptions"]["options"]
    assert options["project"] == "my-project" and options["region"] == "us-central1"
    assert not options.get("dataflow_service_options")
    assert "use_multiple_sdk_containers" in job["environment"]["experiments"]
    # Beam's default container for this Beam and Python.
    import apache_beam
    assert pool["workerHarnessContainerImage"].endswith(
        "beam_python%d.%d_sdk:%s" % (sys.version_info[:2] + (apache_beam.__version__,)))


@pytest.mark.e2e
def test_dataflow_job_builds_offline_gpu(tmp_path):
    """The GPU command line of docs/dataflow.md ("GPU workers"), in-process,
    for a candidate and a baseline SavedModel (issue 18): run_pipeline
    returns a summary (no run.json, nothing written); the job's evaluation
    DoFn carries both models' gs:// paths (the workers load them: nothing
    is loaded while the job is built)."""
    from pipeline.run import run_pipeline
    config = load_config(_remote_demo_config(tmp_path, saved_models=True))
    argv = _offline_flags(tmp_path) + [
        "--sdk_container_image=%s" % GPU_IMAGE, "--dataflow_service_options=%s" % ACCELERATOR,
        "--machine_type=n1-standard-8", "--experiments=no_use_multiple_sdk_containers",
        "--max_num_workers=4"]
    summary = run_pipeline(config, config.output, beam_argv=argv)
    assert summary["report_written"] is False and summary["job"] == "template"
    assert summary["template_location"] == str(tmp_path / "job.json")
    assert sorted(os.listdir(tmp_path)) == ["demo-gcs.yaml", "job.json", "staging", "temp"]
    job, proto, transforms = _read_job(tmp_path)
    pool = _check_job(tmp_path, job, proto, transforms)
    evaluate = _dofn(transforms["Evaluate/ParDo(EvaluateBatches)"])
    assert evaluate._config.model.saved_model == BUCKET + "/models/candidate"
    assert evaluate._config.baseline.saved_model == BUCKET + "/models/baseline"
    assert evaluate._config.baseline.batch_size == 512
    environment = job["environment"]
    assert environment["serviceOptions"] == [ACCELERATOR]
    assert environment["sdkPipelineOptions"]["options"]["dataflow_service_options"] \
        == [ACCELERATOR]
    assert pool["machineType"] == "n1-standard-8"
    assert pool["workerHarnessContainerImage"] == GPU_IMAGE
    assert [i["containerImage"] for i in pool["sdkHarnessContainerImages"]] == [GPU_IMAGE]
    assert "no_use_multiple_sdk_containers" in environment["experiments"]
    assert "use_multiple_sdk_containers" not in environment["experiments"]
    docker = [env for env in proto.components.environments.values()
              if env.urn == "beam:env:docker:v1"]
    from apache_beam.portability.api import beam_runner_api_pb2
    assert [beam_runner_api_pb2.DockerPayload.FromString(e.payload).container_image
            for e in docker] == [GPU_IMAGE]


# -- the submission path, against a stand-in for the Dataflow API -----------------

class _FakeDataflowService:
    """The Dataflow API on localhost, for the DataflowRunner's submit path.

    Beam skips its GCS checks for an endpoint on `localhost` (its options
    validator), so with local temp and staging folders the runner stages
    the job there and POSTs it here. `outcome="run"` then plays the service
    and its workers: it loads the staged pipeline proto the job points to,
    swaps the SDK environment (our container image or Beam's) for embedded
    Python, runs it with the FnApiRunner in this process, and answers the
    create call with JOB_STATE_DONE (or FAILED). Any other outcome is the
    state the create call answers, without running anything. Answering with
    a terminal state at once keeps `wait_until_finish` from polling.
    """

    def __init__(self, outcome="run"):
        self.outcome = outcome
        self.jobs = []
        self.errors = []

    def _run_job(self, job):
        from apache_beam.options.pipeline_options import PipelineOptions
        from apache_beam.portability import python_urns
        from apache_beam.portability.api import beam_runner_api_pb2
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        proto = beam_runner_api_pb2.Pipeline()
        with open(job["environment"]["sdkPipelineOptions"]["options"]["pipelineUrl"],
                  "rb") as f:
            proto.ParseFromString(f.read())
        for env in proto.components.environments.values():
            env.urn, env.payload = python_urns.EMBEDDED_PYTHON, b""
        try:
            result = FnApiRunner().run_via_runner_api(proto, PipelineOptions([]))
            result.wait_until_finish()
            return "JOB_STATE_DONE"
        except Exception as e:  # reported by the test, not lost in the server thread
            self.errors.append(e)
            return "JOB_STATE_FAILED"

    def __enter__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, body):
                data = json.dumps(body).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                job = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                service.jobs.append((self.path, job))
                state = (service._run_job(job) if service.outcome == "run"
                         else service.outcome)
                self._reply({"id": "fake-job-%d" % len(service.jobs),
                             "projectId": "my-project", "currentState": state})

            def do_GET(self):
                self._reply({"id": "fake-job-%d" % len(service.jobs),
                             "projectId": "my-project", "currentState": "JOB_STATE_DONE"})

            def log_message(self, *args):
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = "http://localhost:%d" % self._server.server_address[1]
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        return False


def _object_store_demo(root):
    """The packaged demo config and data in the fake object store, with the
    report going there too: returns the loaded config."""
    from tests.support import fake_object_store
    fake_object_store.use_root(str(root))
    _put_demo_in_store(root)
    return load_config("fakegs://bucket/cfg/demo.yaml")


def _put_demo_in_store(root):
    """The packaged demo's config and records as fakegs://bucket/cfg/ under
    `root`, its output set to fakegs://bucket/reports/demo."""
    cfg = root / "bucket" / "cfg"
    cfg.mkdir(parents=True)
    shutil.copy(os.path.join(DEMO_DATA, "demo.tfrecord.gz"), cfg)
    with open(os.path.join(DEMO_DATA, "demo.yaml")) as f:
        data = yaml.safe_load(f)
    data["output"] = "fakegs://bucket/reports/demo"
    (cfg / "demo.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _submit_flags(folder, endpoint):
    for name in ("temp", "staging"):
        (folder / name).mkdir(exist_ok=True)
    return ["--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
            "--temp_location=%s" % (folder / "temp"),
            "--staging_location=%s" % (folder / "staging"),
            "--dataflow_endpoint=%s" % endpoint, "--no_auth",
            "--setup_file=%s" % os.path.join(REPO, "setup.py")]


@pytest.mark.e2e
def test_dataflow_submission_round_trip(tmp_path):
    """run_pipeline with the DataflowRunner, not templated: the job is staged
    and submitted, the stand-in service runs exactly the staged graph, and
    the driver then reads the counts the job wrote through the filesystem,
    writes run.json and commits the report, with the numbers of a local run."""
    import pyarrow.parquet as pq
    from pipeline.run import run_pipeline
    config = _object_store_demo(tmp_path / "store")
    with _FakeDataflowService() as service:
        run = run_pipeline(config, config.output,
                           beam_argv=_submit_flags(tmp_path, service.endpoint))
    assert not service.errors, service.errors
    [(path, job)] = service.jobs
    assert "/projects/my-project/locations/us-central1/jobs" in path
    packages = [p["name"] for p in job["environment"]["workerPools"][0]["packages"]]
    assert "workflow.tar.gz" in packages
    assert os.path.isfile(tmp_path / "staging" / "workflow.tar.gz")

    report = tmp_path / "store" / "bucket" / "reports" / "demo"
    # the demo compares a candidate with a baseline: comparison.parquet too
    assert sorted(os.listdir(report)) == ["comparison.parquet", "curves.parquet",
                                          "metrics.parquet", "run.json"]
    assert os.listdir(report.parent) == ["demo"]  # no temporary folder, no _counts.json
    with open(report / "run.json") as f:
        assert json.load(f) == json.loads(json.dumps(run))
    assert run["runner"] == "DataflowRunner"
    assert run["counts"]["read"] == run["counts"]["evaluated"] == 599

    local = tmp_path / "local"
    run_pipeline(load_config(os.path.join(DEMO_DATA, "demo.yaml")), str(local),
                 beam_argv=["--runner=FnApiRunner"])
    assert pq.read_table(report / "metrics.parquet").to_pylist() == \
        pq.read_table(local / "metrics.parquet").to_pylist()


@pytest.mark.e2e
def test_dataflow_job_that_does_not_finish_leaves_no_report(tmp_path):
    """A submitted job that ends CANCELLED: JobNotFinishedError naming the
    job and its state, and the report's temporary folder is removed."""
    from pipeline.run import run_pipeline
    config = _object_store_demo(tmp_path / "store")
    with _FakeDataflowService("JOB_STATE_CANCELLED") as service:
        with pytest.raises(JobNotFinishedError) as e:
            run_pipeline(config, config.output,
                         beam_argv=_submit_flags(tmp_path, service.endpoint))
    assert "fake-job-1" in str(e.value) and "CANCELLED" in str(e.value)
    assert len(service.jobs) == 1
    assert sorted(os.listdir(tmp_path / "store" / "bucket")) == ["cfg"]


# -- the staged package installs and runs -----------------------------------------

_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", "*.egg-info", "__pycache__",
                                      "*.pyc", "build", "dist", "out", ".pytest_cache",
                                      ".hypothesis", "headeval-demo")


def _site_packages(prefix):
    return os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")


@pytest.mark.e2e
def test_sdist_installs_in_a_fresh_venv_and_runs_the_demo(tmp_path):
    """The sdist Beam stages (`python setup.py sdist`, its fallback when the
    `build` package is absent) installs, as a worker installs it, into a new
    virtualenv, and `headeval demo` runs from there outside the checkout.

    Only the dependencies are borrowed: the new venv sees this venv's
    site-packages through a .pth file, *after* its own (a .pth directory is
    appended to sys.path and its own .pth files, such as this checkout's
    editable-install hook, are not run), so `heads` and `pipeline` come from
    the installed sdist, not from the checkout; and the test checks that
    those borrowed packages satisfy the sdist's Requires-Dist, as pip would
    on a worker."""
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=_COPY_IGNORE)
    _run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", tmp_path / "dist"],
         cwd=checkout)
    sdist = tmp_path / "dist" / "headeval-0.1.0.tar.gz"
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for package in ("heads", "pipeline"):
        sources = {"%s/%s" % (package, n) for n in os.listdir(os.path.join(REPO, package))
                   if n.endswith(".py")}
        assert sources <= names, "missing from the sdist: %s" % sorted(sources - names)
    assert {"pipeline/data/demo.yaml", "pipeline/data/demo.tfrecord.gz"} <= names
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    site = _site_packages(venv)
    with open(os.path.join(site, "zz_borrowed_dependencies.pth"), "w") as f:
        f.write(_site_packages(sys.prefix) + "\n")
    python = venv / "bin" / "python"
    env = {k: v for k, v in _env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    # pip from the borrowed site-packages, run by the new interpreter: installs
    # into the new venv; --ignore-installed leaves this venv's headeval alone.
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
          "--no-build-isolation", "--ignore-installed", sdist], cwd=tmp_path, env=env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = textwrap.dedent("""
        import importlib.metadata as md, importlib.util, json
        from packaging.requirements import Requirement
        dist = md.distribution("headeval")
        unmet = []
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            try:
                have = md.version(req.name)
            except md.PackageNotFoundError:
                have = None
            if have is None or not req.specifier.contains(have, prereleases=True):
                unmet.append("%s (have %s)" % (text, have))
        print(json.dumps({"pipeline": importlib.util.find_spec("pipeline").origin,
                          "heads": importlib.util.find_spec("heads").origin,
                          "dist": str(dist.locate_file("")), "unmet": unmet}))
    """)
    found = json.loads(_run([python, "-c", probe], cwd=work, env=env).stdout)
    assert found["pipeline"].startswith(site) and found["heads"].startswith(site), found
    assert found["dist"].startswith(site), found
    assert found["unmet"] == [], "the borrowed dependencies do not satisfy the sdist's pins"

    _run([venv / "bin" / "headeval", "demo", "--output", "demo-report"], cwd=work, env=env,
         timeout=240)
    with open(work / "demo-report" / "run.json") as f:
        run = json.load(f)
    counts = run["counts"]
    assert {k: counts[k] for k in ("read", "evaluated", "rejected", "rejected_by_kind")} == \
        {"read": 599, "evaluated": 599, "rejected": 0, "rejected_by_kind": {}}
    assert run["config"]["input"]["pattern"].startswith(site)  # the packaged demo data
    assert os.path.isfile(work / "demo-report" / "metrics.parquet")


# -- a report through a non-local Beam filesystem ---------------------------------

_OBJECT_STORE_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from tests.support import fake_object_store
    fake_object_store.use_root({root!r})
    from pipeline.cli import main

    local = main(["run", {local_config!r}, "--output", {local_out!r}, "--quiet"])
    first = main(["run", "fakegs://bucket/cfg/demo.yaml", "--quiet"])
    again = main(["run", "fakegs://bucket/cfg/demo.yaml", "--overwrite", "--quiet"])
    sys.stdout.write("\\n=== show ===\\n")
    sys.stdout.flush()
    show = main(["show", "fakegs://bucket/reports/demo", "--format", "json"])
    sys.stdout.flush()
    sys.stderr.write("exit codes %s\\n" % json.dumps([local, first, again, show]))
    sys.exit(max(local, first, again, show))
""")


@pytest.mark.e2e
def test_run_and_show_through_an_object_store_filesystem(tmp_path):
    """`headeval run` on the default in-process runner reads its config and
    records from `fakegs://` and writes the report there (twice: the second
    run replaces the first object by object), `headeval show` reads it
    back, and the numbers equal a local run's."""
    import pyarrow.parquet as pq
    root = tmp_path / "store"
    _put_demo_in_store(root)
    local_out = tmp_path / "local-report"
    script = _OBJECT_STORE_SCRIPT.format(
        tests=REPO, root=str(root), local_config=os.path.join(DEMO_DATA, "demo.yaml"),
        local_out=str(local_out))
    proc = _run([sys.executable, "-c", script], cwd=tmp_path, env=_env(PYTHONPATH=REPO),
                timeout=240)

    report = root / "bucket" / "reports" / "demo"
    # the demo compares a candidate with a baseline: comparison.parquet too
    assert sorted(os.listdir(report)) == ["comparison.parquet", "curves.parquet",
                                          "metrics.parquet", "run.json"]
    leftovers = [n for n in os.listdir(report.parent) if n != "demo"]
    assert leftovers == [], "temporary report folders left behind: %s" % leftovers
    with open(report / "run.json") as f:
        run = json.load(f)
    assert run["output"] == "fakegs://bucket/reports/demo"
    assert run["config_file"] == "fakegs://bucket/cfg/demo.yaml"
    assert run["config"]["input"]["pattern"] == "fakegs://bucket/cfg/demo.tfrecord.gz"
    assert run["counts"]["read"] == run["counts"]["evaluated"] == 599

    remote = pq.read_table(report / "metrics.parquet").to_pylist()
    local = pq.read_table(local_out / "metrics.parquet").to_pylist()
    assert remote == local
    assert pq.read_table(report / "curves.parquet").equals(
        pq.read_table(local_out / "curves.parquet"))
    shown = json.loads(proc.stdout.split("=== show ===\n", 1)[1])
    candidate = [r for r in remote if r["model"] == "candidate"]  # show's rows
    assert len(shown) == len(candidate)
    assert {(r["head"], r["slice"], r["key"]) for r in shown} == \
        {(r["head"], r["slice"], r["key"]) for r in candidate}
