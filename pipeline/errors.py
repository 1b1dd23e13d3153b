"""The failures headeval expects and explains: bad configs, inputs, models and
outputs; and the kinds of rejected example that run.json counts.

The CLI prints these as one line, without a traceback; anything else is a bug
and keeps its traceback.

Context (file, record index, feature, ...) travels in `args` after the
message: Beam re-raises a worker's exception as
`type(e)(e.args[0] + " [while running 'step']", *e.args[1:])`, so keeping it
there is what lets `e.path` and `e.index` survive the trip to the caller.
"""

# Why an example was rejected: the `kind` of a rejected/ row and the keys of
# run.json's counts.rejected_by_kind. Set where the problem is found.
CORRUPT_RECORD = "corrupt_record"              # its data fails its checksum
NOT_AN_EXAMPLE = "not_an_example"              # not a tf.train.Example that parses
MISSING_FEATURE = "missing_feature"            # a required feature is absent
WRONG_TYPE_OR_LENGTH = "wrong_type_or_length"  # a feature of the wrong type or size
LABEL_OUT_OF_RANGE = "label_out_of_range"
LABEL_NOT_IN_VOCABULARY = "label_not_in_vocabulary"
LABEL_NOT_FINITE = "label_not_finite"
LOGITS_NOT_FINITE = "logits_not_finite"
WEIGHT_NOT_FINITE = "weight_not_finite"
WEIGHT_NEGATIVE = "weight_negative"
SLICE_VALUE_TOO_LONG = "slice_value_too_long"  # over pipeline.config.MAX_SLICE_VALUE_BYTES
REJECTION_KINDS = (CORRUPT_RECORD, NOT_AN_EXAMPLE, MISSING_FEATURE, WRONG_TYPE_OR_LENGTH,
                   LABEL_OUT_OF_RANGE, LABEL_NOT_IN_VOCABULARY, LABEL_NOT_FINITE,
                   LOGITS_NOT_FINITE, WEIGHT_NOT_FINITE, WEIGHT_NEGATIVE, SLICE_VALUE_TOO_LONG)


class HeadevalError(Exception):
    """Base class: `str(error)` is the message alone, not the args tuple."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class UsageError(HeadevalError, ValueError):
    """A command line that asks for something that does not exist (an
    unknown `--runner`): exit code 2, as for argparse's usage errors."""


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


class UnreadableInputError(HeadevalError, ValueError):
    """An input pattern that matches something that cannot be read as a
    file: a broken link, a FIFO or device, a file without read permission."""

    def __init__(self, message, path=None):
        super().__init__(message, path)

    path = property(lambda self: self.args[1])


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
    `feature` (None when the record is not a tf.train.Example at all),
    `reason` (the message without the location) and `kind` (one of
    REJECTION_KINDS, set by whoever found the problem).
    """

    def __init__(self, message, path=None, index=None, feature=None, reason=None,
                 kind=NOT_AN_EXAMPLE):
        super().__init__(message, path, index, feature, reason, kind)

    path = property(lambda self: self.args[1])
    index = property(lambda self: self.args[2])
    feature = property(lambda self: self.args[3])
    reason = property(lambda self: self.args[4])
    kind = property(lambda self: self.args[5])


class OutputExistsError(HeadevalError):
    """The output folder already holds a report (or something else)."""

    def __init__(self, message, path=None):
        super().__init__(message, path)

    path = property(lambda self: self.args[1])


class DamagedReportError(HeadevalError):
    """A report file that exists but cannot be what the run wrote: not
    Parquet or JSON, a page checksum that fails, a column missing or of
    another type. `show` and `report` say which file, in one line."""


class CountMismatchError(HeadevalError):
    """Records read != evaluated + rejected: an example went missing."""


class EmptyInputError(HeadevalError):
    """The input files hold no records."""


class ModelError(HeadevalError, ValueError):
    """The model could not be loaded, or was given inputs it cannot take, or
    gave outputs of the wrong form. The CLI prints it as one line."""


class LossFnError(HeadevalError, ValueError):
    """A head's `loss_fn` (user code) raised while evaluating a batch. The
    message names the head's entry, the function and the exception (its type
    and message); the user's own traceback stays in `__cause__`."""


class CustomMetricError(HeadevalError, ValueError):
    """A custom metric (`metrics.custom`, user code) failed while evaluating
    a batch or making the report: it raised, or returned statistics of
    another shape than before. The message names the entry and the factory."""


class TransformError(HeadevalError, ValueError):
    """The tf.Transform output could not be loaded or applied."""


class JobNotFinishedError(HeadevalError):
    """The job ended in a state other than DONE: there is no report."""

    def __init__(self, message, state=None):
        super().__init__(message, state)

    state = property(lambda self: self.args[1])


class OutputWriteError(HeadevalError):
    """The report cannot be written: a read-only folder, a path under a
    file, a full disk. The message names the path and the system's reason."""

    def __init__(self, message, path=None):
        super().__init__(message, path)

    path = property(lambda self: self.args[1])
