"""The shared shape of a command-line entry point: absl flags, bad input as one line `error: ...`, the libraries'
INFO logs kept off the terminal (console.py), and on CPU-only runs glibc's malloc set to keep freed memory
(host_memory.py)."""
import os
import re
import signal
import sys
import traceback

from absl import app, flags

import configs
from resnet_jax import checkpoint
from resnet_jax.errors import ConfigError, Terminated
from resnet_jax.runtime import console, environment, host_memory

flags.DEFINE_bool('retain_host_memory', True, 'CPU-only runs: glibc\'s malloc keeps freed memory for reuse '
                  '(resnet_jax/runtime/host_memory.py): faster steps, a larger resident size (up to 2.3x measured).')


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


def integer_list(name: str, lowest: int = 1) -> None:
  """Makes the list flag `name` refuse anything but distinct integers of at least `lowest` while the flags are
  parsed."""
  flags.register_validator(
      name, lambda values: values is None or (values and all(v.isdigit() and int(v) >= lowest for v in values)
                                              and len({int(v) for v in values}) == len(values)),
      message=f'--{name} takes one or more distinct integers of at least {lowest} separated by commas, e.g. '
              f'--{name}={lowest},{lowest + 1}')


def writable_directory(name: str) -> None:
  """Makes the flag `name`, a directory to write, refuse a file or a place that cannot be written while the flags
  are parsed, before any work."""
  def check(path):
    if path:
      checkpoint.check_writable(path, f'--{name}')
    return True
  flags.register_validator(name, check)


def config_flag(key: str, value: str) -> str:
  """How launch.py's command line sets a config key: --config.KEY=VALUE (`value` is '=VALUE', or '')."""
  return f'--config.{key}{value}'


def set_flag(key: str, value: str) -> str:
  """How the sweeps and studies set a config key: --set=KEY=VALUE (`value` is '=VALUE', or '' for '=...')."""
  return f'--set={key}{value or "=..."}'


def reading_workdir(flag):
  """The setting of a program that reads a trained workdir: a key of config_io.READ_OVERRIDABLE by `flag`, any
  other as the trained run's own, in its config.json."""
  from resnet_jax.runtime.config_io import READ_OVERRIDABLE
  return lambda key, value: (flag(key, value) if key in READ_OVERRIDABLE
                             else f"{key} in the workdir's config.json (the trained run's own)")


_setting = [config_flag]  # How this program's command line sets a config key (set_keys_with).
# --config.KEY or --config.KEY=VALUE (a quoted VALUE, or one ended by a space or a closing mark), as fixes name it.
_CONFIG_FLAG = re.compile(r'--config\.(?P<key>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)'
                          r'(?P<value>="[^"]*"|=\S*?(?=[.,;:)]*(?:\s|$)))?')


def set_keys_with(setting) -> None:
  """Makes the fixes of this program's error lines, which name a config key as launch.py sets it
  (--config.KEY=VALUE), name it as this program does: setting(key, '=VALUE' or '') -> its text."""
  _setting[0] = setting


def writable_file(name: str) -> None:
  """Makes the flag `name`, a file to write, refuse a directory or a place that cannot be written while the flags
  are parsed, before any work."""
  def check(path):
    if path:
      if os.path.isdir(path):
        raise flags.ValidationError(f'--{name}={path} is a directory: name a file.')
      checkpoint.check_writable(os.path.dirname(os.path.abspath(path)), f'--{name}\'s directory')
    return True
  flags.register_validator(name, check)


def fail(message: str) -> None:
  """Ends the program on bad input: one line `error: MESSAGE` on stderr, exit status 2; the config keys it names
  as this program sets them (set_keys_with)."""
  message = _CONFIG_FLAG.sub(lambda m: _setting[0](m['key'], m['value'] or ''), message)
  print(f'error: {" ".join(message.split())}', file=sys.stderr)
  sys.exit(2)


def keys_named(field: str) -> list[str]:
  """The dotted keys of the config files' fields called `field`, in any section (e.g. 'learning_rate' ->
  ['optimizer.learning_rate'])."""
  from resnet_jax.runtime.config_io import flatten, named_config
  found = set()
  for dataset, variant in (('cifar10', 'resnet20'), ('imagenet', 'resnet50')):
    config = named_config(dataset, variant)
    found.update(key for key in flatten(config.to_dict()) if key.rpartition('.')[2] == field)
  return sorted(found)


def flag_error(error: Exception) -> str:
  """The one-line message of an error raised while the flags, and the config files they name, were parsed."""
  text = str(error)
  if raised := [e for e in _causes(error) if isinstance(e, ConfigError)]:  # In get_config, wrapped by ml_collections.
    return str(raised[-1])
  for cause in _causes(error):  # A config file that raised (ml_collections may wrap it): its error, and where.
    if line := _config_file_line(cause):
      return f'{line}: {type(cause).__name__}: {cause}. Fix the config file there.'
  if isinstance(error, AttributeError) and "attribute 'get_config'" in text:  # --config=FILE of no config.
    return (f'{_config_file_given()} is not a config file (it defines no get_config): use '
            '--config=configs/cifar10.py:NETWORK or configs/imagenet.py:NETWORK.')
  if isinstance(error, AttributeError):  # ml_collections: --config.KEY for a KEY the config lacks.
    missing = error.args[0]
    lines = str(missing.args[0] if isinstance(missing, KeyError) else missing).splitlines()
    elsewhere = ' '.join(f'--config.{key}?' for key in keys_named(lines[0].strip("'")))
    hint = f'Did you mean {elsewhere} ' if elsewhere else ''
    return f'The config has no field {lines[0]}. {" ".join(lines[1:])} {hint}List the fields with --mode=config.'
  if isinstance(error, KeyError):  # ml_collections: --config.SECTION.KEY for a SECTION the config lacks.
    return f'The config has no section {error.args[0]}. List the fields with --mode=config.'
  if isinstance(error, flags.UnrecognizedFlagError) and error.flagname.startswith('config.'):
    key = error.flagname.removeprefix('config.')
    if 'config' not in flags.FLAGS:  # The sweeps and studies.
      fix = f'--set={key}=VALUE' if 'set' in flags.FLAGS else 'launch.py'
      return f'This program sets config keys with --set=KEY=VALUE, not with --config flags: use {fix}.'
    return (f'--{error.flagname} needs --config=FILE:NETWORK before it, which makes the --config.KEY flags: e.g. '
            f'{_config_file_hint()} --{error.flagname}=VALUE.')
  if isinstance(error, OSError):  # ml_collections: --config=FILE that does not load.
    where = os.path.relpath(os.path.dirname(configs.__file__))
    where = where if not where.startswith('..') else os.path.dirname(configs.__file__)
    path = _config_file_given()
    what = (f'There is no config file {path}' if path and not os.path.isfile(path) else
            f'The config file {path} does not load' if path else text)
    return (f'{what}. A relative path is taken from the current directory, {os.getcwd()}: from here, use '
            f'--config={where}/cifar10.py:NETWORK or {where}/imagenet.py:NETWORK.')
  return f'{text.rstrip(".")}. See --help.'


def _config_file_hint() -> str:
  """--config=FILE:NETWORK of the network that the command line's --workdir holds, or of ResNet-20."""
  import ml_collections

  from resnet_jax.models import model_name
  from resnet_jax.runtime import config_io
  workdirs = [arg.partition('=')[2] for arg in sys.argv[1:] if arg.startswith('--workdir=')]
  try:
    saved = config_io.saved_config(workdirs[-1])
    dataset = config_io.CONFIG_FILES[saved['dataset']['name']]
    network = model_name(ml_collections.ConfigDict(saved['model']))
    config_io.named_config(dataset, network)  # A name the config file takes.
  except (IndexError, ValueError, KeyError, TypeError):  # No workdir, or none that reads: ResNet-20's.
    dataset, network = 'cifar10', 'resnet20'
  return f'--config={os.path.relpath(config_io.config_file(dataset))}:{network}'


def _config_file_given() -> str | None:
  """The FILE of the command line's last --config=FILE[:VARIANT], or None."""
  given = [arg.partition('=')[2] for arg in sys.argv[1:] if arg.startswith('--config=')]
  return given[-1].partition(':')[0] if given else None


def _config_file_line(error: BaseException) -> str | None:
  """'FILE, line N' of the innermost frame of error's traceback in a config file (a .py outside the installed
  libraries and this package), or None where no config file raised it."""
  frames = traceback.extract_tb(error.__traceback__)
  here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  for frame in reversed(frames):
    path = os.path.abspath(frame.filename)
    if path.endswith('.py') and 'site-packages' not in path and not path.startswith((here, sys.prefix,
                                                                                    sys.base_prefix)):
      return f'{frame.filename}, line {frame.lineno}'
  return None


def _causes(error: BaseException) -> list[BaseException]:
  """error, the exception it was raised from or during, that one's, and so on."""
  chain = []
  while error is not None and error not in chain:
    chain.append(error)
    error = error.__cause__ or error.__context__
  return chain


def _parse_flags(argv):
  try:
    rest = flags.FLAGS(argv)
    for name in flags.FLAGS:  # A config file that failed to load raises only when its config is read.
      getattr(getattr(flags.FLAGS, name), 'keys', None)
  except Exception as e:  # noqa: BLE001 -- whatever the flags or config files raised is the user's input.
    fail(flag_error(e))
  if len(rest) > 1:
    fail(f'Unexpected arguments: {" ".join(rest[1:])}: every argument is a --flag=VALUE. See --help.')
  return rest


def _terminate(signum, frame):
  del signum, frame
  raise Terminated


def interruption(error: KeyboardInterrupt) -> str:
  """What stopped the program: 'SIGTERM' or 'Ctrl-C'."""
  return 'SIGTERM' if isinstance(error, Terminated) else 'Ctrl-C'


def run(main) -> None:
  """app.run(main) for a main() of no arguments. Bad input, found while the flags and the config are parsed or
  raised as a ConfigError, ends it with one line `error: ...` and exit status 2 (fail()). On CPU-only runs malloc
  keeps freed memory (--retain_host_memory), set before main() can start JAX's backend."""
  def wrapped(argv):
    del argv  # Checked by _parse_flags.
    signal.signal(signal.SIGTERM, _terminate)  # Training saves on it instead (runtime/preemption.py).
    console.quiet_libraries()
    retain_host_memory()
    try:
      environment.check_jax_version()
      main()
    except ConfigError as e:
      fail(str(e))
    except KeyboardInterrupt as e:
      print(f'error: Stopped by {interruption(e)}.', file=sys.stderr, flush=True)
      os._exit(128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT))  # Not sys.exit: threads
      # still at work (data, checkpoints) would hold the exit or print.
  _show_library_flags_in_help()
  app.run(wrapped, flags_parser=_parse_flags)
