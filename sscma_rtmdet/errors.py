"""Exceptions for user mistakes: CLIs print their message without a traceback."""


class UserError(Exception):
    """Bad input from the user (file, field or option); the message says what to do."""


class ConfigError(UserError):
    """A config file or --cfg-options value is wrong."""


class DataError(UserError):
    """A dataset file, annotation or image is wrong."""


class CheckpointError(UserError):
    """A checkpoint or exported model does not fit the config or is unreadable."""


class ExportFailed(UserError):
    """An exported file failed its checks or a converter failed; the message says which and why."""
