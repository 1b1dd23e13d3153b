"""Runs that are interrupted, killed, or cannot write their report (issue 17).

Each test runs the real CLI (`python -m pipeline run`) in a subprocess on a
small binary-head dataset and checks three things: the exit code, ONE line
of headeval's own on stderr (no traceback), and what is left on disk: the
old report or nothing at the destination, never a part of one, and no
hidden `.NAME.tmp-*` / `.NAME.old-*` folder beside it.

stderr also carries TensorFlow's C++ start-up notes ("WARNING: All log
messages before absl::InitializeLog()...", "I0000 ... cudart_stub.cc ...":
printed by every run, before headeval's logging exists) and, where a test
turns them on to know the pipeline is running, progress lines
("headeval: 1,024 records read ..."); `own_lines` leaves those out.
"""
import filecmp
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import RUNNER_FLAG, cli_env
from tests.support import REPO
from tests.support.report_files import write_metrics

pytestmark = pytest.mark.e2e

N = 60000          # records: a run of about 2-4 s of pipeline after 4-8 s of start-up
BATCH = 500        # small batches: the first progress line comes early
OLD_ROWS = [{"head": "", "slice": "", "metric": "auc", "class": None, "threshold": None,
             "value": 0.125, "key": "auc"}]
C_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)"
                     r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] )")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A binary head on N records (one TFRecord file) and its config."""
    from pipeline.io.writer import write_examples
    folder = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(17)
    y = (rng.random(N) < 0.4).astype(np.int64)
    z = (rng.normal(-0.3, 1.0, N) + 1.2 * y).astype(np.float32)
    write_examples(folder / "data" / "part-0.tfrecord", {"y": y, "z": z[:, None]})
    config = folder / "eval.yaml"
    config.write_text(yaml.safe_dump({
        "input": {"pattern": str(folder / "data" / "*.tfrecord"),
                  "features": {"y": {"dtype": "int64"},
                               "z": {"dtype": "float32", "shape": [1]}}},
        "model": {"logits": "z"},
        "heads": [{"type": "binary", "label": "y", "thresholds": [0.5]}],
        "batch_size": BATCH,
    }, sort_keys=False))
    return config


def own_lines(stderr):
    """stderr without TensorFlow's C++ notes and progress lines."""
    return [line for line in stderr.splitlines() if line.strip()
            and not C_NOISE.match(line) and not line.startswith("headeval: ")]


def assert_one_line(proc_stderr, expected):
    lines = own_lines(proc_stderr)
    assert "Traceback" not in proc_stderr, proc_stderr[-4000:]
    assert len(lines) == 1, proc_stderr[-4000:]
    if isinstance(expected, str):
        assert lines[0] == expected, proc_stderr[-4000:]
    else:
        assert expected.fullmatch(lines[0]), lines[0]
    return lines[0]


def leftovers(dest):
    """Hidden siblings of `dest` left by a run (.NAME.tmp-*, .NAME.old-*)."""
    parent, name = os.path.split(str(dest))
    return sorted(e for e in os.listdir(parent) if e.startswith(".%s." % name))


def make_old_report(dest):
    """A complete report (our run.json marker, metrics.parquet) standing for
    an earlier run's; `same_as_old` recognises it."""
    from pipeline.io.files import write_json
    from pipeline.report.schema import METRICS_FILE, REPORT_MARKER, RUN_FILE
    os.makedirs(dest)
    write_metrics(OLD_ROWS, os.path.join(dest, METRICS_FILE))
    write_json({REPORT_MARKER: 1, "run": "old"}, os.path.join(dest, RUN_FILE))
    return dest


def same_tree(a, b):
    """True when folders `a` and `b` hold the same files with the same bytes."""
    cmp = filecmp.dircmp(a, b)
    return (not cmp.left_only and not cmp.right_only and not cmp.funny_files
            and filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[0] == cmp.common_files
            and all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs))


def start(config, dest, *flags, progress=False):
    env = cli_env()
    if progress:  # a line per batch on stderr: the test knows the pipeline runs
        env.update(HEADEVAL_PROGRESS="1", HEADEVAL_PROGRESS_INTERVAL="0")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", str(config), "--output", str(dest),
         RUNNER_FLAG, *flags], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)


def _default_signals():
    """In the child: SIGINT handled, even where the suite runs with it
    ignored (`nohup`, a background job), which the CLI keeps on purpose."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_progress(proc, timeout=120):
    """Reads stderr until the first progress line (a batch was evaluated:
    Beam is running); returns what was read."""
    seen, deadline = [], time.time() + timeout
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("headeval: ") or time.time() > deadline:
            break
    assert seen and seen[-1].startswith("headeval: "), "".join(seen)[-4000:]
    return "".join(seen)


# -- Ctrl-C and SIGTERM during the Beam run ----------------------------------------------

@pytest.mark.parametrize("sig, code, words", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_signal_during_the_beam_run_is_one_line_and_keeps_the_old_report(
        dataset, tmp_path, sig, code, words):
    # Before: a KeyboardInterrupt inside a bundle came out as Beam's
    # "RuntimeError: KeyboardInterrupt [while running 'Read/...']", exit 1,
    # after 140-240 lines of logged tracebacks; SIGTERM killed the process
    # without clean-up, leaving .report.tmp-XXXXXXXX behind.
    dest = make_old_report(str(tmp_path / "report"))
    before = str(tmp_path / "before")
    shutil.copytree(dest, before)
    proc = start(dataset, dest, "--overwrite", progress=True)
    try:
        head = wait_for_progress(proc)
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, (head + rest)[-4000:]
    assert_one_line(head + rest, "headeval run: %s" % words)
    assert leftovers(dest) == []
    assert same_tree(dest, before)


# -- SIGKILL at random points ----------------------------------------------------------

def report_state(dest):
    """'old', 'new' or 'nothing' for the destination; fails on anything else
    (a part of a report, a report that is neither)."""
    from pipeline.report.schema import METRICS_FILE, RUN_FILE
    if not os.path.exists(dest) or not os.listdir(dest):
        return "nothing"
    with open(os.path.join(dest, RUN_FILE)) as f:
        run = yaml.safe_load(f)  # JSON is YAML
    assert sorted(os.listdir(dest)) == [METRICS_FILE, RUN_FILE] or \
        sorted(os.listdir(dest)) == ["curves.parquet", METRICS_FILE, RUN_FILE], os.listdir(dest)
    rows = pq.read_table(os.path.join(dest, METRICS_FILE), use_threads=False).to_pylist()
    if run.get("run") == "old":
        assert [{k: r[k] for k in OLD_ROWS[0]} for r in rows] == OLD_ROWS
        return "old"
    assert run["counts"]["read"] == N and run["counts"]["evaluated"] == N
    return "new"


def test_sigkill_at_random_points_leaves_the_old_report_or_nothing(dataset, tmp_path, capsys):
    """Ten runs killed (SIGKILL: no clean-up at all) after seeded random
    delays spread over start-up, the Beam run and the final move; after each
    the destination holds the complete old report, the complete new one, or
    nothing (killed between the two renames of the final move: the old
    report is then in a hidden .old- sibling, and the next run moves it
    back), and the next run succeeds and leaves no hidden folder.

    The next run is `cli.main` in this process (a process start each would
    double the test's time; the code is the same). It passes --overwrite
    only when the destination holds a report: a run never needs
    --overwrite for an empty or missing destination, and a killed run must
    not leave anything that makes it need one (before: the dead run's
    renamed `report.old-*` stayed, visible, and a kill between the renames
    left the destination empty)."""
    from pipeline import cli
    dest = str(tmp_path / "report")
    reference = str(tmp_path / "reference")
    started = time.time()
    clean = start(dataset, reference)
    _, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err[-4000:]
    span = time.time() - started  # start-up + pipeline + commit of a clean run
    rng = random.Random(1717)
    states = []
    for i in range(10):
        if os.path.exists(dest):
            shutil.rmtree(dest)
        make_old_report(dest)
        proc = start(dataset, dest, "--overwrite")
        # One delay in each tenth of the clean run's time (the last tenths
        # reach the commit), in a seeded random order.
        delay = span * (i + rng.random()) / 10
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=60)
        state = report_state(dest)
        states.append("%.1f s: %s" % (delay, state))
        if state == "nothing":  # the old report waits in a hidden sibling
            olds = [e for e in leftovers(dest) if ".old-" in e]
            assert len(olds) == 1, leftovers(dest)
        flags = ["--overwrite"] if state != "nothing" else []
        capsys.readouterr()
        assert cli.main(["run", str(dataset), "--output", dest, "--quiet", RUNNER_FLAG, *flags]) == 0, \
            capsys.readouterr().err[-3000:]
        assert report_state(dest) == "new" and leftovers(dest) == [], leftovers(dest)
        assert pq.read_table(os.path.join(dest, "metrics.parquet")).equals(
            pq.read_table(os.path.join(reference, "metrics.parquet")))
    print("states after the kills:", states)


def test_sigkill_between_the_renames_of_the_final_move(dataset, tmp_path):
    """The kill that random delays rarely hit: after the old report was moved
    aside and before the new one is in. The destination is then empty; the
    next run, without --overwrite, moves the old report back first (so it
    then needs --overwrite to replace it) and never loses it."""
    dest = make_old_report(str(tmp_path / "report"))
    before = str(tmp_path / "before")
    shutil.copytree(dest, before)
    code = ("import os, signal, sys\n"
            "from pipeline.report import output\n"
            "from pipeline.io.files import write_json\n"
            "from pipeline.report.schema import REPORT_MARKER, RUN_FILE\n"
            "rename = os.rename\n"
            "def rename_then_die(a, b):\n"
            "    rename(a, b)\n"
            "    if '.old-' in b: os.kill(os.getpid(), signal.SIGKILL)\n"
            "output.os.rename = rename_then_die\n"
            "out = output.ReportOutput(%r, overwrite=True)\n"
            "write_json({REPORT_MARKER: 1, 'run': 'new'}, out.file(RUN_FILE))\n"
            "out.commit()\n" % dest)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert not os.path.exists(dest)
    assert [e.split("-")[0] for e in leftovers(dest)] == [".report.old", ".report.tmp"]
    proc = start(dataset, dest)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert_one_line(err, re.compile(r"headeval run: error: output .* already holds a report; "
                                    r"pass --overwrite .*"))
    assert same_tree(dest, before) and leftovers(dest) == []


# -- output that cannot be written -----------------------------------------------------

def run_to(dataset, dest, *flags):
    proc = start(dataset, dest, *flags)
    _, err = proc.communicate(timeout=300)
    return proc, err


def test_output_under_a_file(dataset, tmp_path):
    (tmp_path / "somefile").write_text("not a folder\n")
    dest = tmp_path / "somefile" / "report"
    proc, err = run_to(dataset, dest)
    assert proc.returncode == 1
    assert_one_line(err, "headeval run: error: cannot write the report to %s: %s is a file, "
                         "not a folder" % (dest, tmp_path / "somefile"))
    assert os.listdir(tmp_path) == ["somefile"]
    assert (tmp_path / "somefile").read_text() == "not a folder\n"


@pytest.fixture
def mounted(tmp_path):
    """Mounts a tmpfs with the given options at a new folder (root only, and
    only where mounting is allowed: else the test is skipped); unmounts it
    after."""
    points = []

    def mount(options):
        point = tmp_path / ("mnt%d" % len(points))
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (%s)" % done.stderr.strip())
        points.append(point)
        return point

    yield mount
    for point in points:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_read_only_parent(dataset, tmp_path, mounted):
    # As root, chmod does not stop a write: a read-only tmpfs does (EROFS);
    # as another user, a folder without write permission (EACCES).
    if os.geteuid() == 0:
        parent = mounted("ro,size=1m")
        reason = "Read-only file system"
    else:
        parent = tmp_path / "ro"
        parent.mkdir()
        parent.chmod(0o555)
        reason = "Permission denied"
    dest = parent / "report"
    proc, err = run_to(dataset, dest)
    assert proc.returncode == 1
    assert_one_line(err, re.compile(r"headeval run: error: cannot write the report to %s: %s "
                                    r"\(%s/\.report\.tmp-\S+\)" % (re.escape(str(dest)), reason,
                                                                   re.escape(str(parent)))))
    assert os.listdir(parent) == []


def test_read_only_report_folder_with_overwrite(dataset, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may move a read-only folder; a read-only mount is its parent's "
                    "case (test_read_only_parent)")
    dest = make_old_report(str(tmp_path / "report"))
    os.chmod(dest, 0o555)
    proc, err = run_to(dataset, dest, "--overwrite")
    assert proc.returncode == 1
    assert_one_line(err, "headeval run: error: cannot replace the report %s: Permission denied "
                         "(the folder is read-only)" % dest)
    assert report_state(dest) == "old" and leftovers(dest) == []


def test_disk_full(dataset, tmp_path, mounted):
    """A real full disk: a 64 KiB tmpfs, too small for the report's files
    (the kernel answers ENOSPC inside Beam's write of metrics.parquet)."""
    parent = mounted("size=64k")
    (parent / "filler").write_bytes(b"\0" * 60 * 1024)
    dest = parent / "report"
    proc, err = run_to(dataset, dest)
    assert proc.returncode == 1
    assert_one_line(err, re.compile(r"headeval run: error: cannot write the report to %s: No "
                                    r"space left on device.*" % re.escape(str(dest))))
    assert os.listdir(parent) == ["filler"]
