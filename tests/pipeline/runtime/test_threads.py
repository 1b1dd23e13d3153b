"""pipeline.runtime.tf_threads.use_one_thread_per_op: TensorFlow's thread pools for a
heads-only evaluation, set in a fresh process (TensorFlow fixes them when it
starts, so each case runs in an interpreter of its own)."""
import os
import subprocess
import sys

from tests.support import REPO  # noqa: E402

_SCRIPT = """
import sys
import tensorflow as tf
from pipeline.runtime.tf_threads import use_one_thread_per_op
if sys.argv[1] == "started":
    tf.constant(1.0) + 1.0  # TensorFlow starts with its default pools
took = use_one_thread_per_op()
tf.constant(1.0) + 1.0
print(took, tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
"""


def _run(case="fresh", **env):
    full = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    full.pop("TF_NUM_INTRAOP_THREADS", None)
    full.pop("TF_NUM_INTEROP_THREADS", None)
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, case], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=full)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.split()


def test_one_thread_each_when_set_before_tensorflow_starts():
    assert _run("fresh") == ["True", "1", "1"]


def test_nothing_changes_once_tensorflow_has_started():
    assert _run("started") == ["False", "0", "0"]  # 0: TensorFlow's default, a thread per core


def test_the_environment_wins():
    assert _run("fresh", TF_NUM_INTRAOP_THREADS="2") == ["False", "0", "0"]
