"""The errors that end a run with one line: bad user input, and a workdir that cannot be written."""
from configs.common import ConfigError  # One class: the config files raise it too, and import nothing from here.


class WriteError(RuntimeError):
  """The workdir could not be written (disk full, permissions); its newest whole checkpoint is the last good state.
  launch.py prints its one-line message and exits with status 1."""

class Terminated(KeyboardInterrupt):
  """SIGTERM where nothing is saved on it (outside training, which saves): it stops the program as Ctrl-C does."""


__all__ = ['ConfigError', 'Terminated', 'WriteError']
