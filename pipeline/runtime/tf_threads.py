"""TensorFlow's thread pools for an evaluation whose only TensorFlow work is
the heads' small batch ops.

When the logits come from a feature, the evaluation already keeps both
cores of a 2-core machine busy with its own threads (the heads' statistics
thread, the absorbing thread, the DoFn's thread reading and parsing), and
TensorFlow's default pools of one thread per core oversubscribe them
(docs/performance.md has the measurement). A SavedModel's forward pass keeps
TensorFlow's defaults: it is the kind of op that pays for parallelism.
"""
import os

import tensorflow as tf

ENV_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def use_one_thread_per_op() -> bool:
    """One intra-op and one inter-op TensorFlow thread for this process,
    unless TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS say otherwise or
    TensorFlow has already started (then nothing changes). Returns whether it
    took effect."""
    if any(os.environ.get(name) for name in ENV_VARIABLES):
        return False
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow's context is already initialised
        return False
    return True
