"""Imported first by every program (launch.py, experiments/*.py): while it starts (its imports, its flags), Ctrl-C
or SIGTERM ends it in one line, nothing begun, instead of a traceback or a silent exit. Program.run takes the
signals over when main() begins. Imported by anything else (the tests), it changes nothing."""

import os
import signal
import sys

import __main__

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _stop(signum, frame) -> None:
  del frame
  which = 'Ctrl-C' if signum == signal.SIGINT else 'SIGTERM'
  sys.stderr.write(f'error: Stopped by {which} while starting: nothing was done.\n')
  sys.stderr.flush()
  os._exit(128 + signum)


def _is_a_program(path: str) -> bool:
  path = os.path.realpath(path)
  return path == os.path.join(REPO, 'launch.py') or os.path.dirname(path) == os.path.join(REPO, 'experiments')


if _is_a_program(getattr(__main__, '__file__', '') or ''):
  for _signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_signum, _stop)
