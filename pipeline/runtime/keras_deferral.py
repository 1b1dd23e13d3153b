"""TensorFlow imported without Keras: half of TensorFlow's import time.

`import tensorflow` (2.16 and later) ends with an eager
`import keras.src.optimizers` "so that registrations happen at load time",
and Keras 3 in turn imports scikit-learn, scipy and pandas when they are
installed: about half of TensorFlow's import time (docs/performance.md),
paid by every `headeval` process and every Beam worker, for a Keras that the
pipeline does not use (the heads are plain TF ops; SavedModels load with
`tf.saved_model.load`).

`install()` puts a finder in front of `sys.meta_path` that answers only
while the `tensorflow` package itself is being initialised, and only for the
top-level `keras`: it hands back Keras' real spec (TensorFlow reads its
location to build `tf.keras`) with a loader that refuses to run, so the
eager import fails with ImportError, which TensorFlow catches and ignores.
Once TensorFlow is imported the finder answers nothing: `import keras`,
`tf.keras` and loading a `.keras` file import Keras as usual, when first
needed. Set HEADEVAL_EAGER_KERAS=1 to turn the deferral off.
"""
import importlib.abc
import importlib.machinery
import os
import sys

_DEFERRED = ("headeval defers importing keras until it is used "
             "(see pipeline/runtime/keras_deferral.py)")


class _RefusingLoader(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(_DEFERRED)

    def exec_module(self, module):  # never reached (create_module raises); importlib requires it
        raise ImportError(_DEFERRED)


class _DeferKerasWhileTensorFlowLoads(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "keras" or not _tensorflow_initialising():
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _RefusingLoader()
        return spec


def _tensorflow_initialising():
    module = sys.modules.get("tensorflow")
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def install() -> None:
    """Defers Keras for a TensorFlow not yet imported; a no-op when TensorFlow
    (or Keras) is already loaded, when TF_USE_LEGACY_KERAS asks for tf_keras,
    or when HEADEVAL_EAGER_KERAS is set."""
    if "tensorflow" in sys.modules or "keras" in sys.modules:
        return
    if os.environ.get("HEADEVAL_EAGER_KERAS") or os.environ.get("TF_USE_LEGACY_KERAS"):
        return
    if not any(isinstance(f, _DeferKerasWhileTensorFlowLoads) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeferKerasWhileTensorFlowLoads())
