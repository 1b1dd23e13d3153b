"""Where TensorFlow runs a model and the heads: `model.device` of the config.

`DEVICES` is the one list of the values `model.device` takes (pipeline.config
validates the config against it); `choose_device` turns one into a
TensorFlow device string on the worker. Importing this module does not
import TensorFlow, so that loading a config stays quick.
"""
from pipeline.errors import ModelError

AUTO = "auto"
CPU = "cpu"
GPU = "gpu"
DEVICES = (AUTO, CPU, GPU)
DEFAULT_DEVICE = AUTO

CPU_DEVICE = "/CPU:0"
GPU_DEVICE = "/GPU:0"


def choose_device(device: str) -> str:
    """'auto' -> GPU when TensorFlow sees one, else CPU; 'gpu' without one fails.

    Returns the TensorFlow device string ('/GPU:0' or '/CPU:0'). Turns on
    memory growth for the visible GPUs (several SDK processes share one GPU
    on a Dataflow worker). Raises ModelError for a device not in DEVICES
    and for 'gpu' where TensorFlow sees none."""
    if device not in DEVICES:
        raise ModelError("model.device must be one of %s; got %r" % (", ".join(DEVICES), device))
    # TensorFlow is imported here, on the worker, not with the module:
    # pipeline.config imports DEVICES and must load without TensorFlow.
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if device == GPU and not gpus:
        raise ModelError("model.device is 'gpu' but TensorFlow sees no GPU on this worker "
                         "(tf.config.list_physical_devices('GPU') is empty); use device: auto "
                         "or cpu, or run on GPU workers")
    if device == CPU:
        return CPU_DEVICE
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised
            pass
    return GPU_DEVICE if gpus else CPU_DEVICE
