"""Shared fixtures: random evaluation data written as TFRecords, and a runner
for the real `headeval` CLI in a subprocess.

The `e2e` marker flags the slow end-to-end tests (a Beam pipeline in a
subprocess, 10-40 s each). They run by default; `pytest -m "not e2e"` skips
them.
"""
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Beam 2.77's DirectRunner tries to download the Prism runner first
# (pipeline/runtime/runner_args.py): name the in-process FnApiRunner so the
# tests run the same with or without network.
RUNNER_FLAG = "--runner=FnApiRunner"
MULTI_PROCESS_FLAGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")
# The tests' inputs are small: a run that asks for worker processes would
# otherwise run in-process (pipeline/runtime/workers.py), here and in the
# CLI subprocesses, which inherit the environment.
os.environ.setdefault("HEADEVAL_MIN_WORKER_BYTES", "0")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: end-to-end run of the real CLI on Beam in a subprocess (slow, "
                   "runs by default; deselect with -m 'not e2e')")


# -- the CLI ----------------------------------------------------------------------

def cli_env():
    """Environment for a `python -m pipeline` subprocess: this checkout first
    on the path, TensorFlow's C++ logging quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    return env


def run_cli(*args, check=True, timeout=300):
    """Runs `python -m pipeline ARGS...`; returns the CompletedProcess. With
    `check`, a non-zero exit fails the test showing the command's output."""
    cmd = [sys.executable, "-m", "pipeline", *map(str, args)]
    proc = subprocess.run(cmd, cwd=REPO, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail("%s exited with %d\n--- stdout ---\n%s\n--- stderr (last 6000 chars) ---\n%s"
                    % (" ".join(cmd), proc.returncode, proc.stdout[-6000:],
                       proc.stderr[-6000:]), pytrace=False)
    return proc


@pytest.fixture(scope="session")
def headeval_cli():
    """The CLI runner and its flags:
    `headeval_cli.run("run", cfg, "--output", out, headeval_cli.runner_flag)`."""
    return SimpleNamespace(run=run_cli, runner_flag=RUNNER_FLAG,
                           multi_process_flags=MULTI_PROCESS_FLAGS, repo=REPO, env=cli_env)


# -- random evaluation data ---------------------------------------------------------

E2E_N = 3000
COUNTRIES = ("US", "FR", "BR", "JP")
MC_VOCABULARY = ("ant", "bee", "cat", "dog", "eel")
ML_CLASSES = 4


def make_e2e_arrays(n=E2E_N, seed=20240611):
    """Numpy arrays of a random evaluation set with four heads' labels and logits.

    Logits are correlated with the labels so every metric is far from its
    trivial value; a few examples lack the `weight` feature (parsed as its
    default 1.0) and a few lack `ml_labels` entirely (no positive class).
    """
    rng = np.random.default_rng(seed)
    country = rng.choice(np.array(COUNTRIES), n, p=[0.4, 0.3, 0.2, 0.1])
    weight = rng.uniform(0.25, 3.0, n).astype(np.float32)
    weight_missing = rng.random(n) < 0.05

    y_bin = (rng.random(n) < 0.35).astype(np.int64)
    z_bin = (rng.normal(-0.4, 1.2, n) + 1.3 * y_bin).astype(np.float32)

    y_mc = rng.integers(0, len(MC_VOCABULARY), n)
    z_mc = (rng.normal(0, 1.3, (n, len(MC_VOCABULARY)))
            + 1.6 * np.eye(len(MC_VOCABULARY))[y_mc]).astype(np.float32)

    y_ml = rng.random((n, ML_CLASSES)) < np.array([0.1, 0.3, 0.5, 0.2])
    z_ml = (rng.normal(-0.8, 1.2, (n, ML_CLASSES)) + 1.7 * y_ml).astype(np.float32)
    ml_missing = (~y_ml.any(axis=1)) & (rng.random(n) < 0.5)  # absent rather than []

    y_reg = rng.normal(3.0, 1.5, n).astype(np.float32)
    z_reg = (0.8 * y_reg + rng.normal(0.5, 0.7, n)).astype(np.float32)

    return SimpleNamespace(
        n=n, country=country, weight=np.where(weight_missing, np.float32(1.0), weight),
        raw_weight=weight, weight_missing=weight_missing,
        y_bin=y_bin, z_bin=z_bin, y_mc=y_mc, z_mc=z_mc, y_ml=y_ml, z_ml=z_ml,
        ml_missing=ml_missing, y_reg=y_reg, z_reg=z_reg)


def e2e_columns(a):
    """The arrays as TFRecord columns (pipeline.io.writer.write_examples)."""
    return {
        "id": np.arange(a.n, dtype=np.int64),
        "country": a.country,
        "weight": [None if m else [float(w)] for m, w in zip(a.weight_missing, a.raw_weight)],
        "bin_label": a.y_bin,
        "bin_logits": a.z_bin[:, None],
        "mc_label": np.array(MC_VOCABULARY)[a.y_mc],
        "mc_logits": a.z_mc,
        "ml_labels": [None if m else np.flatnonzero(row).tolist()
                      for m, row in zip(a.ml_missing, a.y_ml)],
        "ml_logits": a.z_ml,
        "reg_label": a.y_reg,
        "reg_prediction": a.z_reg[:, None],
    }


def e2e_config(pattern, output="out"):
    """The YAML config (as a dict) evaluating the e2e data with four heads."""
    return {
        "input": {
            "pattern": pattern,
            "features": {
                "id": {"dtype": "int64"},
                "country": {"dtype": "string"},
                "weight": {"dtype": "float32", "default": 1.0},
                "bin_label": {"dtype": "int64"},
                "bin_logits": {"dtype": "float32", "shape": [1]},
                "mc_label": {"dtype": "string"},
                "mc_logits": {"dtype": "float32", "shape": [len(MC_VOCABULARY)]},
                "ml_labels": {"dtype": "int64", "varlen": True},
                "ml_logits": {"dtype": "float32", "shape": [ML_CLASSES]},
                "reg_label": {"dtype": "float32"},
                "reg_prediction": {"dtype": "float32", "shape": [1]},
            },
        },
        "model": {"logits": {"bin": "bin_logits", "mc": "mc_logits", "ml": "ml_logits",
                             "reg": "reg_prediction"}},
        "heads": [
            {"name": "bin", "type": "binary", "label": "bin_label", "weight_column": "weight",
             "thresholds": [0.3, 0.5]},
            {"name": "mc", "type": "multi_class", "n_classes": len(MC_VOCABULARY),
             "label": "mc_label", "label_vocabulary": list(MC_VOCABULARY),
             "weight_column": "weight"},
            {"name": "ml", "type": "multi_label", "n_classes": ML_CLASSES, "label": "ml_labels",
             "weight_column": "weight", "thresholds": [0.3, 0.5, 0.7],
             "classes_for_class_based_metrics": [0, 2]},
            {"name": "reg", "type": "regression", "label": "reg_label",
             "weight_column": "weight"},
        ],
        "slices": [[], ["country"]],
        "output": output,
    }


# Three files, one of them gzip, of uneven sizes.
E2E_FILES = (("part-00000.tfrecord", 0, 1100),
             ("part-00001.tfrecord.gz", 1100, 2300),
             ("part-00002.tfrecord", 2300, None))


@pytest.fixture(scope="session")
def e2e_dataset(tmp_path_factory):
    """Random data in three TFRecord files (one gzip) plus its config.

    Attributes: `arrays` (make_e2e_arrays), `config` (path of the YAML file),
    `folder`, `files`, `n_records`, `countries`, `slices` (the report's
    slice strings: "" and "country=US", ...).
    """
    from pipeline.io.writer import take, write_examples

    folder = tmp_path_factory.mktemp("e2e")
    arrays = make_e2e_arrays()
    columns = e2e_columns(arrays)
    files, total = [], 0
    for name, start, stop in E2E_FILES:
        path = folder / "data" / name
        total += write_examples(path, take(columns, start, stop))
        files.append(path)
    config = folder / "eval.yaml"
    config.write_text(yaml.safe_dump(e2e_config("data/part-*"), sort_keys=False))
    return SimpleNamespace(arrays=arrays, config=config, folder=folder, files=files,
                           n_records=total, countries=COUNTRIES, mc_vocabulary=MC_VOCABULARY,
                           slices=[""] + ["country=%s" % c for c in COUNTRIES])
