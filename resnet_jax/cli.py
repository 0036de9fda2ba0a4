"""The shared shape of a command-line entry point: absl flags, bad input as one line `error: ...`, the libraries'
INFO logs kept off the terminal (console.py), and on CPU-only runs glibc's malloc set to keep freed memory
(host_memory.py)."""
import sys

from absl import app, flags

from resnet_jax import console, host_memory, runtime
from resnet_jax.errors import ConfigError

flags.DEFINE_bool('retain_host_memory', True, 'CPU-only runs: glibc\'s malloc keeps freed memory for reuse '
                  '(resnet_jax/host_memory.py): faster steps, a larger resident size (up to 2.3x measured).')


def retain_host_memory() -> bool:
  """host_memory.retain_freed_memory() where --retain_host_memory and the run is CPU-only; whether it was set."""
  return flags.FLAGS.retain_host_memory and host_memory.cpu_only() and host_memory.retain_freed_memory()


def _show_library_flags_in_help() -> None:
  """--help lists the flags of this library's modules (the sweep flags, say) and --alsologtostderr beside the
  script's own; absl would list them only under --helpfull."""
  main = sys.argv[0]
  for module, defined in flags.FLAGS.flags_by_module_dict().items():
    for flag in defined:
      if module.startswith('resnet_jax.') or flag.name == 'alsologtostderr':
        flags.FLAGS.register_key_flag_for_module(main, flag)


def run(main) -> None:
  """app.run(main) for a main() of no arguments; a ConfigError ends it with `error: ...` and exit status 2.
  On CPU-only runs malloc keeps freed memory (--retain_host_memory), set before main() can start JAX's backend."""
  def wrapped(argv):
    if len(argv) > 1:
      raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    console.quiet_libraries()
    retain_host_memory()
    try:
      runtime.check_jax_version()
      main()
    except ConfigError as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(2)
  _show_library_flags_in_help()
  app.run(wrapped)
