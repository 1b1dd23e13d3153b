"""headeval's Beam pipeline: config, read, parse, evaluate, combine, write, CLI.

Submodules are imported where needed (`from pipeline.config import
load_config`): `import pipeline` itself loads neither TensorFlow nor Beam.
"""
