"""What a program tells its user: the library's lines (INFO records of the resnet_jax loggers: progress, ETA,
evaluations, results) on stdout, from process 0 alone; warnings and errors on stderr; the INFO logs of the libraries
(orbax, JAX, TensorFlow) only in a training run's log file (<workdir>/train.log).

absl's `--alsologtostderr` (or `--stderrthreshold=info`) brings every INFO log to stderr too.
"""

import logging
import os
import sys
import threading

from absl import flags
from absl import logging as absl_logging

flags.FLAGS.set_default('stderrthreshold', 'warning')  # absl's flag: the lowest level stderr shows.
LIBRARY = logging.getLogger('resnet_jax')
_primary = [True]  # Whether this process speaks for the run (process 0): set by speaks_for_the_run.


def counted(count: int, noun: str) -> str:
  """'1 block', '3 blocks': a count and its noun, plural unless the count is one."""
  return f'{count:,} {noun}{"" if count == 1 else "s"}'


def speaks_for_the_run(primary: bool) -> None:
  """Whether this process's lines reach the terminal: process 0's do, once JAX knows the processes."""
  _primary[0] = primary


def say(text: str) -> None:
  """One line of the program's own for the user on stdout (process 0), also in the log file."""
  LIBRARY.info('%s', text)


class _Terminal(logging.Handler):
  """The library's INFO records as plain lines on stdout (whatever sys.stdout is when they are emitted)."""

  def emit(self, record) -> None:
    if record.levelno == logging.INFO and _primary[0]:
      print(record.getMessage(), file=sys.stdout, flush=True)


def _stderr_threshold() -> int:
  return absl_logging.converter.string_to_standard(flags.FLAGS.stderrthreshold)


def _verbose() -> bool:
  """Whether the user asked for every log on stderr (absl's flags)."""
  return flags.FLAGS.alsologtostderr or flags.FLAGS.logtostderr or _stderr_threshold() <= logging.INFO


def setup() -> None:
  """The library's lines on stdout; INFO logs off stderr and TensorFlow's C++ banner away, unless the user asked for
  every log. Once per process."""
  LIBRARY.setLevel(logging.INFO)
  if not any(isinstance(handler, _Terminal) for handler in LIBRARY.handlers):
    LIBRARY.addHandler(_Terminal())
  if _verbose():
    return
  # Read when TensorFlow is first imported. TensorFlow only reads data and writes events here: its oneDNN ops,
  # whose banner this silences, compute nothing of the run's.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
  handler = absl_logging.get_absl_handler()
  if not any(isinstance(f, _Quiet) for f in handler.filters):
    handler.addFilter(_Quiet())
  threading.excepthook = _log_thread_exception
  sys.unraisablehook = _log_unraisable


class _Quiet(logging.Filter):
  """stderr: records at the threshold (warnings) and above, but the background's and the library's INFO."""

  def filter(self, record) -> bool:
    return record.levelno >= _stderr_threshold() and not _from_background(record)


def _from_background(record) -> bool:
  """orbax's own reports, and exceptions of background threads and of asyncio tasks (orbax writes with asyncio:
  a failed write's tasks may be reported "never retrieved" when collected): the run states their outcome on the
  terminal itself (a checkpoint that does not read or write), so they stay in the log file."""
  return f'{os.sep}orbax{os.sep}' in record.pathname or record.name in (_BACKGROUND.name, 'asyncio')


_BACKGROUND = logging.getLogger('resnet_jax.background')


def _log_unraisable(args) -> None:
  _BACKGROUND.error(
      'Unraisable exception in %r', args.object, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
  )


def _log_thread_exception(args) -> None:
  _BACKGROUND.error(
      'Exception in thread %s',
      args.thread.name if args.thread else '?',
      exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
  )
