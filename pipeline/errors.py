"""The failures headeval expects and explains: bad configs, inputs and outputs.

The CLI prints these as one line, without a traceback; anything else is a bug
and keeps its traceback.

Context (file, record index, feature, ...) travels in `args` after the
message: Beam re-raises a worker's exception as
`type(e)(e.args[0] + " [while running 'step']", *e.args[1:])`, so keeping it
there is what lets `e.path` and `e.index` survive the trip to the caller.
"""


class HeadevalError(Exception):
    """Base class: `str(error)` is the message alone, not the args tuple."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class ConfigError(HeadevalError, ValueError):
    """A config file that does not describe a valid evaluation.

    Attributes: `file` (the config file) and `key` (the key path, e.g.
    `heads[1].thresholds`), either may be None.
    """

    def __init__(self, message, file=None, key=None):
        super().__init__(message, file, key)

    file = property(lambda self: self.args[1])
    key = property(lambda self: self.args[2])


class NoMatchError(HeadevalError, ValueError):
    """An input pattern that matches no files."""

    def __init__(self, message, pattern=None):
        super().__init__(message, pattern)

    pattern = property(lambda self: self.args[1])


class CorruptRecordError(HeadevalError, ValueError):
    """A TFRecord file whose framing is broken: truncated, or a checksum
    that does not match. The rest of the file cannot be trusted, so this
    fails the run even under `bad_examples: skip`."""

    def __init__(self, message, path=None, index=None):
        super().__init__(message, path, index)

    path = property(lambda self: self.args[1])
    index = property(lambda self: self.args[2])


class BadRecordError(HeadevalError, ValueError):
    """A record that does not parse with the feature spec.

    Attributes: `path` and `index` (the record's position in its file),
    `feature` (None when the record is not a tf.train.Example at all) and
    `reason` (the message without the location).
    """

    def __init__(self, message, path=None, index=None, feature=None, reason=None):
        super().__init__(message, path, index, feature, reason)

    path = property(lambda self: self.args[1])
    index = property(lambda self: self.args[2])
    feature = property(lambda self: self.args[3])
    reason = property(lambda self: self.args[4])


class OutputExistsError(HeadevalError):
    """The output folder already holds a report (or something else)."""

    def __init__(self, message, path=None):
        super().__init__(message, path)

    path = property(lambda self: self.args[1])
