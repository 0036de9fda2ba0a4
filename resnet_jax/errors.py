"""The errors the library raises for a program to end in one line: a mistake the user can fix (ConfigError, with
the Settings and Arguments that fix it; the config files raise it too), a workdir that cannot be written, a loss
that is no longer finite."""

from configs.common import Argument, ConfigError, Setting  # One class: the configs raise it and import nothing here.


class WriteError(RuntimeError):
  """The workdir could not be written (disk full, permissions); its newest whole checkpoint is the last good state."""


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; the newest checkpoint is the last good state."""


__all__ = ['Argument', 'ConfigError', 'NonFiniteLossError', 'Setting', 'WriteError']
