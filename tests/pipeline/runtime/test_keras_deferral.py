"""`import pipeline` makes TensorFlow skip its eager Keras import, and Keras
still imports (and works with TensorFlow) when it is used. Each case runs in
a fresh interpreter: the deferral acts on the first `import tensorflow`."""
import json
import os
import subprocess
import sys

from tests.support import REPO  # noqa: E402


def _run(code, **env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("HEADEVAL_EAGER_KERAS", "TF_USE_LEGACY_KERAS")}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=full_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys
import pipeline
import tensorflow as tf
loaded_with_tf = "keras" in sys.modules
import keras
layer = tf.keras.layers.Dense(2)
y = layer(tf.ones([3, 4]))
print(json.dumps({"keras_with_tf": loaded_with_tf, "keras_later": "keras" in sys.modules,
                  "shape": list(y.shape), "same_keras": tf.keras.layers.Dense is keras.layers.Dense}))
"""


def test_tensorflow_imports_without_keras_and_keras_works_later():
    got = _run(PROBE)
    assert got == {"keras_with_tf": False, "keras_later": True, "shape": [3, 2],
                   "same_keras": True}


def test_opt_out_restores_the_eager_import():
    got = _run(PROBE, HEADEVAL_EAGER_KERAS="1")
    assert got["keras_with_tf"] is True and got["shape"] == [3, 2]


def test_no_effect_when_tensorflow_came_first():
    got = _run("""
import json, sys
import tensorflow
import pipeline, pipeline.runtime.keras_deferral as d
print(json.dumps({"keras": "keras" in sys.modules,
                  "finders": sum(isinstance(f, d._DeferKerasWhileTensorFlowLoads)
                                 for f in sys.meta_path)}))
""")
    assert got == {"keras": True, "finders": 0}
