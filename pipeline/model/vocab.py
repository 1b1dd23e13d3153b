"""`label_vocabulary: {compute: true}`: a tf.Transform analyzer pass over the
evaluation data computes a head's label vocabulary before the evaluation.

    ReadBatches ─> LabelBatches (parse, tf.Transform graph if any) ─> Arrow RecordBatches
                ─> tft_beam.AnalyzeDataset(tft.vocabulary per head) ─> WriteTransformFn (scratch)

One Beam pipeline (the run's own Beam options: the same runner) computes
the vocabularies of every `{compute: true}` head at once. The records are
read and parsed exactly as the evaluation reads them (same reader, same
parse spec, the same `bad_examples` rule for records that do not parse), so
every label the evaluation sees is counted; examples the evaluation later
rejects for other reasons (a negative weight, non-finite logits) are
counted too. Labels go to tf.Transform as Arrow record batches (TFXIO), not
instance dicts.

The vocabulary is tf.Transform's: descending frequency, ties in tf.Transform's
order; `tft.vocabulary` drops empty strings and strings holding a newline
(the evaluation then rejects such labels as not in the vocabulary). Each one
is written to `<folder>/vocabularies/<head name>.txt` (`head.txt` for one
unnamed head), one word per line: the `{file: path}` format, so a later run can
pin it. The tf.Transform scratch output goes under `<folder>/_tft_vocabulary`
and is removed afterwards.
"""
import logging
from typing import Dict, Iterable, Iterator, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import SKIP, Config, HeadConfig
from pipeline.runtime import dataflow
from pipeline.errors import HeadevalError
from pipeline.io.parse import Parser
from pipeline.io.batches import CorruptRecord, ReadItem
from pipeline.io.reader import ReadBatches
from pipeline.io.files import remove_tree
from pipeline.io.paths import join
from pipeline.report.schema import VOCABULARY_DIR
from pipeline.model.transform import Transform

log = logging.getLogger(__name__)

SCRATCH_DIR = "_tft_vocabulary"
UNNAMED_HEAD = "head"


def vocabulary_file_name(head_cfg: HeadConfig) -> str:
    """`<head name>.txt` (`head.txt` for one unnamed head)."""
    return "%s.txt" % (head_cfg.name or UNNAMED_HEAD)


def _column(index):
    return "label_%d" % index


def _vocab_name(index):
    return "headeval_label_vocabulary_%d" % index


def _strings_to_arrow(values, feature):
    """A parsed label (dense [B] / [B, k] bytes, or tf.RaggedTensor /
    tf.SparseTensor of bytes) -> (pyarrow LargeListArray of binary, row count)."""
    if isinstance(values, tf.SparseTensor):
        values = tf.RaggedTensor.from_sparse(values)
    if isinstance(values, tf.RaggedTensor):
        if values.ragged_rank != 1:
            values = values.merge_dims(1, -1)
        flat, splits = values.flat_values.numpy(), values.row_splits.numpy()
    else:
        array = np.asarray(values)
        rows = array.shape[0] if array.ndim else 0
        array = array.reshape(rows, -1)
        flat = array.ravel()
        splits = np.arange(rows + 1, dtype=np.int64) * array.shape[1]
    if flat.dtype.kind not in "SOU":
        raise HeadevalError(
            "label_vocabulary {compute: true}: label feature %r holds %s values; a computed "
            "vocabulary maps strings to class ids, so the label must be a string feature"
            % (feature, flat.dtype))
    if flat.dtype.kind == "U":
        flat = np.char.encode(flat, "utf-8")
    # Parsed strings are an object array of bytes: pyarrow takes it whole.
    array = pa.LargeListArray.from_arrays(pa.array(splits, pa.int64()),
                                          pa.array(flat, pa.large_binary()))
    return array, len(splits) - 1


class LabelBatches(beam.DoFn):
    """RecordBatch -> a pyarrow RecordBatch of the label columns (one per
    head whose vocabulary is computed), parsed as the evaluation parses them."""

    def __init__(self, config: Config, labels: Dict[str, str]):
        self._config = config
        self._labels = dict(labels)  # column -> label feature

    def setup(self) -> None:
        config = self._config
        self._parser = Parser(config.input.features)
        self._skip = config.bad_examples == SKIP
        self._transform = None
        if config.transform is not None and any(f not in config.input.features
                                                for f in self._labels.values()):
            self._transform = Transform(config.transform.tft_output)

    def process(self, batch: ReadItem) -> Iterator[pa.RecordBatch]:
        if isinstance(batch, CorruptRecord):  # only under skip: the evaluation rejects it
            return
        if self._skip:
            features, rows, _ = self._parser.parse_valid(batch)
            if len(rows) == 0:
                return
        else:
            features = self._parser(batch)
        if self._transform is not None:
            features = self._transform(features)
        arrays = []
        for feature in self._labels.values():
            if feature not in features:
                raise HeadevalError("label_vocabulary {compute: true}: label feature %r is "
                                    "neither parsed nor made by the tf.Transform graph (have: "
                                    "%s)" % (feature, sorted(features)))
            arrays.append(_strings_to_arrow(features[feature], feature)[0])
        yield pa.RecordBatch.from_arrays(arrays, list(self._labels))


def build_analysis(pipeline: beam.Pipeline, config: Config,
                   heads: Iterable[Tuple[int, HeadConfig]], scratch: str) -> beam.pvalue.PValue:
    """Adds the analyzer pass to `pipeline`: reads `config.input`, computes
    the vocabulary of each (index, head config) in `heads` and writes the
    tf.Transform output to `scratch`. Returns the WriteTransformFn result."""
    # tf.Transform and the TFX libraries: seconds to import, and needed only
    # by a config with `label_vocabulary: {compute: true}`.
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx_bsl.tfxio import tensor_adapter

    labels = {_column(i): h.label for i, h in heads}
    arrow_schema = pa.schema([pa.field(c, pa.large_list(pa.large_binary())) for c in labels])
    representations = {
        c: schema_pb2.TensorRepresentation(
            varlen_sparse_tensor=schema_pb2.TensorRepresentation.VarLenSparseTensor(
                column_name=c))
        for c in labels}
    adapter_config = tensor_adapter.TensorAdapterConfig(arrow_schema, representations)
    names = {_column(i): _vocab_name(i) for i, _ in heads}

    def preprocessing_fn(inputs):
        outputs = {}
        for column, name in names.items():
            tft.vocabulary(inputs[column], vocab_filename=name)
            outputs[column] = inputs[column]
        return outputs

    with tft_beam.Context(temp_dir=join(scratch, "tmp"), force_tf_compat_v1=False):
        batches = (pipeline
                   | "VocabRead" >> ReadBatches(config.input.pattern, config.batch_size,
                                                skip_corrupt=config.bad_examples == SKIP)
                   | "VocabLabels" >> beam.ParDo(LabelBatches(config, labels)))
        transform_fn = (batches, adapter_config) | "VocabAnalyze" >> tft_beam.AnalyzeDataset(
            preprocessing_fn)
        return transform_fn | "VocabWrite" >> tft_beam.WriteTransformFn(
            join(scratch, "transform_output"))


def compute_vocabularies(config: Config, heads: Iterable[Tuple[int, HeadConfig]], folder: str,
                         beam_argv: Optional[Sequence[str]] = None) -> Dict[int, tuple]:
    """Runs the analyzer pass; returns {head index: tuple of words} for each
    (index, head config) in `heads` and writes each vocabulary to
    `<folder>/vocabularies/<head name>.txt`.

    Args:
      config: the `pipeline.config.Config` (its input, parse spec,
        `bad_examples` and `transform` are used).
      heads: [(index in config.heads, HeadConfig)] whose vocabulary to compute.
      folder: the report's (temporary) folder, local or a Beam filesystem URI.
      beam_argv: Beam pipeline options for the analyzer pipeline.
    """
    import tensorflow_transform as tft  # only for {compute: true}: see build_analysis

    heads = list(heads)
    if not heads:
        return {}
    scratch = join(folder, SCRATCH_DIR)
    try:
        pipeline = beam.Pipeline(options=PipelineOptions(list(beam_argv or [])))
        build_analysis(pipeline, config, heads, scratch)
        result = pipeline.run()
        result.wait_until_finish()
        dataflow.check_finished(result)  # e.g. a cancelled Dataflow job: no vocabulary
        output = tft.TFTransformOutput(join(scratch, "transform_output"))
        words = {}
        for i, h in heads:
            vocab = output.vocabulary_by_name(_vocab_name(i))
            words[i] = tuple(w.decode("utf-8") if isinstance(w, bytes) else str(w)
                             for w in vocab)
    finally:
        remove_tree(scratch)
    for i, h in heads:
        path = join(folder, VOCABULARY_DIR, vocabulary_file_name(h))
        with FileSystems.create(path, mime_type="text/plain",
                                compression_type=CompressionTypes.UNCOMPRESSED) as f:
            f.write("".join(w + "\n" for w in words[i]).encode("utf-8"))
        log.info("headeval: computed label vocabulary of heads[%d] (%d words) -> %s",
                 i, len(words[i]), path)
    return words
