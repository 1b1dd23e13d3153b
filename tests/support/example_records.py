"""Test helpers: tf.train.Example records and TFRecord files."""
import tensorflow as tf


def feature(values):
    """A tf.train.Feature from a list of floats, ints or bytes/str."""
    if values and isinstance(values[0], float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    if values and isinstance(values[0], int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v.encode() if isinstance(v, str) else v for v in values]))


def example(**features):
    """Serialized tf.train.Example; each keyword is a list of values."""
    return tf.train.Example(features=tf.train.Features(
        feature={k: feature(v) for k, v in features.items()})).SerializeToString()


def write_tfrecords(path, records, gzip=False):
    options = tf.io.TFRecordOptions(compression_type="GZIP") if gzip else None
    with tf.io.TFRecordWriter(str(path), options=options) as writer:
        for record in records:
            writer.write(record)
    return str(path)


def tfrecord_header(length):
    """The 12 bytes that start a TFRecord record of `length` bytes: the
    length (uint64, little-endian) and its masked crc32c, written here from
    the TFRecord format, not with the code under test."""
    import struct

    import google_crc32c

    data = struct.pack("<Q", length)
    crc = google_crc32c.value(data)
    return data + struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
