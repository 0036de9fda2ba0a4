"""The shared shape of a command-line program (Program): absl flags, the flags several programs share, each mistake
as one line `error: ...` naming its fix as this program's command line gives it (its dialect: how it sets a config
key, a Setting of the library's ConfigErrors, and gives an argument, an Argument), a signal as one line, the
library's lines on the terminal (console.py), and on CPU-only runs glibc's malloc set to keep freed memory
(host_memory.py).
"""

import dataclasses
import os
import signal
import sys
from typing import Callable

from absl import app, flags

from configs.common import Argument, ConfigError, Setting, value_text
from resnet_jax.errors import NonFiniteLossError, WriteError
from resnet_jax.runtime import config_flags, console, environment, host_memory

Dialect = Callable[[Setting | Argument], str]

flags.DEFINE_bool(
    'retain_host_memory',
    True,
    "CPU-only runs: glibc's malloc keeps freed memory for reuse "
    '(resnet_jax/runtime/host_memory.py): faster steps, a larger resident size (up to 2.3x measured).',
)
# The flags that several programs share, defined once here and in the shell's modules (share); a program takes those
# it names (Program's `uses`, which its --help lists), and refuses the others.
flags.DEFINE_string(
    'config',
    None,
    'A config file and variant: configs/DATASET.py:NETWORK; --config.KEY=VALUE then overrides any field.',
)
flags.DEFINE_string('workdir', None, "The run's directory: config.json, checkpoints, metrics and TensorBoard events.")
flags.DEFINE_string('out', None, 'Where the results go (a folder; benchmark.py: a JSON file).')
flags.DEFINE_string('root', 'workdirs/paper', 'The root of the sweeps: runs in ROOT/<dataset name>/<network name>.')
flags.register_validator('root', bool, '--root names no folder: give one, e.g. --root=workdirs/paper')
flags.DEFINE_multi_string('set', [], 'A config override, KEY=VALUE (e.g. dataset.dir=PATH).')


class IntegerList(flags.ListParser):
  """Distinct integers of at least `lowest`, separated by commas; any other text is refused as it is parsed, in a
  message that quotes it as given."""

  def __init__(self, lowest: int = 1):
    super().__init__()
    self.lowest = lowest

  def parse(self, argument):
    values = super().parse(argument)
    if (
        not values
        or not all(v.isdigit() and int(v) >= self.lowest for v in values)
        or len(set(map(int, values))) < len(values)
    ):
      raise ValueError(
          f'takes one or more distinct integers of at least {self.lowest} separated by commas, e.g. '
          f'{self.lowest},{self.lowest + 1}'
      )
    return values

  def flag_type(self) -> str:
    return 'comma separated list of integers'


def define_integer_list(name: str, default, help_text: str, lowest: int = 1) -> None:
  """A list flag of distinct integers of at least `lowest` (IntegerList)."""
  flags.DEFINE(IntegerList(lowest), name, default, help_text, serializer=flags.CsvListSerializer(','))


define_integer_list('depths', None, 'Depths of the networks to run.')
define_integer_list(
    'replicas', None, 'Replicas of each net (config.num_replicas): seeds trained at once in one program.'
)
FLAGS = flags.FLAGS
SHARED = ['config', 'workdir', 'out', 'root', 'set', 'depths', 'replicas']


def share(*names: str) -> None:
  """Makes the flags `names`, defined in a module of the shell, SHARED: a program that does not use them refuses
  them."""
  SHARED.extend(names)


def flag(name: str, value=None) -> str:
  """--NAME, or --NAME=VALUE as a shell takes it."""
  return f'--{name}' if value is None else f'--{name}={value_text(value)}'


def config_dialect(part: Setting | Argument) -> str:
  """launch.py's: a config key as --config.KEY=VALUE, an argument as --NAME=VALUE."""
  return flag(f'config.{part.key}' if isinstance(part, Setting) else part.name, part.value)


def set_dialect(part: Setting | Argument) -> str:
  """The sweeps' and studies': a config key as --set=KEY=VALUE (--set=KEY=... where the value is the user's)."""
  if isinstance(part, Setting):
    return f'--set={part.key}={"..." if part.value is None else value_text(part.value)}'
  return flag(part.name, part.value)


def reading(dialect: Dialect, settable) -> Dialect:
  """The dialect of a program that reads a trained workdir: a key of `settable` (workdir.READ_OVERRIDABLE) as
  `dialect` sets it, any other as the trained run's own, in its config.json."""

  def name(part):
    if isinstance(part, Setting) and part.key not in settable:  # Not the reader's to set: a new training's.
      return f'{part.key}{"" if part.value is None else "=" + value_text(part.value)} in a new training run'
    return dialect(part)

  return name


_dialect: list[Dialect] = [config_dialect]  # This program's: run() and execute() set it, and a main may change it.


def speak(dialect: Dialect) -> None:
  """From here, this program's errors name their fixes in `dialect` (a main that reads a workdir, say)."""
  _dialect[0] = dialect


def error_line(error: ConfigError | str) -> str:
  """`error: ...`: the error on one line, its Settings and Arguments in this program's dialect."""
  text = error.render(_dialect[0]) if isinstance(error, ConfigError) else error
  return f'error: {" ".join(text.split())}'


def check_directory(name: str) -> None:
  """Refuses the directory that flag `name` names to write in, where it is a file or cannot be written."""
  from resnet_jax.workdir import check_writable

  if FLAGS[name].value:
    check_writable(FLAGS[name].value, Argument(name, FLAGS[name].value))


def out_folder(default: str) -> str:
  """--out, or `default` where it is not given: where the program's files go, refused where it cannot be written."""
  from resnet_jax.workdir import check_writable

  path = FLAGS.out or default
  check_writable(path, Argument('out', path))
  return path


def check_file(name: str) -> None:
  """Refuses the file that flag `name` names to write, where it is a directory or its directory cannot be
  written."""
  from resnet_jax.workdir import check_writable

  path = FLAGS[name].value
  if path:
    if os.path.isdir(path):
      raise ConfigError(Argument(name, path), ' is a directory: name a file.')
    check_writable(os.path.dirname(os.path.abspath(path)), f"{flag(name)}'s directory")


class Terminated(KeyboardInterrupt):
  """SIGTERM where nothing is saved on it (outside training, which saves): it stops the program as Ctrl-C does."""


def _terminate(signum, frame):
  del signum, frame
  raise Terminated


def interruption(error: KeyboardInterrupt) -> str:
  """What stopped the program: 'SIGTERM' or 'Ctrl-C'."""
  return 'SIGTERM' if isinstance(error, Terminated) else 'Ctrl-C'


def _stopped(error: KeyboardInterrupt) -> str:
  """The line of a program stopped by a signal: its own where it gave one (launch.py's training), else which."""
  return error.args[0] if error.args else f'Stopped by {interruption(error)}.'


CONFIG_OVERRIDES: list[str] = []  # This program's --config.KEY=VALUE arguments, as KEY=VALUE (takes_config).


def _parse(argv: list[str], uses: tuple[str, ...], takes_config: bool) -> None:
  """Parses argv into FLAGS (and CONFIG_OVERRIDES): a mistake is a ConfigError, or absl's error, which is the
  user's input too. Of the SHARED flags, the program takes those it `uses`."""
  argv, overrides = config_flags.split(argv)
  FLAGS.unparse_flags()
  rest = FLAGS(argv)
  if len(rest) > 1:
    raise ConfigError(f'Unexpected arguments: {" ".join(rest[1:])}: every argument is a --flag=VALUE. See --help.')
  for name in {FLAGS[name].name for name in FLAGS if FLAGS[name].present}:
    _expand_home(name)
  if foreign := [name for name in SHARED if FLAGS[name].present and name not in uses]:
    raise ConfigError(f"Unknown command line flag '{foreign[0]}'. See --help.")
  if overrides and not takes_config:
    key = overrides[0].partition('=')[0]
    raise ConfigError(f'This program takes no --config flags: set {key} with ', Setting(key, 'VALUE'), '.')
  CONFIG_OVERRIDES[:] = overrides


def _expand_home(name: str) -> None:
  """Expands a leading ~ in flag `name`'s value as a shell would (it leaves the ~ of '--workdir=~/r', which does
  not start a word); a ~USER of no user here is refused."""
  value = FLAGS[name].value
  values = value if isinstance(value, list) else [value]
  if not any(isinstance(v, str) and v.startswith('~') for v in values):
    return
  expanded = [os.path.expanduser(v) if isinstance(v, str) else v for v in values]
  for given, path in zip(values, expanded):
    if isinstance(path, str) and path.startswith('~'):
      user = path.split(os.sep)[0]
      raise ConfigError(Argument(name, given), f': {user} names no user here: give the path in full.')
  FLAGS[name].value = expanded if isinstance(value, list) else expanded[0]


def _parse_error(error: Exception) -> str:
  """The one line of a mistake in the command line: a ConfigError's, or absl's own message."""
  return error_line(error if isinstance(error, ConfigError) else f'{str(error).rstrip(".")}. See --help.')


def _main(main: Callable[[], None]) -> int:
  """main(), its mistakes as one line on stderr: its exit status."""
  try:
    environment.check_jax_version()
    main()
    return 0
  except ConfigError as e:
    print(error_line(e), file=sys.stderr, flush=True)
    return 2
  except (NonFiniteLossError, WriteError) as e:
    print(error_line(str(e)), file=sys.stderr, flush=True)
    return 1


@dataclasses.dataclass(frozen=True)
class Program:
  """A command-line program: its main() of no arguments, how its command line names a config key and an argument
  (dialect), the SHARED flags it takes (uses), and whether it takes --config.KEY=VALUE arguments (CONFIG_OVERRIDES).

  Bad input, found while the flags and the config are parsed or raised as a ConfigError, ends it with one line
  `error: ...` and exit status 2; a failed write or a non-finite loss with exit status 1; Ctrl-C and SIGTERM (where
  nothing saves on them) with one line.
  """

  main: Callable[[], None]
  dialect: Dialect = config_dialect
  uses: tuple[str, ...] = ()
  takes_config: bool = False

  def execute(self, argv: list[str]) -> int:
    """Runs the program in this process (the tests) as run() does, its flags parsed from argv (argv[0] its name):
    its exit status."""
    speak(self.dialect)
    try:
      _parse(argv, self.uses, self.takes_config)
    except (ConfigError, flags.Error) as e:
      print(_parse_error(e), file=sys.stderr, flush=True)
      return 2
    console.setup()
    try:
      return _main(self.main)
    except SystemExit as e:  # A main's sys.exit(status).
      return e.code
    except KeyboardInterrupt as e:
      print(error_line(_stopped(e)), file=sys.stderr, flush=True)
      return 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)

  def run(self) -> None:
    """Runs the program as the process (absl's app.run). On CPU-only runs malloc keeps freed memory
    (--retain_host_memory), set before main() can start JAX's backend."""
    speak(self.dialect)
    for stream in (sys.stdout, sys.stderr):  # A path the terminal's encoding lacks is shown escaped, not a traceback.
      stream.reconfigure(errors='backslashreplace')
    for name in ('retain_host_memory', 'alsologtostderr', *self.uses):  # Its --help lists them (absl's key flags).
      FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS[name])

    def parse(argv):
      try:
        _parse(argv, self.uses, self.takes_config)
      except (ConfigError, flags.Error) as e:
        print(_parse_error(e), file=sys.stderr, flush=True)
        sys.exit(2)
      except SystemExit as e:  # absl's --help, --helpshort and --helpfull print, then exit 1: help is no failure.
        sys.exit(0 if e.code == 1 else e.code)
      return argv[:1]

    def main(argv):
      del argv  # Parsed by parse.
      signal.signal(signal.SIGINT, signal.default_int_handler)  # Until now, startup.py's.
      signal.signal(signal.SIGTERM, _terminate)  # Training saves on it instead (resnet_jax/preemption.py).
      console.setup()
      if FLAGS.retain_host_memory and host_memory.cpu_only():
        host_memory.retain_freed_memory()
      try:
        status = _main(self.main)
      except KeyboardInterrupt as e:
        print(error_line(_stopped(e)), file=sys.stderr, flush=True)
        status = 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)
      if status:  # Not sys.exit: threads still at work (data, checkpoints) would hold the exit or print.
        sys.stdout.flush()
        os._exit(status)

    app.run(main, flags_parser=parse)


__all__ = [
    'CONFIG_OVERRIDES',
    'Dialect',
    'FLAGS',
    'Program',
    'SHARED',
    'Terminated',
    'check_directory',
    'out_folder',
    'check_file',
    'config_dialect',
    'define_integer_list',
    'error_line',
    'flag',
    'interruption',
    'reading',
    'set_dialect',
    'share',
    'speak',
]
