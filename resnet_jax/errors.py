"""The errors that end a run with one line: bad user input, and a workdir that cannot be written."""


class ConfigError(ValueError):
  """Bad input from the user. launch.py prints its one-line message and exits with status 2."""


class WriteError(RuntimeError):
  """The workdir could not be written (disk full, permissions); its newest whole checkpoint is the last good state.
  launch.py prints its one-line message and exits with status 1."""
