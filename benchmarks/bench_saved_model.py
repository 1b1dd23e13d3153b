"""Throughput of `headeval run` with a SavedModel run on the workers, per device.

    python benchmarks/bench_saved_model.py                     # 200k examples, cpu (+ gpu if seen)
    python benchmarks/bench_saved_model.py --n 1000000 --devices cpu gpu --repeats 3
    python benchmarks/bench_saved_model.py --model small       # the 16-256-256-1 MLP
    python benchmarks/bench_saved_model.py --n 20000 --repeats 1 --devices cpu   # a smoke run

Data: N raw examples (`x`: float[16], `country`, a binary label `clicked`),
written once into a cache folder. Model (`--model`): `mlp4x1024` (default;
16 -> 4 x 1024 ReLU -> 1, 3.2M weights, ~6.4 MFLOP per example: big enough
that the model, not the pipeline, decides the rate on a CPU) or `small`
(16 -> 256 -> 256 -> 1), trained for one epoch on 8k examples and exported
with `model.export()`. Config: one binary head with thresholds 0.3/0.5/0.7,
sliced by country, `model: {saved_model, device: D, batch_size: 8192}`.

Each run is `python -m pipeline run ... --runner=FnApiRunner` in a child
process (bench_pipeline.run_once): reported per device are the median
process wall time, examples/s over the process and over the pipeline's own
wall time (run.json), and peak RSS; for `device: gpu` also the GPU's
utilisation and memory, sampled with `nvidia-smi` every 0.5 s during the
run (mean and max). `device: gpu` is skipped, with a line saying so, where
TensorFlow sees no GPU.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from typing import List, Optional

import numpy as np
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_pipeline import pipeline_seconds, run_once  # noqa: E402

from pipeline.runtime.devices import CPU, GPU  # noqa: E402

N_FEATURES = 16


MODELS = {"mlp4x1024": (1024,) * 4, "small": (256, 256)}


def make_model(folder: str, rng: np.random.Generator, name: str = "mlp4x1024") -> str:
    import keras
    path = os.path.join(folder, "saved_model-" + name)
    if os.path.exists(path):
        return path
    x = rng.normal(size=(8_192, N_FEATURES)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + rng.normal(0, 1, len(x)) > 0).astype(np.float32)
    inputs = keras.Input((N_FEATURES,), name="x")
    h = inputs
    for width in MODELS[name]:
        h = keras.layers.Dense(width, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=512, verbose=0)
    model.export(path, verbose=False)
    return path


class GpuSampler:
    """Samples `nvidia-smi`'s GPU utilisation (%) and memory (MiB) every
    `interval` seconds while in a `with` block; `summary()` gives the mean
    and max utilisation and the max memory, or None without nvidia-smi."""

    def __init__(self, interval: float = 0.5):
        self._interval, self._samples = interval, []
        self._stop = threading.Event()
        self._tool = shutil.which("nvidia-smi")

    def _loop(self):
        while not self._stop.wait(self._interval):
            try:
                out = subprocess.run([self._tool, "--query-gpu=utilization.gpu,memory.used",
                                      "--format=csv,noheader,nounits"], capture_output=True,
                                     text=True, timeout=5).stdout.splitlines()[0]
                util, mem = (float(v) for v in out.split(","))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                continue
            self._samples.append((util, mem))

    def __enter__(self):
        if self._tool:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._tool:
            self._thread.join()

    def summary(self):
        if not self._samples:
            return None
        util = [u for u, _ in self._samples]
        return statistics.mean(util), max(util), max(m for _, m in self._samples)


def make_data(folder: str, n: int, rng: np.random.Generator) -> str:
    from pipeline.io.writer import write_examples
    path = os.path.join(folder, "data-n%d.tfrecord" % n)
    if not os.path.exists(path):
        x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
        write_examples(path, {
            "x": x, "country": np.array(["US", "FR", "JP", "BR"])[rng.integers(0, 4, n)],
            "clicked": (x[:, 0] - x[:, 1] + rng.normal(0, 1, n) > 0).astype(np.int64)})
    return path


def write_config(folder: str, data: str, model: str, device: str) -> str:
    path = os.path.join(folder, "config-%s.yaml" % device)
    with open(path, "w") as f:
        yaml.safe_dump({
            "input": {"pattern": data, "features": {
                "x": {"dtype": "float32", "shape": [N_FEATURES]},
                "country": {"dtype": "string"}, "clicked": {"dtype": "int64"}}},
            "model": {"saved_model": model, "device": device, "batch_size": 8192},
            "heads": [{"type": "binary", "label": "clicked", "thresholds": [0.3, 0.5, 0.7]}],
            "slices": [[], ["country"]],
        }, f, sort_keys=False)
    return path


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--devices", nargs="+", default=[CPU, GPU], choices=[CPU, GPU])
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp4x1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(),
                                                             "headeval-bench-model"))
    args = parser.parse_args(argv)

    import tensorflow as tf
    os.makedirs(args.cache_dir, exist_ok=True)
    rng = np.random.default_rng(0)
    model = make_model(args.cache_dir, rng, args.model)
    data = make_data(args.cache_dir, args.n, rng)
    gpus = tf.config.list_physical_devices("GPU")
    print("%d examples, model %s; TensorFlow sees %d GPU(s)" % (args.n, args.model, len(gpus)))
    rows = []
    for device in args.devices:
        if device == GPU and not gpus:
            print("device gpu: skipped, TensorFlow sees no GPU on this machine")
            continue
        config = write_config(args.cache_dir, data, model, device)
        walls, peaks, pipeline, gpu = [], [], [], []
        for r in range(args.repeats):
            out = os.path.join(args.cache_dir, "report-%s-%d" % (device, r))
            with GpuSampler() as sampler:
                wall, peak, run = run_once(config, out, [])
            walls.append(wall)
            peaks.append(peak)
            pipeline.append(pipeline_seconds(run))
            used = sampler.summary() if device == GPU else None
            if used:
                gpu.append(used)
            print("  %s run %d: %.1f s process, %.1f s pipeline, peak RSS %.0f MiB%s"
                  % (device, r + 1, wall, pipeline[-1], peak / 2**20,
                     ", GPU %.0f%% mean, %.0f%% max, %.0f MiB" % used if used else ""),
                  flush=True)
        util = ("%.0f%% / %.0f%%" % (statistics.median(g[0] for g in gpu),
                                     max(g[1] for g in gpu)) if gpu else "-")
        rows.append((device, statistics.median(walls), args.n / statistics.median(walls),
                     args.n / statistics.median(pipeline), max(peaks) / 2**20, util))
    print("\n%6s  %9s  %20s  %21s  %13s  %18s" % ("device", "median s", "examples/s (process)",
                                                  "examples/s (pipeline)", "peak RSS MiB",
                                                  "GPU util mean/max"))
    for device, wall, per_s, per_s_pl, rss, util in rows:
        print("%6s  %9.1f  %20.0f  %21.0f  %13.0f  %18s"
              % (device, wall, per_s, per_s_pl, rss, util))


if __name__ == "__main__":
    main()
