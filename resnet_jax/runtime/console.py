"""What a run tells its user: progress and results on stdout; every library's log in the run's log file.

By default stderr carries only warnings and errors. The INFO logs of this code and of the libraries (orbax,
JAX, TensorFlow) go to the training run's log file (<workdir>/train.log), or nowhere for commands without one;
absl's `--alsologtostderr` (or `--stderrthreshold=info`) brings them back to stderr.
"""
import contextlib
import logging as python_logging
import os
import sys
import threading

import jax
from absl import flags, logging

flags.FLAGS.set_default('stderrthreshold', 'warning')  # absl's flag: the lowest level stderr shows.


def counted(count: int, noun: str) -> str:
  """'1 block', '3 blocks': a count and its noun, plural unless the count is one."""
  return f'{count:,} {noun}{"" if count == 1 else "s"}'


def say(text: str) -> None:
  """One line for the user on stdout (process 0 only; call it after parallel.initialize), also in the log."""
  logging.info('%s', text)
  if jax.process_index() == 0:
    print(text, flush=True)


def _stderr_threshold() -> int:
  return logging.converter.string_to_standard(flags.FLAGS.stderrthreshold)


def _verbose() -> bool:
  """Whether the user asked for every log on stderr (absl's flags)."""
  return flags.FLAGS.alsologtostderr or flags.FLAGS.logtostderr or _stderr_threshold() <= python_logging.INFO


def quiet_libraries() -> None:
  """Keeps INFO logs off stderr and TensorFlow's C++ banner away, unless the user asked for every log."""
  if _verbose():
    return
  # Read when TensorFlow is first imported. TensorFlow only reads data and writes events here: its oneDNN ops,
  # whose banner this silences, compute nothing of the run's.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
  logging.get_absl_handler().addFilter(
      lambda record: record.levelno >= _stderr_threshold() and not _from_background(record))
  threading.excepthook = _log_thread_exception
  sys.unraisablehook = _log_unraisable


def _from_background(record) -> bool:
  """orbax's own reports, and exceptions of background threads and of asyncio tasks (orbax writes with asyncio:
  a failed write's tasks may be reported "never retrieved" when collected): the run states their outcome on the
  terminal itself (a checkpoint that does not read or write), so they stay in the log file."""
  return (f'{os.sep}orbax{os.sep}' in record.pathname or record.name in (_BACKGROUND.name, 'asyncio'))


_BACKGROUND = python_logging.getLogger('resnet_jax.background')


def _log_unraisable(args) -> None:
  _BACKGROUND.error('Unraisable exception in %r', args.object, exc_info=(args.exc_type, args.exc_value,
                                                                        args.exc_traceback))


def _log_thread_exception(args) -> None:
  _BACKGROUND.error('Exception in thread %s', args.thread.name if args.thread else '?',
                    exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


class _LogFile(python_logging.FileHandler):
  """A log file that never interrupts the run: a record it cannot write (disk full) is dropped."""

  def handleError(self, record) -> None:
    del record

  def close(self) -> None:
    with contextlib.suppress(OSError):
      super().close()


@contextlib.contextmanager
def log_file(path: str):
  """Appends every log record, INFO and above, to `path` while the context lasts."""
  handler = _LogFile(path)
  handler.setFormatter(logging.PythonFormatter())
  root = python_logging.getLogger()
  root.addHandler(handler)
  try:
    yield
  finally:
    root.removeHandler(handler)
    handler.close()
