"""headeval's Beam pipeline: config, read, parse, evaluate, combine, write, CLI.

Submodules are imported where needed (`from pipeline.config import
load_config`): `import pipeline` itself loads neither TensorFlow nor Beam.
It does make a later `import tensorflow` skip its eager import of Keras
(`pipeline.runtime.keras_deferral`): half of TensorFlow's start-up, in the CLI and
in every Beam worker that unpickles our stages.
"""
from pipeline.runtime import keras_deferral as _keras_deferral

_keras_deferral.install()
