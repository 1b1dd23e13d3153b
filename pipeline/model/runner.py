"""Run a model on parsed batches: a TF SavedModel or a Keras `.keras` file;
apply a saved tf.Transform graph first.

Loaded once per worker (in the evaluation DoFn's `setup`) and called on
whole batches inside the evaluation stage, so each example's logits stay
with its labels, weights and slice values without a join. Beam's
RunInference was not used: its TensorFlow handlers do not load a Keras 3
`model.export()` SavedModel, and their default inference function splits
the outputs row by row into PredictionResults that would have to be joined
back to the labels (NOTES.md: ~9.5k examples/s against ~62k/s for a batch
DoFn; see README "Models and tf.Transform").

Inputs are fed by name: each model input (a SavedModel signature's input
names, a Keras model's `keras.Input` names) takes the parsed (or
transformed) feature of that name, cast to the input's dtype; a `[batch]`
feature feeds a `[batch, 1]` input and vice versa. Outputs must be
`[batch]` or `[batch, logits_dimension]`.
"""
import logging
import os
import threading

import numpy as np
import tensorflow as tf

from pipeline.errors import ModelError, TransformError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "gpu")

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


def choose_device(device):
    """'auto' -> GPU when TensorFlow sees one, else CPU; 'gpu' without one fails.

    Returns the TensorFlow device string ('/GPU:0' or '/CPU:0'). Turns on
    memory growth for the visible GPUs (several SDK processes share one GPU
    on a Dataflow worker)."""
    if device not in DEVICES:
        raise ModelError("model.device must be one of %s; got %r" % (", ".join(DEVICES), device))
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise ModelError("model.device is 'gpu' but TensorFlow sees no GPU on this worker "
                         "(tf.config.list_physical_devices('GPU') is empty); use device: auto "
                         "or cpu, or run on GPU workers")
    if device == "cpu":
        return "/CPU:0"
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised
            pass
    return "/GPU:0" if gpus else "/CPU:0"


def use_one_thread_per_op():
    """One intra-op and one inter-op TensorFlow thread for this process,
    unless TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS say otherwise or
    TensorFlow has already started (then nothing changes). Returns whether it
    took effect.

    For when the heads' small batch ops are all TensorFlow does (logits come
    from a feature): the evaluation already keeps both cores of our 2-core
    machines busy with its own threads (the heads' thread, the evaluating
    thread, tf.data's reader), and TensorFlow's default pools of one thread
    per core oversubscribed them. A/B alternating, 5 runs each, 1M examples:
    pipeline median 6.19 -> 5.66 s. A SavedModel's forward pass keeps the
    defaults: it is the kind of op that pays for parallelism."""
    if os.environ.get("TF_NUM_INTRAOP_THREADS") or os.environ.get("TF_NUM_INTEROP_THREADS"):
        return False
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow's context is already initialised
        return False
    return True


def _local_copy(path):
    """Keras loads .keras files from local disk: copy remote ones first."""
    if "://" not in path:
        return path
    from apache_beam.io.filesystems import FileSystems
    import tempfile
    local = os.path.join(tempfile.mkdtemp(prefix="headeval-model-"), os.path.basename(path))
    with FileSystems.open(path) as src, open(local, "wb") as dst:
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

    def __init__(self, path, outputs=None, signature=None, device="auto", batch_size=None,
                 logits_dimensions=None):
        self.path = path
        self.outputs = outputs
        self.device = choose_device(device)
        self.batch_size = batch_size
        self.logits_dimensions = logits_dimensions
        self._keras = self._fn = None
        with tf.device(self.device):
            if str(path).endswith(".keras"):
                self._load_keras(path)
            else:
                self._load_saved_model(path, signature or "serving_default")
        self._check_output_names()
        _log_once("headeval: model %s runs on %s%s", path, self.device,
                  "" if self.device.startswith("/GPU") or device == "cpu"
                  else " (TensorFlow sees no GPU)")

    # -- loading ------------------------------------------------------------------

    def _load_keras(self, path):
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

    def __call__(self, features, batch_size):
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


class Transform:
    """Applies a saved tf.Transform graph (`transform.tft_output`) to raw
    parsed features: returns the features with the transformed ones added
    (a transformed feature replaces a raw one of the same name).

    The raw feature spec comes from the output's `metadata/` folder
    (`tft.TFTransformOutput.raw_feature_spec()`); `tft_beam.WriteTransformFn`
    does not write it, so a preprocessing job must (see README)."""

    def __init__(self, tft_output):
        import tensorflow_transform as tft
        self.path = tft_output
        try:
            self.output = tft.TFTransformOutput(tft_output)
            self.output.transformed_feature_spec()
            self._layer = self.output.transform_features_layer()
        except Exception as e:
            raise TransformError("cannot load the tf.Transform output %r (transform.tft_output): "
                                 "%s" % (tft_output, e)) from e
        try:
            self.raw_spec = self.output.raw_feature_spec()
        except Exception as e:
            raise TransformError(
                "the tf.Transform output %r has no raw metadata (%s): tft_beam.WriteTransformFn "
                "does not write it; write it with tensorflow_transform.tf_metadata.metadata_io"
                ".write_metadata(raw_metadata, os.path.join(tft_output, '%s')) (%s)"
                % (tft_output, os.path.join(tft_output, tft.TFTransformOutput.RAW_METADATA_DIR),
                   tft.TFTransformOutput.RAW_METADATA_DIR, e)) from e

    def _raw(self, name, value):
        spec = self.raw_spec[name]
        if isinstance(spec, tf.io.VarLenFeature):
            if isinstance(value, tf.RaggedTensor):
                return value.to_sparse()
            if isinstance(value, tf.SparseTensor):
                return value
            array = np.asarray(value)  # every value kept (from_dense would drop zeros)
            return tf.RaggedTensor.from_tensor(array.reshape(len(array), -1)).to_sparse()
        if isinstance(value, (tf.RaggedTensor, tf.SparseTensor)):
            if isinstance(spec, tf.io.RaggedFeature):
                return value if isinstance(value, tf.RaggedTensor) \
                    else tf.RaggedTensor.from_sparse(value)
            raise TransformError("the tf.Transform graph %r takes feature %r as %s; "
                                 "input.features parses it var-length"
                                 % (self.path, name, type(spec).__name__))
        array = np.asarray(value)
        shape = list(getattr(spec, "shape", []) or [])
        if isinstance(spec, tf.io.FixedLenFeature) and list(array.shape[1:]) != shape \
                and int(np.prod(array.shape[1:])) == int(np.prod(shape)):
            array = array.reshape([len(array)] + shape)
        tensor = tf.convert_to_tensor(array)
        if tensor.dtype != spec.dtype:
            tensor = tf.cast(tensor, spec.dtype)
        return tensor

    def __call__(self, features):
        raw = {name: self._raw(name, features[name]) for name in self.raw_spec
               if name in features}
        try:
            transformed = self._layer(raw)
        except Exception as e:
            missing = sorted(set(self.raw_spec) - set(raw))
            raise TransformError(
                "the tf.Transform graph %r failed on the parsed features%s: %s"
                % (self.path, "; it may need raw feature(s) %s that input.features lacks"
                   % missing if missing else "", str(e).strip().splitlines()[0]
                   if str(e).strip() else type(e).__name__)) from e
        out = dict(features)
        for name, value in transformed.items():
            out[name] = value.numpy() if hasattr(value, "numpy") else value
        return out
