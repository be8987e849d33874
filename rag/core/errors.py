"""The error tree. Library code raises these; only the CLI and the UI turn them into messages.

Every message is one line that says what went wrong and what to do about it.
"""


class RagError(Exception):
    """Base class: a problem the user can fix. Its message says how."""


class InputError(RagError):
    """Bad user input: a missing folder, an unreadable/binary/empty file, an oversized question."""


class IndexStateError(RagError):
    """The index is missing, locked, or was built with another embedder or schema."""


class ModelError(RagError):
    """A model could not be assembled or loaded (missing package, checksum mismatch, bad file)."""


class BackendError(RagError):
    """A backend name is unknown or its optional package is not installed."""
