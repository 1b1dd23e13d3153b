"""Run a model on parsed batches: a TF SavedModel or a Keras `.keras` file.

Loaded once per worker (in the DoFn's `setup`) and called on whole batches
inside the evaluation stage, so each example's logits stay with its labels,
weights and slice values without a join. Beam's RunInference was not used:
its TensorFlow handlers do not load a Keras 3 `model.export()` SavedModel,
and they split outputs row by row (NOTES.md: ~9.5k examples/s against ~62k/s
for a batch DoFn).
"""
import logging
import os

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "gpu")


class ModelError(ValueError):
    """The model could not be loaded or gave outputs of the wrong form."""


def choose_device(device):
    """'auto' -> GPU when TensorFlow sees one, else CPU; 'gpu' without one fails."""
    if device not in DEVICES:
        raise ModelError("model.device must be one of %s; got %r" % (DEVICES, device))
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise ModelError("model.device is 'gpu' but TensorFlow sees no GPU on this worker "
                         "(tf.config.list_physical_devices('GPU') is empty); use device: auto "
                         "or cpu, or run on GPU workers")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised
            pass
    return "/GPU:0" if gpus and device in ("auto", "gpu") else "/CPU:0"


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


class ModelRunner:
    """Calls a model on a dict of parsed features and returns its outputs.

    Args:
      path: SavedModel directory (local or gs://) or a `.keras` file.
      outputs: output name (str) or {head name: output name}; None takes the
        model's only output.
      signature: SavedModel signature (default `serving_default`).
      device: auto | cpu | gpu.
      batch_size: examples per model call (None: the whole batch).
    """

    def __init__(self, path, outputs=None, signature=None, device="auto", batch_size=None):
        self.path = path
        self.outputs = outputs
        self.device = choose_device(device)
        self.batch_size = batch_size
        with tf.device(self.device):
            if path.endswith(".keras"):
                import keras
                self._keras = keras.saving.load_model(_local_copy(path), compile=False)
                self._fn = None
                self.input_names = [t.name.split(":")[0] for t in self._keras.inputs]
                self.input_dtypes = {t.name.split(":")[0]: tf.as_dtype(t.dtype)
                                     for t in self._keras.inputs}
            else:
                try:
                    loaded = tf.saved_model.load(path)
                except (OSError, ValueError) as e:
                    raise ModelError("cannot load SavedModel at %r: %s" % (path, e)) from e
                name = signature or "serving_default"
                if name not in loaded.signatures:
                    raise ModelError("SavedModel %r has no signature %r; it has %s"
                                     % (path, name, sorted(loaded.signatures)))
                self._loaded = loaded  # keeps the variables alive
                self._fn = loaded.signatures[name]
                self._keras = None
                specs = self._fn.structured_input_signature[1]
                self.input_names = sorted(specs)
                self.input_dtypes = {k: v.dtype for k, v in specs.items()}
        log.info("headeval: model %s runs on %s", path, self.device)

    def _inputs(self, features, start, stop):
        missing = [n for n in self.input_names if n not in features]
        if missing:
            raise ModelError("model %r needs input(s) %s that the parsed features lack (have: %s)"
                             % (self.path, missing, sorted(features)))
        out = {}
        for name in self.input_names:
            value = features[name]
            value = value[start:stop]
            tensor = tf.convert_to_tensor(value)
            if tensor.dtype != self.input_dtypes[name]:
                tensor = tf.cast(tensor, self.input_dtypes[name])
            if tensor.shape.rank == 1:
                tensor = tf.expand_dims(tensor, -1)
            out[name] = tensor
        return out

    def _call(self, inputs):
        with tf.device(self.device):
            if self._keras is not None:
                result = self._keras(inputs if len(inputs) > 1 else next(iter(inputs.values())),
                                     training=False)
                if not isinstance(result, dict):
                    names = getattr(self._keras, "output_names", None) or ["output_0"]
                    result = dict(zip(names, result if isinstance(result, (list, tuple))
                                      else [result]))
                return result
            return self._fn(**inputs)

    def _pick(self, result):
        if self.outputs is None:
            if len(result) != 1:
                raise ModelError("model %r has outputs %s: name the one holding the logits with "
                                 "model.output" % (self.path, sorted(result)))
            return next(iter(result.values())).numpy()
        names = self.outputs if isinstance(self.outputs, dict) else {None: self.outputs}
        picked = {}
        for head, out in names.items():
            if out not in result:
                raise ModelError("model %r has no output %r; it has %s"
                                 % (self.path, out, sorted(result)))
            picked[head] = result[out].numpy()
        return picked[None] if None in picked else picked

    def __call__(self, features, batch_size):
        """Logits for a batch: an array, or {head name: array}."""
        step = self.batch_size or batch_size or 1
        parts = []
        for start in range(0, batch_size, step):
            parts.append(self._pick(self._call(self._inputs(features, start, start + step))))
        if not parts:
            return None
        if isinstance(parts[0], dict):
            return {k: _check_rows(np.concatenate([p[k] for p in parts]), batch_size, k)
                    for k in parts[0]}
        return _check_rows(np.concatenate(parts), batch_size, "logits")


def _check_rows(values, batch_size, what):
    values = np.asarray(values, np.float32)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] != batch_size:
        raise ModelError("model output %s has %d rows for a batch of %d examples"
                         % (what, values.shape[0], batch_size))
    return values


class Transform:
    """Applies a saved tf.Transform graph to raw parsed features."""

    def __init__(self, tft_output):
        import tensorflow_transform as tft
        self.output = tft.TFTransformOutput(tft_output)
        self._layer = self.output.transform_features_layer()

    def __call__(self, features):
        raw_names = set(self.output.raw_feature_spec())
        raw = {}
        for name in raw_names:
            if name not in features:
                continue
            value = features[name]
            tensor = value if isinstance(value, (tf.RaggedTensor, tf.SparseTensor)) \
                else tf.convert_to_tensor(value)
            raw[name] = tensor
        transformed = self._layer(raw)
        out = dict(features)
        for name, value in transformed.items():
            out[name] = value.numpy() if hasattr(value, "numpy") else value
        return out
