"""Where a `headeval run` spends its time before the first record and after the last.

    python benchmarks/bench_phases.py CONFIG [--repeats 3] [-- BEAM_OPTIONS...]

Runs `headeval run CONFIG --quiet` in child processes, each with the run's
stages wrapped to print a timestamp (seconds since the child started) when
they start and end, and prints per phase the median over the runs:

    imports          start until the pipeline is imported: the CLI, its config, Beam
                     (for the options' check), TensorFlow and the pipeline
    construction     run_pipeline up to Beam's Pipeline.run (config, graph)
    to first batch   Pipeline.run until the evaluation's first batch
    evaluation       first batch until the evaluation's last batch is absorbed
    end              then until run.json is written (overall slice, shuffle, rows, Parquet)

The wrapping is done in the child (see `_child`), not in the pipeline: the
code measured is the code that runs. In-process runs only (the worker
processes of multi_processing are not wrapped).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = r'''
import sys, threading, time
T0 = time.time()
marks = {}

def mark(name):
    marks.setdefault(name, time.time() - T0)
    if name.endswith("+"):
        marks[name] = time.time() - T0  # the last time, not the first

def wrap(owner, name, before, after=None):
    f = getattr(owner, name)
    def wrapped(*a, **k):
        mark(before)
        try:
            return f(*a, **k)
        finally:
            if after:
                mark(after)
    setattr(owner, name, wrapped)

import pipeline.cli as cli
load = cli._load_pipeline

def load_and_wrap():
    load()
    mark("imports end")
    import apache_beam as beam
    import pipeline.run as run
    from pipeline.evaluate import evaluator, stage
    from pipeline.io import files
    wrap(run, "build_pipeline", "construction start")
    wrap(beam.Pipeline, "run", "Pipeline.run")
    wrap(stage.EvaluateBatches, "_evaluate", "first batch", "last batch handed+")
    wrap(stage.EvaluateBatches, "_absorb", "first absorb", "last absorb+")
    wrap(stage.EvaluateBatches, "finish_bundle", "finish_bundle")
    wrap(run, "write_json", "run.json+", "run.json written+")

cli._load_pipeline = load_and_wrap
cli._OWN_PROCESS = True  # as console_main: the CLI imports the pipeline itself
try:
    cli.main(sys.argv[1:])
finally:
    import json
    sys.__stderr__.write("PHASES " + json.dumps(marks) + "\n")
'''


def _child(config, output, beam_args):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cmd = [sys.executable, "-c", _CHILD, "run", config, "--output", output, "--overwrite",
           "--quiet"] + (beam_args or ["--runner=FnApiRunner"])
    proc = subprocess.run(cmd, cwd=os.path.dirname(os.path.abspath(config)), env=env,
                          capture_output=True, text=True)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("PHASES ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit("child failed (exit %d):\n%s" % (proc.returncode, proc.stderr[-3000:]))
    import json
    return json.loads(lines[-1][len("PHASES "):])


def phases(marks):
    """{phase: seconds} from one child's marks."""
    return {
        "imports": marks["imports end"],
        "construction": marks["Pipeline.run"] - marks["imports end"],
        "to first batch": marks["first batch"] - marks["Pipeline.run"],
        "evaluation": marks["last absorb+"] - marks["first batch"],
        "end": marks["run.json written+"] - marks["last absorb+"],
        "first record after start": marks["first batch"],
    }


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    beam_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, beam_args = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            got = phases(_child(args.config, os.path.join(tmp, "out"), beam_args))
            runs.append(got)
            print("run %d: %s" % (r + 1, "  ".join("%s %.2f" % kv for kv in got.items())),
                  flush=True)
    print()
    for name in runs[0]:
        values = [run[name] for run in runs]
        print("%-26s median %5.2f s  (%s)" % (name, statistics.median(values),
                                             ", ".join("%.2f" % v for v in values)))


if __name__ == "__main__":
    main()
