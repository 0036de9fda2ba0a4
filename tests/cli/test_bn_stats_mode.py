"""launch.py --mode=bn_stats: precise BN statistics kept beside the checkpoint, used and named by evaluation and the
studies while that checkpoint is the newest; the lesion study's --recompute_bn."""

import json
import os
import shutil

import ml_collections
import pytest

from resnet_jax import bn_stats, parallel
from resnet_jax.trained import TrainedNet, restore_nets
from resnet_jax.workdir import read_config
from tests.helpers import assert_refused, markdown_rows, read_only, run, snapshot


@pytest.fixture
def workdir(trained, tmp_path):
  """A copy of the trained workdir of the tests' ResNet-8 (step 2)."""
  shutil.copytree(trained[0], tmp_path / 'w')
  return str(tmp_path / 'w')


def test_precise_statistics_are_kept_beside_the_checkpoint_and_evaluation_says_it_uses_them(
    workdir, image_folder, tmp_path
):
  checkpoints = {k: v for k, v in snapshot(workdir).items() if '/checkpoints/' in k}
  done = run('launch', '--mode=bn_stats', f'--workdir={workdir}', '--config.bn_stats_batches=3')
  assert done.returncode == 0, done.stderr
  computed = json.loads(done.stdout.strip().splitlines()[-1])
  assert computed['step'] == 2 and computed['bn_stats'] == 'precise: 3 training batches (48 images)'
  assert computed['test']['running'] != computed['test']['precise']
  assert {k: v for k, v in snapshot(workdir).items() if '/checkpoints/' in k} == checkpoints
  assert os.listdir(os.path.join(workdir, 'bn_stats')) == ['2']

  evaluated = run('launch', '--mode=eval', f'--workdir={workdir}')
  assert evaluated.returncode == 0, evaluated.stderr
  result = json.loads(evaluated.stdout.strip().splitlines()[-1])
  assert result == {'test': computed['test']['precise'], 'bn_stats': computed['bn_stats']}
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    assert json.loads(f.readlines()[-1])['bn_stats'] == computed['bn_stats']
  running = TrainedNet(workdir, precise_bn=False)
  try:
    assert running.bn_stats == bn_stats.RUNNING and running.error() == computed['test']['running']
  finally:
    running.close()

  # Again, over another copy of the data: they replace the ones kept, and say whose images they are.
  other = tmp_path / 'other'
  shutil.copytree(image_folder, other)
  data = [f'--config.dataset.dir={other}', f'--config.dataset.cache_dir={tmp_path / "cache"}']
  again = run('launch', '--mode=bn_stats', f'--workdir={workdir}', '--config.bn_stats_batches=1', *data)
  assert again.returncode == 0, again.stderr
  described = f'precise: 1 training batch (16 images of {other})'
  assert json.loads(again.stdout.strip().splitlines()[-1])['bn_stats'] == described
  assert (
      json.loads(run('launch', '--mode=eval', f'--workdir={workdir}').stdout.splitlines()[-1])['bn_stats'] == described
  )


def test_statistics_of_another_checkpoint_or_that_do_not_read_are_not_used(workdir, caplog):
  config = ml_collections.ConfigDict(read_config(workdir))
  mesh = parallel.make_mesh()
  statistics = lambda: restore_nets(workdir, config, mesh).bn_stats
  restored = restore_nets(workdir, config, mesh)
  metadata = {'batches': 5, 'images': 80, 'data': ''}
  bn_stats.write(workdir, 'resnet8-A', restored.step, restored.committed, restored.variables['batch_stats'], metadata)
  assert statistics() == 'precise: 5 training batches (80 images)'
  kept = os.path.join(workdir, 'bn_stats')
  shutil.copytree(kept, f'{kept}.copy')
  os.rename(os.path.join(kept, '2'), os.path.join(kept, '1'))  # As if trained on since.
  assert statistics() == 'running averages (bn_stats/ holds the precise statistics of step 1)'
  # Checkpoint 2 saved again (after one that did not read): the statistics are the other one's.
  shutil.rmtree(kept)
  shutil.copytree(f'{kept}.copy', kept)
  metadata = os.path.join(kept, '2', '_CHECKPOINT_METADATA')
  with open(metadata) as f:
    text = json.load(f)
  text['custom_metadata']['checkpoint'] += 1
  with open(metadata, 'w') as f:
    json.dump(text, f)
  assert statistics() == 'running averages (bn_stats/ holds the precise statistics of an earlier checkpoint 2)'
  os.remove(metadata)  # Damaged: the running averages, and why.
  assert statistics() == 'running averages (bn_stats/2 does not read: compute them again)'
  shutil.rmtree(os.path.join(kept, '2', 'default'))
  assert statistics().startswith('running averages (bn_stats/')
  assert 'do not read' in caplog.text


def test_the_lesion_study_gives_each_deletion_with_statistics_recomputed(workdir, tmp_path):
  done = run(
      'layer_deletion',
      f'--workdirs={workdir}',
      f'--out={tmp_path / "out"}',
      '--recompute_bn=2',
      '--path_samples=0',
      '--draws=1',
      '--swaps=1',
  )
  assert done.returncode == 0, done.stderr
  table = markdown_rows((tmp_path / 'out' / 'single_deletion.md').read_text())
  assert table[0][-2:] == ['error %', 'error %, BN recomputed'] and len(table) == 4
  record = json.loads((tmp_path / 'out' / 'deletion.json').read_text())['nets'][0]
  assert record['bn_stats'] == 'running averages' and record['recomputed_bn']['batches'] == 2
  trained = TrainedNet(workdir)
  try:  # With no block deleted, the recomputed statistics are the net's precise ones over the same batches.
    assert record['recomputed_bn']['baseline'] == trained.error(variables=trained.precise_bn(2))['top1_error']
  finally:
    trained.close()


def test_every_mistake_is_one_line(workdir, tmp_path):
  def bn_stats_of(*flags):
    return run('launch', '--mode=bn_stats', *flags)

  assert_refused(bn_stats_of(f'--workdir={workdir}', '--config.bn_stats_batches=0'), 'bn_stats_batches must be')
  assert_refused(bn_stats_of(), '--mode=bn_stats needs --workdir=DIR')
  assert_refused(
      bn_stats_of(f'--workdir={tmp_path / "none"}'), 'none does not exist: name the workdir of a trained run.'
  )
  assert_refused(
      bn_stats_of(f'--workdir={workdir}', '--config.model.depth=14'), 'reading this workdir may set only dataset.source'
  )
  assert_refused(
      run('launch', '--mode=eval', f'--workdir={workdir}', '--config.bn_stats_batches=5'),
      '--config.bn_stats_batches is read by --mode=bn_stats alone',
  )
  assert_refused(bn_stats_of(f'--workdir={workdir}', '--config.bn_stats_batches=2147483648'), 'at most 2147483647')
  with read_only(workdir):
    assert_refused(bn_stats_of(f'--workdir={workdir}'), f'{workdir} cannot be written')
  assert not os.path.exists(os.path.join(workdir, 'bn_stats'))
  assert run('launch', '--mode=bn_stats', f'--workdir={workdir}', '--config.bn_stats_batches=1').returncode == 0
  with read_only(os.path.join(workdir, 'bn_stats', '2')):  # What a new computation replaces.
    assert_refused(bn_stats_of(f'--workdir={workdir}'), 'bn_stats/2 cannot be written')
  shutil.rmtree(os.path.join(workdir, 'bn_stats'))
  open(os.path.join(workdir, 'bn_stats'), 'w').close()
  assert_refused(bn_stats_of(f'--workdir={workdir}'), 'bn_stats is a file where the precise BN statistics go')
  assert_refused(bn_stats_of(f'--workdir={workdir}/config.json'), 'is a file, not a workdir')
