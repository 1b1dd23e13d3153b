"""pipeline.runtime.devices: `model.device` -> a TensorFlow device string."""
import pytest
import tensorflow as tf

from pipeline.errors import ModelError
from pipeline.runtime.devices import CPU_DEVICE, DEVICES, GPU_DEVICE, choose_device


def test_cpu_is_the_cpu():
    assert choose_device("cpu") == CPU_DEVICE


def test_auto_takes_a_gpu_when_tensorflow_sees_one():
    expected = GPU_DEVICE if tf.config.list_physical_devices("GPU") else CPU_DEVICE
    assert choose_device("auto") == expected


def test_an_unknown_device_names_the_devices():
    with pytest.raises(ModelError, match="model.device") as e:
        choose_device("tpu")
    assert all(d in str(e.value) for d in DEVICES)
