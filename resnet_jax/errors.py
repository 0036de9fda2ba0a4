"""The error raised for bad user input."""


class ConfigError(ValueError):
  """Bad input from the user. launch.py prints its one-line message and exits with status 2."""
