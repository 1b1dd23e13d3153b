"""Records/s of ReadBatches (+ parse) on Beam's local runner.

Writes `--n` small tf.train.Example records (a float logit, an int64 label,
a float weight, a string country: ~77 bytes each) into `--files` TFRecord
files, then times, median of `--repeats` runs each:

  read         ReadBatches -> count records
  read+parse   ReadBatches -> Parser -> count rows
  baseline     beam.io.ReadFromTFRecord (one element per record) -> count
               (only with --baseline; docs/performance.md has past figures)

    python benchmarks/bench_read.py --n 1000000 [--gzip] [--baseline]
        [--beam_option=--direct_num_workers=2 ...]
"""
import argparse
import os
import statistics
import tempfile
import time
from typing import List

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import DEFAULT_BATCH_SIZE, Feature
from pipeline.io.parse import Parser
from pipeline.io.reader import ReadBatches
from pipeline.runtime.runner_args import with_default_runner

FEATURES = {"logits": Feature("logits", "float32"), "label": Feature("label", "int64"),
            "weight": Feature("weight", "float32", default=1.0),
            "country": Feature("country", "string")}


def make_records(k: int = 10000, seed: int = 0) -> List[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(k):
        f = tf.train.Features(feature={
            "logits": tf.train.Feature(float_list=tf.train.FloatList(value=[rng.normal()])),
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(i % 2)])),
            "weight": tf.train.Feature(float_list=tf.train.FloatList(value=[rng.uniform()])),
            "country": tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[[b"US", b"FR", b"BR"][i % 3]])),
        })
        out.append(tf.train.Example(features=f).SerializeToString())
    return out


def write_files(folder: str, n: int, n_files: int, gzip: bool) -> str:
    base = make_records()
    options = tf.io.TFRecordOptions(compression_type="GZIP") if gzip else None
    suffix = ".tfrecord.gz" if gzip else ".tfrecord"
    per_file = [n // n_files + (i < n % n_files) for i in range(n_files)]
    for i, count in enumerate(per_file):
        with tf.io.TFRecordWriter(os.path.join(folder, "part-%03d%s" % (i, suffix)),
                                  options=options) as w:
            for j in range(count):
                w.write(base[j % len(base)])
    return os.path.join(folder, "part-*" + suffix)


def _count(pcoll, size_fn):
    return pcoll | beam.Map(size_fn) | beam.CombineGlobally(sum)


def _check(total, kind, n):
    """Runs on the worker (a list in this process would be a pickled copy)."""
    if total != n:
        raise AssertionError("%s counted %d records, expected %d" % (kind, total, n))


def run_once(kind: str, pattern: str, batch_size: int, options: List[str], n: int) -> float:
    start = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(options)) as p:
        if kind == "baseline":
            total = (p | beam.io.ReadFromTFRecord(pattern)
                     | beam.combiners.Count.Globally())
        else:
            batches = p | ReadBatches(pattern, batch_size)
            if kind == "read":
                total = _count(batches, lambda b: len(b.records))
            else:
                parser = Parser(FEATURES)
                total = _count(batches, lambda b, parse=parser: len(parse(b)["label"]))
        total | beam.Map(_check, kind, n)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--beam_option", action="append", default=[],
                        help="a Beam option, e.g. --beam_option=--direct_num_workers=2")
    args = parser.parse_args()
    options = with_default_runner(args.beam_option)
    with tempfile.TemporaryDirectory(prefix="bench_read-") as folder:
        t = time.perf_counter()
        pattern = write_files(folder, args.n, args.files, args.gzip)
        print("wrote %d records in %d %s files (%.1f s); options %s"
              % (args.n, args.files, "gzip" if args.gzip else "plain",
                 time.perf_counter() - t, " ".join(options)))
        kinds = ["read", "read+parse"] + (["baseline"] if args.baseline else [])
        for kind in kinds:
            times = [run_once(kind, pattern, args.batch_size, options, args.n)
                     for _ in range(args.repeats)]
            median = statistics.median(times)
            print("%-11s %8.0f records/s  (median %.2f s of %s)"
                  % (kind, args.n / median, median, ", ".join("%.2f" % x for x in times)))


if __name__ == "__main__":
    main()
