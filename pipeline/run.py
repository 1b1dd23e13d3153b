"""Build and run the evaluation pipeline; write the report (docs/report.md).

    ReadBatches ─> EvaluateBatches ─┬─ metrics ─> CombinePerKey(MergeMetrics) ─> SliceRows ─> GatherSlices ─> WriteReport
                                    ├─ counts ──> CombineGlobally(SumCounts) ─> counts file
                                    └─ rejected ─> WriteToParquet(rejected/)      (skip only)

The pipeline writes into the report's temporary folder (`ReportOutput`);
metrics are keyed by (model, slice): the candidate's, and the baseline's
when the config has one, both from the same batches. The driver then checks
the counts (read = evaluated + rejected), writes comparison.parquet and the
validation gates' files (pipeline.report.validation), run.json last, and
moves the folder into place. A run that fails anywhere leaves no report.
"""
import dataclasses
import logging
import platform
import time
from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.config import BINARY, SKIP, Config, VocabularyRef
from pipeline.config.intervals import interval_record
from pipeline.errors import ConfigError, CountMismatchError, EmptyInputError
from pipeline.evaluate.build import build_report_head
from pipeline.evaluate.combine import MergeMetrics, SumCounts
from pipeline.evaluate.stage import COUNTS_TAG, METRICS_TAG, REJECTED_TAG, EvaluateBatches
from pipeline.io.files import read_json, write_json
from pipeline.io.paths import join
from pipeline.io.reader import ReadBatches
from pipeline.report.output import ReportOutput
from pipeline.report.paired import paired_stage
from pipeline.report.rows import undefined_metrics
from pipeline.report.schema import (BASELINE, CANDIDATE, COUNTS_FILE, REJECTED_DIR,
                                    REJECTED_SCHEMA, REPORT_FORMAT, REPORT_MARKER, RUN_FILE,
                                    SUPPRESSED_FILE)
from pipeline.report.stages import SliceRows, WriteReport, gather_slices, slice_tables
from pipeline.report.validation import finish_comparison
from pipeline.runtime import dataflow, signals
from pipeline.runtime.beam_tuning import shorten_bundle_sampler_sleep
from pipeline.runtime.runner_args import check_beam_argv, check_runner
from pipeline.runtime.workers import choose_workers, work_parts

log = logging.getLogger(__name__)


def _write_counts(counts, path):
    write_json(counts, path)
    return path


def build_pipeline(pipeline: beam.Pipeline, config: Config, folder: str,
                   parts: int = 1) -> beam.Pipeline:
    """Adds the evaluation of `config` to `pipeline`, writing into `folder`;
    `parts`: the pieces of work the read should make (`ReadBatches`)."""
    head_names, empty_metrics = build_report_head(config)
    models = (CANDIDATE, BASELINE) if config.baseline is not None else (CANDIDATE,)
    results = (pipeline
               | "Read" >> ReadBatches(config.input.pattern, config.batch_size,
                                      skip_corrupt=config.bad_examples == SKIP,
                                      features=config.input.features, parts=parts)
               | "Evaluate" >> beam.ParDo(EvaluateBatches(config)).with_outputs(
                   COUNTS_TAG, REJECTED_TAG, main=METRICS_TAG))
    merged = results[METRICS_TAG] | "MergePerSlice" >> beam.CombinePerKey(MergeMetrics())
    if config.baseline is not None and config.metrics.confidence_intervals is not None:
        paired_stage(merged, head_names, config, folder)  # comparison's delta intervals
    _ = (merged
         | "SliceRows" >> beam.ParDo(SliceRows(
             head_names, config if config.metrics.confidence_intervals else None))
         | "GatherSlices" >> gather_slices(config.slices, config.max_slices)
         | "WriteReport" >> beam.ParDo(WriteReport(
             folder, config.slices,
             [slice_tables("", empty_metrics, head_names, model) for model in models],
             config.min_slice_size, fairness=config.metrics.fairness)))
    _ = (results[COUNTS_TAG]
         | "SumCounts" >> beam.CombineGlobally(SumCounts())
         | "WriteCounts" >> beam.Map(_write_counts, join(folder, COUNTS_FILE)))
    if config.bad_examples == SKIP:
        _ = (results[REJECTED_TAG]
             | "WriteRejected" >> beam.io.WriteToParquet(
                 join(folder, REJECTED_DIR, "rejected"), REJECTED_SCHEMA,
                 file_name_suffix=".parquet"))
    return pipeline


def resolve_vocabularies(config: Config, folder: str, beam_argv) -> Config:
    """The config with every run-time label vocabulary replaced by its words.

    `{tft: NAME}` is read from the tf.Transform output; `{compute: true}` is
    computed by a tf.Transform analyzer pass over the input
    (`pipeline.model.vocab`, one Beam pipeline for all such heads, run with
    `beam_argv`) and written to `<folder>/vocabularies/<head name>.txt`.
    `folder` is the report's temporary folder. A vocabulary whose size is not
    the head's class count (2 for binary, else n_classes) is a ConfigError
    naming the key, as is a class of classes_for_class_based_metrics that
    is not in it."""
    def fail(message, key):
        raise ConfigError("%s: `%s`: %s" % (config.source, key, message), config.source, key)

    resolved, to_compute = {}, []
    for i, h in enumerate(config.heads):
        vocab = h.label_vocabulary
        if not isinstance(vocab, VocabularyRef):
            continue
        key = "heads[%d].label_vocabulary" % i
        if vocab.compute:
            feature = config.input.features.get(h.label)
            if feature is not None and feature.dtype != "string":
                fail("{compute: true} maps string labels to class ids, but heads[%d].label %r "
                     "is a %s feature; drop label_vocabulary to use its values as class ids"
                     % (i, h.label, feature.dtype), key + ".compute")
            to_compute.append((i, h))
            continue
        import tensorflow_transform as tft
        try:
            words = tft.TFTransformOutput(config.transform.tft_output) \
                .vocabulary_by_name(vocab.tft)
        except Exception as e:
            raise ConfigError("%s: `%s.tft`: cannot read vocabulary %r from %s: %s"
                              % (config.source, key, vocab.tft,
                                 config.transform.tft_output, e),
                              config.source, key + ".tft") from e
        resolved[i] = (tuple(w.decode("utf-8") if isinstance(w, bytes) else str(w)
                             for w in words), key + ".tft", "vocabulary %r" % vocab.tft)
    if to_compute:
        from pipeline.model.vocab import compute_vocabularies
        options = PipelineOptions(list(beam_argv or []))
        if dataflow.builds_job_only(options):
            i = to_compute[0][0]
            fail("{compute: true} runs an analyzer job before the evaluation, which a Dataflow "
                 "template or --dry_run cannot do; compute it in a normal run (it is written "
                 "to vocabularies/ in the report) and give it as {file: path}",
                 "heads[%d].label_vocabulary.compute" % i)
        computed = compute_vocabularies(config, to_compute, folder, beam_argv)
        for i, _ in to_compute:
            resolved[i] = (computed[i], "heads[%d].label_vocabulary.compute" % i,
                           "the vocabulary computed from input.pattern")
    heads = []
    for i, h in enumerate(config.heads):
        if i in resolved:
            words, key, what = resolved[i]
            expected = 2 if h.type == BINARY else h.n_classes
            if len(words) != expected:
                fail("%s has %d entries %s; the head needs %d (%s)"
                     % (what, len(words), list(words[:20]) + (["..."] if len(words) > 20
                                                              else []), expected,
                        "a binary head has 2 classes" if h.type == BINARY
                        else "heads[%d].n_classes" % i), key)
            for c in h.classes_for_class_based_metrics or ():
                if isinstance(c, str) and c not in words:
                    fail("classes_for_class_based_metrics names %r, which is not in %s %s"
                         % (c, what, list(words)), "heads[%d].classes_for_class_based_metrics"
                         % i)
            h = dataclasses.replace(h, label_vocabulary=words)
        heads.append(h)
    return dataclasses.replace(config, heads=tuple(heads))


def _versions():
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for name in ("headeval", "tensorflow", "apache-beam", "tensorflow-transform", "numpy",
                 "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _check_counts(counts):
    read, evaluated, rejected = counts["read"], counts["evaluated"], counts["rejected"]
    if read != evaluated + rejected:
        raise CountMismatchError(
            "counts do not add up: %d records read, %d evaluated + %d rejected = %d; the "
            "report is not written" % (read, evaluated, rejected, evaluated + rejected))
    by_kind = sum(v for k, v in counts.items() if k.startswith("rejected/"))
    if by_kind != rejected:
        raise CountMismatchError("rejections by kind add up to %d, not %d" % (by_kind, rejected))


def run_pipeline(config: Config, output: str, overwrite: bool = False, beam_argv=None) -> dict:
    """Evaluates `config` and writes its report to `output`.

    Args:
      config: a `pipeline.config.Config`.
      output: report folder (local or any Beam filesystem, e.g. gs://).
      overwrite: replace an existing report there.
      beam_argv: Beam pipeline options (`--runner=...`, ...).

    Returns:
      The run.json contents (dict).

    Raises:
      HeadevalError subclasses for bad configs, inputs and outputs.
    """
    started = time.time()
    check_beam_argv(beam_argv)  # Beam would ignore an unknown option, or fail deep inside
    options = PipelineOptions(list(beam_argv or []))
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    check_runner(runner)
    # -- Dataflow (pipeline/runtime/dataflow.py): workers cannot see local paths; a
    # template or --dry_run only builds the job: no counts, no report.
    dataflow.check_dataflow_run(config, output, options)
    if dataflow.builds_job_only(options):
        resolved = resolve_vocabularies(config, output, beam_argv)
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, resolved, output)  # a template runs later, with no driver
        return dataflow.job_built(pipeline.run(), config, output, options, beam_argv)
    # --
    # DirectRunner's worker processes only where the input pays back their start
    given_argv = list(beam_argv or [])
    beam_argv, workers = choose_workers(options, given_argv, config.input.pattern)
    options = PipelineOptions(beam_argv)
    shorten_bundle_sampler_sleep()  # for the bundles run in this process
    out = ReportOutput(output, overwrite=overwrite)
    try:
        resolved = resolve_vocabularies(config, out.path, beam_argv)
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, resolved, out.path, work_parts(workers))
        result = pipeline.run()
        result.wait_until_finish()
        dataflow.check_finished(result)  # e.g. a cancelled Dataflow job: no counts to read
        counts = read_json(out.file(COUNTS_FILE))
        for key in ("read", "evaluated", "rejected"):
            counts.setdefault(key, 0)
        FileSystems.delete([out.file(COUNTS_FILE)])
        _check_counts(counts)
        if counts["read"] == 0:
            raise EmptyInputError("input.pattern %r matches files, but they hold no records"
                                  % config.input.pattern)
        finished = time.time()
        run = {
            REPORT_MARKER: REPORT_FORMAT,
            "config": resolved.to_dict(),
            "config_file": config.source,
            "output": out.output,
            "runner": str(runner),
            "beam_options": given_argv,
            **({"workers": workers} if workers is not None else {}),
            "versions": _versions(),
            "counts": {"read": counts["read"], "evaluated": counts["evaluated"],
                       "rejected": counts["rejected"],
                       "rejected_by_kind": {k.split("/", 1)[1]: v for k, v in
                                            sorted(counts.items()) if k.startswith("rejected/")},
                       # An example rejected for any reason is left out of every
                       # head (one row of rejected/), so each head sees them all.
                       "heads": {h.name or "": {"read": counts["read"],
                                                "evaluated": counts["evaluated"],
                                                "rejected": counts["rejected"]}
                                 for h in config.heads}},
            "undefined_metrics": undefined_metrics(out.path),  # NaN values: 0/0 on their slice
            "confidence_intervals": interval_record(resolved.metrics.confidence_intervals),
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(),
            "finished": datetime.fromtimestamp(finished, timezone.utc).isoformat(),
            "wall_seconds": finished - started,
        }
        if config.min_slice_size is not None:  # slices left out of the report
            suppressed = read_json(out.file(SUPPRESSED_FILE))["suppressed"]
            FileSystems.delete([out.file(SUPPRESSED_FILE)])
            run["slices_suppressed"] = {"count": suppressed,
                                        "min_slice_size": config.min_slice_size}
        # comparison.parquet (with a baseline), the gates: validation.parquet, BLESSED/NOT_BLESSED
        run.update(finish_comparison(out.path, resolved))
        write_json(run, out.file(RUN_FILE))
        signals.check()  # never replace the old report after a Ctrl-C, even one dropped
        out.commit()
    except BaseException as e:
        out.abort()
        error = out.write_error(e)  # a full disk, a read-only folder: one line
        if error is not None:
            raise error from e
        raise
    return run
