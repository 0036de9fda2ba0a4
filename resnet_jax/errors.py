"""The errors the library raises for a program to end in one line: a mistake the user can fix (ConfigError, with
the Settings and Arguments that fix it; the config files raise it too), a file that cannot be written, a loss
that is no longer finite."""

from configs.common import Argument, ConfigError, Setting  # One class: the configs raise it and import nothing here.


class WriteError(RuntimeError):
  """A file could not be written (disk full, permissions): of a workdir, its newest whole checkpoint is the last good
  state; of a report, the files written before it are kept."""


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; the newest checkpoint is the last good state."""


__all__ = ['Argument', 'ConfigError', 'NonFiniteLossError', 'Setting', 'WriteError']
