"""A saved tf.Transform graph (`transform.tft_output` of the config), applied
to each batch of parsed features on the workers, before the model
(`pipeline.model.runner.ModelRunner`) and the heads see them.
"""
import os

import numpy as np
import tensorflow as tf

from pipeline.errors import TransformError


class Transform:
    """Applies a saved tf.Transform graph (`transform.tft_output`) to raw
    parsed features: returns the features with the transformed ones added
    (a transformed feature replaces a raw one of the same name).

    The raw feature spec comes from the output's `metadata/` folder
    (`tft.TFTransformOutput.raw_feature_spec()`); `tft_beam.WriteTransformFn`
    does not write it, so a preprocessing job must (docs/models.md)."""

    def __init__(self, tft_output: str):
        # tensorflow_transform (and the TFX libraries it pulls in) is imported
        # only when a config has a transform: seconds of import time that
        # other runs do not pay.
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

    def __call__(self, features: dict) -> dict:
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
