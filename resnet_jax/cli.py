"""The shared shape of a command-line entry point: absl flags, and bad input as one line `error: ...`."""
import sys

from absl import app

from resnet_jax.errors import ConfigError


def run(main) -> None:
  """app.run(main) for a main() of no arguments; a ConfigError ends it with `error: ...` and exit status 2."""
  def wrapped(argv):
    if len(argv) > 1:
      raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    try:
      main()
    except ConfigError as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(2)
  app.run(wrapped)
