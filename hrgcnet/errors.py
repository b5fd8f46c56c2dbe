"""Typed errors of the library. Every error meant for a user derives from :class:`HRGCNetError`;
the CLI prints its message without a traceback and the apps show it as a message."""


class HRGCNetError(Exception):
    """Base class of all user-facing errors."""


class UsageError(HRGCNetError, ValueError):
    """Bad arguments: unknown model name, bad input size, malformed option."""


class WeightsError(HRGCNetError):
    """A weights file that cannot be used: unsafe, truncated, or for another architecture."""


class ImageError(HRGCNetError, ValueError):
    """An image that cannot be read or is outside the accepted limits."""


class DatasetError(HRGCNetError, ValueError):
    """Malformed annotation files or missing images."""


class DownloadError(HRGCNetError):
    """A download that failed (offline, HTTP error, hash mismatch)."""


class TimeLimitError(HRGCNetError, TimeoutError):
    """Work stopped because it ran past its time limit (e.g. a request's ``time_limit_s``)."""
