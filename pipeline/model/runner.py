"""Run a model on parsed batches: a TF SavedModel or a Keras `.keras` file.

Loaded once per worker (in the evaluation DoFn's `setup`) and called on
whole batches inside the evaluation stage, so each example's logits stay
with its labels, weights and slice values without a join. Beam's
RunInference is not used: its TensorFlow handlers do not load a Keras 3
`model.export()` SavedModel, and they split the outputs into one
PredictionResult per example that would have to be joined back to the
labels (docs/models.md, "Why not Beam RunInference", has the measurements).

Inputs are fed by name: each model input (a SavedModel signature's input
names, a Keras model's `keras.Input` names) takes the parsed (or
transformed, `pipeline.model.transform`) feature of that name, cast to the
input's dtype; a `[batch]` feature feeds a `[batch, 1]` input and vice
versa. Outputs must be `[batch]` or `[batch, logits_dimension]`. Where the
model runs: `pipeline.runtime.devices`.
"""
import logging
import os
import tempfile
import threading
from typing import Dict, Optional, Union

import numpy as np
import tensorflow as tf
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.config import DEFAULT_SIGNATURE
from pipeline.errors import ModelError
from pipeline.io.paths import is_local, local_path
from pipeline.runtime.devices import CPU, DEFAULT_DEVICE, GPU_DEVICE, choose_device

log = logging.getLogger(__name__)

KERAS_SUFFIX = ".keras"

_logged = set()
_logged_lock = threading.Lock()


def _log_once(message, *args):
    """WARNING (shown by the CLI) once per process for each distinct message."""
    text = message % args
    with _logged_lock:
        if text in _logged:
            return
        _logged.add(text)
    log.warning("%s", text)


def _local_copy(path):
    """Keras loads .keras files from local disk: a local path (file:// too) as
    a plain path, a remote file copied to a temporary folder first."""
    if is_local(path):
        return local_path(path)
    local = os.path.join(tempfile.mkdtemp(prefix="headeval-model-"), os.path.basename(path))
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as src, \
            open(local, "wb") as dst:
        dst.write(src.read())
    return local


def _describe(value):
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    kind = type(value).__name__
    if isinstance(value, tf.RaggedTensor):
        return "ragged %s %s" % (value.dtype.name, value.shape)
    if shape is not None:
        return "%s %s" % (getattr(dtype, "name", dtype), list(shape))
    return kind


class ModelRunner:
    """Calls a model on a dict of parsed features and returns its logits.

    Args:
      path: SavedModel directory (local or gs://) or a `.keras` file.
      outputs: output name (str) or {head name: output name}; None takes the
        model's only output.
      signature: SavedModel signature (default `serving_default`).
      device: auto | cpu | gpu.
      batch_size: examples per model call (None: the whole batch).
      logits_dimensions: optional check of the outputs' last dimension: an
        int (for one output) or {head name: int} (with `outputs` a dict).
    """

    def __init__(self, path: str, outputs: Union[str, Dict[str, str], None] = None,
                 signature: Optional[str] = None, device: str = DEFAULT_DEVICE,
                 batch_size: Optional[int] = None,
                 logits_dimensions: Union[int, Dict[str, int], None] = None):
        self.path = path
        self.outputs = outputs
        self.device = choose_device(device)
        self.batch_size = batch_size
        self.logits_dimensions = logits_dimensions
        self._keras = self._fn = None
        with tf.device(self.device):
            if str(path).endswith(KERAS_SUFFIX):
                self._load_keras(path)
            else:
                self._load_saved_model(path, signature or DEFAULT_SIGNATURE)
        self._check_output_names()
        _log_once("headeval: model %s runs on %s%s", path, self.device,
                  "" if self.device == GPU_DEVICE or device == CPU
                  else " (TensorFlow sees no GPU)")

    # -- loading ------------------------------------------------------------------

    def _load_keras(self, path):
        # Keras is imported only for a .keras model: importing TensorFlow
        # skips it (pipeline.runtime.keras_deferral), and it costs seconds.
        import keras
        try:
            model = keras.saving.load_model(_local_copy(path), compile=False)
        except Exception as e:  # OSError, ValueError, zipfile errors...
            raise ModelError("cannot load Keras model %r: %s" % (path, e)) from e
        self._keras = model
        inputs = list(model.inputs or [])
        if not inputs:
            raise ModelError("Keras model %r has no inputs (build it on keras.Input)" % path)
        self.input_names = [t.name.split(":")[0] for t in inputs]
        self.input_dtypes = {n: tf.as_dtype(t.dtype) for n, t in zip(self.input_names, inputs)}
        self.input_ranks = {n: len(t.shape) for n, t in zip(self.input_names, inputs)}
        self._dict_inputs = isinstance(getattr(model, "_inputs_struct", None), dict)
        struct = getattr(model, "_outputs_struct", None)
        names = getattr(model, "output_names", None)
        n_out = len(model.outputs or [])
        if isinstance(struct, dict):
            self.output_names = list(struct)
        elif names and len(names) == n_out:
            self.output_names = list(names)
        else:
            self.output_names = ["output_%d" % i for i in range(n_out)]

    def _load_saved_model(self, path, name):
        try:
            loaded = tf.saved_model.load(path)
        except Exception as e:  # OSError, ValueError, NotFoundError...
            raise ModelError("cannot load SavedModel at %r: %s (a SavedModel folder holds "
                             "saved_model.pb; for a Keras file give its .keras path)"
                             % (path, e)) from e
        if name not in loaded.signatures:
            raise ModelError("SavedModel %r has no signature %r; it has %s (model.signature)"
                             % (path, name, sorted(loaded.signatures)))
        self._loaded = loaded  # keeps the variables alive
        self._fn = loaded.signatures[name]
        specs = self._fn.structured_input_signature[1]
        self.input_names = sorted(specs)
        self.input_dtypes = {k: v.dtype for k, v in specs.items()}
        self.input_ranks = {k: v.shape.rank for k, v in specs.items()}
        self.output_names = sorted(self._fn.structured_outputs)

    def _check_output_names(self):
        wanted = (list(self.outputs.values()) if isinstance(self.outputs, dict)
                  else [self.outputs] if self.outputs is not None else [])
        for out in wanted:
            if out not in self.output_names:
                raise ModelError("model %r has no output %r (model.output); it has %s"
                                 % (self.path, out, self.output_names))
        if self.outputs is None and len(self.output_names) != 1:
            raise ModelError("model %r has outputs %s: name the one holding the logits with "
                             "model.output (or {head name: output})"
                             % (self.path, self.output_names))

    # -- calling ------------------------------------------------------------------

    def _inputs(self, features):
        missing = [n for n in self.input_names if n not in features]
        if missing:
            raise ModelError("model %r needs input(s) %s that the parsed features lack (have: "
                             "%s); add them to input.features or to the tf.Transform graph"
                             % (self.path, missing, sorted(features)))
        out = {}
        for name in self.input_names:
            value = features[name]
            if isinstance(value, tf.SparseTensor):
                tensor = value
            elif isinstance(value, tf.RaggedTensor):
                tensor = value
            else:
                array = np.asarray(value)
                if array.dtype.kind in "SOU" and self.input_dtypes[name] != tf.string:
                    raise ModelError("model %r input %r takes %s; feature %r holds strings"
                                     % (self.path, name, self.input_dtypes[name].name, name))
                tensor = tf.convert_to_tensor(array)
            if tensor.dtype != self.input_dtypes[name]:
                tensor = tf.cast(tensor, self.input_dtypes[name])
            rank = self.input_ranks.get(name)
            if rank is not None and not isinstance(tensor, (tf.SparseTensor, tf.RaggedTensor)):
                if tensor.shape.rank == rank - 1:
                    tensor = tf.expand_dims(tensor, -1)
                elif tensor.shape.rank == rank + 1 and tensor.shape[-1] == 1:
                    tensor = tf.squeeze(tensor, -1)
            out[name] = tensor
        return out

    def _call(self, inputs):
        with tf.device(self.device):
            try:
                if self._keras is not None:
                    if self._dict_inputs or len(inputs) > 1:
                        result = self._keras(inputs, training=False)
                    else:
                        result = self._keras(next(iter(inputs.values())), training=False)
                    if isinstance(result, dict):
                        return result
                    parts = list(result) if isinstance(result, (list, tuple)) else [result]
                    return dict(zip(self.output_names, parts))
                return self._fn(**inputs)
            except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
                raise ModelError("model %r failed on inputs %s: %s"
                                 % (self.path, {k: _describe(v) for k, v in inputs.items()},
                                    str(e).strip().splitlines()[0] if str(e).strip() else
                                    type(e).__name__)) from e

    def _pick(self, result):
        if self.outputs is None:
            return next(iter(result.values()))
        if isinstance(self.outputs, dict):
            return {head: result[out] for head, out in self.outputs.items()}
        return result[self.outputs]

    def __call__(self, features: dict,
                 batch_size: int) -> Union[np.ndarray, Dict[str, np.ndarray], None]:
        """Logits for a batch of `batch_size` examples: an array [batch, d],
        or {head name: array} when `outputs` is a dict."""
        step = self.batch_size or batch_size or 1
        parts = []
        for start in range(0, batch_size, step):
            stop = min(start + step, batch_size)
            chunk = features if step >= batch_size else _rows(features, self.input_names,
                                                               start, stop)
            parts.append(self._pick(self._call(self._inputs(chunk))))
        if not parts:
            return None
        if isinstance(parts[0], dict):
            dims = self.logits_dimensions if isinstance(self.logits_dimensions, dict) else {}
            return {k: self._check(np.concatenate([_numpy(p[k], self.outputs[k]) for p in parts]),
                                   batch_size, self.outputs[k], dims.get(k), k)
                    for k in parts[0]}
        name = self.outputs or self.output_names[0]
        dim = self.logits_dimensions if isinstance(self.logits_dimensions, int) else None
        return self._check(np.concatenate([_numpy(p, name) for p in parts]), batch_size, name,
                           dim, None)

    def _check(self, values, batch_size, output, dimension, head):
        """[batch] / [batch, d] float32 logits, or ModelError naming the output."""
        where = "model %r output %r%s" % (self.path, output,
                                          " (logits of head %r)" % head if head else "")
        if values.dtype.kind not in "fiub":
            raise ModelError("%s holds %s values; logits must be numbers" % (where, values.dtype))
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ModelError("%s has shape [batch, %s]; logits must be [batch] or [batch, "
                             "logits_dimension]"
                             % (where, ", ".join(str(d) for d in values.shape[1:])))
        if values.shape[0] != batch_size:
            raise ModelError("%s has %d rows for a batch of %d examples"
                             % (where, values.shape[0], batch_size))
        if dimension is not None and values.shape[1] != dimension:
            raise ModelError("%s has shape [batch, %d]; the head%s need%s [batch, %d] "
                             "(1 for a binary head, n_classes for multi-class and multi-label, "
                             "label_dimension for regression)"
                             % (where, values.shape[1], "" if head else "s",
                                "s" if head else "", dimension))
        return values.astype(np.float32, copy=False)


def _rows(features, names, start, stop):
    """Rows [start, stop) of the named features (dense, ragged or sparse)."""
    out = {}
    for name in names:
        if name not in features:
            continue
        value = features[name]
        if isinstance(value, tf.SparseTensor):
            size = tf.concat([[stop - start], value.dense_shape[1:]], 0)
            value = tf.sparse.slice(value, tf.concat([[start], tf.zeros_like(
                value.dense_shape[1:])], 0), size)
        else:
            value = value[start:stop]
        out[name] = value
    return out


def _numpy(value, name):
    if isinstance(value, (tf.SparseTensor, tf.RaggedTensor)):
        raise ModelError("model output %r is %s; logits must be dense"
                         % (name, type(value).__name__))
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)
