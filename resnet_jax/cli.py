"""The shared shape of a command-line entry point: absl flags, bad input as one line `error: ...`, and on CPU-only
runs glibc's malloc set to keep freed memory (host_memory.py)."""
import sys

from absl import app, flags

from resnet_jax import host_memory
from resnet_jax.errors import ConfigError

flags.DEFINE_bool('retain_host_memory', True, 'CPU-only runs: glibc\'s malloc keeps freed memory for reuse '
                  '(resnet_jax/host_memory.py): faster steps, a larger resident size (up to 2.3x measured).')


def retain_host_memory() -> bool:
  """host_memory.retain_freed_memory() where --retain_host_memory and the run is CPU-only; whether it was set."""
  return flags.FLAGS.retain_host_memory and host_memory.cpu_only() and host_memory.retain_freed_memory()


def run(main) -> None:
  """app.run(main) for a main() of no arguments; a ConfigError ends it with `error: ...` and exit status 2.
  On CPU-only runs malloc keeps freed memory (--retain_host_memory), set before main() can start JAX's backend."""
  def wrapped(argv):
    if len(argv) > 1:
      raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    retain_host_memory()
    try:
      main()
    except ConfigError as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(2)
  app.run(wrapped)
