"""Ensembles (experiments/ensemble.py, resnet_jax/analysis/ensemble.py): the members' softmax scores averaged over
views and then members, each workdir restored once, read-only, every bad input one line."""

import json
import os
import shutil

import numpy as np
import pytest

from resnet_jax import checkpoint
from resnet_jax.analysis import ensemble
from resnet_jax.evaluation import error_sums
from resnet_jax.train import train_and_evaluate
from resnet_jax.trained import TrainedNet, evaluate_workdir
from tests.helpers import assert_refused, run, snapshot, tiny_config, write_image_folder


@pytest.fixture(scope='module')
def seeds(image_folder, tmp_path_factory):
  """A workdir of three ResNet-8 replicas (seeds 0, 1, 2) trained for 2 steps."""
  tmp = tmp_path_factory.mktemp('seeds')
  config = tiny_config(image_folder, tmp / 'cache', total_steps=2, eval_every_steps=2, num_replicas=3)
  train_and_evaluate(config, str(tmp / 'w'))
  return str(tmp / 'w')


def test_an_ensemble_of_one_net_is_that_net(trained, tmp_path):
  workdir, _ = trained
  before = snapshot(workdir), open(os.path.join(workdir, 'metrics.jsonl')).read()
  done = run('ensemble', f'--workdirs={workdir}', f'--out={tmp_path}')
  assert done.returncode == 0, done.stderr
  after = snapshot(workdir), open(os.path.join(workdir, 'metrics.jsonl')).read()
  assert after == before  # Read-only: nothing written, not even a metrics row.
  alone = evaluate_workdir(workdir)['test']  # What --mode=eval gives the net.
  lines = done.stdout.strip().splitlines()
  assert lines[-1] == f'ensemble of 1: top-1 error {alone["top1_error"]:.2f}%, top-5 error {alone["top5_error"]:.2f}%'
  assert lines[-2] == (
      f'w (resnet8-A, step 2): top-1 error {alone["top1_error"]:.2f}%, top-5 error {alone["top5_error"]:.2f}%'
  )
  record = json.loads((tmp_path / 'ensemble.json').read_text())
  assert record['members'][0]['loss'] == pytest.approx(alone['loss'], rel=1e-12)
  assert record['loss'] == pytest.approx(alone['loss'], rel=1e-12)
  assert {'ensemble.md', 'ensemble_members.md', 'ensemble_members.png', 'ensemble.json'} <= set(os.listdir(tmp_path))


def test_an_ensemble_of_three_seeds_averages_their_softmax_scores_from_one_restore(seeds, monkeypatch):
  restores = []
  restore = checkpoint.Checkpoints.restore_variables
  monkeypatch.setattr(
      checkpoint.Checkpoints, 'restore_variables', lambda self, *a: restores.append(1) or restore(self, *a)
  )
  result = ensemble.evaluate([seeds], orders=4)
  assert len(restores) == 1 and [m.replica for m in result.members] == [0, 1, 2]
  monkeypatch.undo()
  trained = TrainedNet(seeds)
  try:
    labels = trained.split.labels
    per_net = [
        trained.of_replica(k).evaluator.scores(trained.of_replica(k).variables, trained.split)[0] for k in range(3)
    ]
  finally:
    trained.close()
  for member, scores in zip(result.members, per_net):  # Each member's own error, as one net's evaluation gives it.
    loss, top1, top5, count = error_sums(scores, labels)
    assert member.errors['top1_error'] == 100 * top1 / count and member.errors['top5_error'] == 100 * top5 / count
  mean_softmax = np.log(np.mean([np.exp(s) for s in per_net], axis=0))
  loss, top1, top5, count = error_sums(mean_softmax, labels)
  assert result.errors['top1_error'] == 100 * top1 / count and result.errors['top5_error'] == 100 * top5 / count
  assert result.errors['loss'] == pytest.approx(loss / count, rel=1e-9)
  two = np.logaddexp(per_net[0], per_net[1]) - np.log(2)
  assert result.in_order[1]['top1_error'] == 100 * error_sums(two, labels)[1] / count
  assert result.in_order[0] == result.members[0].errors and result.in_order[-1] == result.errors
  for order in result.random_orders:  # Every order ends with every member.
    assert order[-1]['top1_error'] == result.errors['top1_error']


def test_the_replica_flag_takes_one_net_of_each_workdir(seeds, trained, tmp_path):
  workdir, _ = trained
  done = run('ensemble', f'--workdirs={seeds},{workdir}', '--replica=0', f'--out={tmp_path}', '--orders=0')
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip().splitlines()[-1].startswith('ensemble of 2: ')
  assert_refused(
      run('ensemble', f'--workdirs={seeds}', '--replica=3', f'--out={tmp_path}'),
      'holds 3 replicas: choose --replica from 0 to 2',
  )


def edited_copy(workdir, to, edit):
  """A copy of workdir whose config.json is edited by edit(config)."""
  shutil.copytree(workdir, to)
  config = json.loads((to / 'config.json').read_text())
  edit(config)
  (to / 'config.json').write_text(json.dumps(config))
  return str(to)


def test_members_that_test_on_other_images_are_refused(trained, tmp_path):
  workdir, _ = trained
  classes = edited_copy(workdir, tmp_path / 'classes', lambda c: c['dataset'].update(num_classes=4))
  assert_refused(
      run('ensemble', f'--workdirs={workdir},{classes}'),
      f'{classes} has dataset.num_classes=4, {workdir} has 10: an ensemble averages the scores of nets tested on '
      'the same images',
  )
  other = write_image_folder(
      tmp_path / 'other', {'train': 8, 'test': 4}, [f'c{k}' for k in range(10)], [(32, 32)], '.png', 9
  )
  moved = edited_copy(workdir, tmp_path / 'moved', lambda c: c['dataset'].update(dir=other))
  assert_refused(
      run('ensemble', f'--workdirs={workdir},{moved}', f'--out={tmp_path / "out"}'),
      f'{moved} is tested on folder {other}, {workdir} on folder ',
  )
  assert 'set the data for all with --set=dataset.dir=PATH' in run('ensemble', f'--workdirs={workdir},{moved}').stderr
  link = tmp_path / 'link'
  link.symlink_to(workdir)
  assert_refused(run('ensemble', f'--workdirs={workdir},{link}/'), 'are one workdir, named twice in --workdirs')
  assert not (tmp_path / 'out').exists()


def test_every_bad_input_is_one_line(trained, tmp_path):
  workdir, _ = trained
  empty = tmp_path / 'empty'
  empty.mkdir()
  shutil.copy(os.path.join(workdir, 'config.json'), empty / 'config.json')
  cases = [
      ([], '--workdirs is needed'),
      ([f'--workdirs={workdir},{workdir}'], f'{workdir} and {workdir} are one workdir, named twice in --workdirs'),
      ([f'--workdirs={empty}'], 'holds no checkpoints'),
      ([f'--workdirs={tmp_path / "nowhere"}'], 'nowhere'),
      ([f'--workdirs={workdir}', '--set=total_steps=3'], 'total_steps'),
      ([f'--workdirs={workdir}', '--orders=-1'], '--orders=-1'),
  ]
  for args, message in cases:
    assert_refused(run('ensemble', *args, f'--out={tmp_path / "out"}'), message)
