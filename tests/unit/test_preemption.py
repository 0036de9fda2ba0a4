"""preemption.py: SIGTERM and Ctrl-C during a run; a Ctrl-C before training, or a second one, stops at once."""

import os
import signal
import subprocess
import sys

import pytest

from resnet_jax import train, workdir
from resnet_jax.preemption import Preemption
from resnet_jax.train import train_and_evaluate
from tests.helpers import ROOT, tiny_config


def test_ctrl_c_before_training_stops_at_once_and_a_later_one_is_a_request():
  with Preemption() as preemption:
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
    assert not preemption.requested
    preemption.begin_training()
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    assert preemption.requested and preemption.stop_at(5, 4)
    with pytest.raises(KeyboardInterrupt):  # The second Ctrl-C.
      os.kill(os.getpid(), signal.SIGINT)
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
  assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_ctrl_c_while_the_run_is_built_leaves_no_checkpoint(image_folder, tmp_path, monkeypatch):
  build = train.Run.__init__

  def interrupted(run, *args, **kwargs):
    build(run, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGINT)

  monkeypatch.setattr(train.Run, '__init__', interrupted)
  with pytest.raises(KeyboardInterrupt):
    train_and_evaluate(tiny_config(image_folder, tmp_path / 'cache'), str(tmp_path / 'w'))
  assert workdir.step_dirs(str(tmp_path / 'w')) == [] and not (tmp_path / 'w' / 'metrics.jsonl').exists()


@pytest.mark.parametrize('signame,status', [('SIGINT', 130), ('SIGTERM', 143)])
def test_a_signalled_program_ends_in_one_line(signame, status, tmp_path):
  """A program that saves nothing on a signal (an evaluation, a study, a report) stops at once, in one line."""
  script = tmp_path / 'signalled.py'
  script.write_text(
      'import os, signal, time\nfrom resnet_jax.runtime import cli\n\n'
      f'def main():\n  os.kill(os.getpid(), signal.{signame})\n  time.sleep(60)\n\n'
      'cli.Program(main).run()\n'
  )
  done = subprocess.run(
      [sys.executable, str(script)],
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=120,
      env={**os.environ, 'JAX_PLATFORMS': 'cpu', 'PYTHONPATH': ROOT},
  )
  name = {'SIGINT': 'Ctrl-C', 'SIGTERM': 'SIGTERM'}[signame]
  assert done.returncode == status and done.stderr.strip().splitlines() == [f'error: Stopped by {name}.'], done.stderr
