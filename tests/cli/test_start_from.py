"""launch.py's fine-tuning, gradient accumulation and profiling flags: every mistake one line, before the workdir
is made."""

import shutil

from tests.helpers import assert_refused, run, tiny_data


def test_a_run_that_cannot_start_as_asked_is_one_line(trained, image_folder, tmp_path):
  source, cache = trained
  empty = tmp_path / 'empty'
  empty.mkdir()
  shutil.copy(f'{source}/config.json', empty / 'config.json')
  workdir = tmp_path / 'w'
  launch = lambda *flags: run(
      'launch',
      '--config=configs/cifar10.py:resnet8',
      f'--workdir={workdir}',
      *tiny_data(image_folder, cache),
      '--config.total_steps=6',
      *flags,
  )
  cases = [
      ([f'--config.init_from={tmp_path / "nowhere"}'], f'{tmp_path / "nowhere"} does not exist: name the workdir of'),
      ([f'--config.init_from={empty}'], f'{empty} holds no checkpoints'),
      ([f'--config.init_from={source}', '--config.init_replica=1'], 'holds one net: set --config.init_replica=0.'),
      (
          ['--config.init_replica=1'],
          'init_replica=1 picks a net of init_from, which is not set: set --config.init_from=',
      ),
      (
          [f'--config.init_from={source}', '--config.model.depth=14'],
          f'init_from={source} holds resnet8-A (model.depth=8), whose params/stage1/blocks/bn1/bias is (1, 16), not '
          "the (2, 16) of this run's resnet14-A: start from a workdir of the same network (its classifier may differ).",
      ),
      (
          ['--config.grad_accum_steps=3'],
          'batch_size 16 does not split in 3 micro-batches (grad_accum_steps) over 8 devices',
      ),
      (['--config.grad_accum_steps=0'], 'grad_accum_steps must be a finite number at least 1, not 0'),
      (['--config.profile_steps=0,1'], 'profile_steps is (START, COUNT): COUNT steps from step START, within the 6'),
      (['--config.profile_steps=5,3'], 'set --config.profile_steps=(6,1), say, or () for no trace'),
      (['--config.profile_steps=5'], 'profile_steps is (START, COUNT)'),
  ]
  for flags, message in cases:
    assert_refused(launch(*flags), message, workdir)
