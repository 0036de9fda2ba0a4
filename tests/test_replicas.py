"""Replicas: K nets trained in one program, replica k the single run of seed + k, through checkpoints and resumption."""

import numpy as np
import pytest

from resnet_jax import replicas
from resnet_jax.analysis.study import TrainedNet
from resnet_jax.errors import ConfigError
from resnet_jax.train import train_and_evaluate
from tests.helpers import imagenet_tiny_config, rows, tiny_config


def by_replica(workdir):
  found = {}
  for row in rows(workdir):
    found.setdefault(row.pop('replica', None), []).append(row)
  return found


def assert_same_rows(got, want):
  """The same rows to float32 tolerance: vmapped convolutions sum in another order, and SGD at lr 0.1 on a batch
  of 16 grows the difference step by step (measured at step 4: 5e-4 relative under jax 0.11.2, less under 0.12)."""
  assert [(r['step'], r['split']) for r in got] == [(r['step'], r['split']) for r in want]
  for g, w in zip(got, want):
    for key in ('loss', 'top1_error', 'top5_error', 'learning_rate'):
      if key in w:
        assert g[key] == pytest.approx(w[key], rel=2e-3, abs=2e-3), (g, w, key)


@pytest.mark.slow
def test_each_replica_is_the_single_run_of_its_seed(image_folder, tmp_path):
  """Two replicas of seeds 3 and 4 against the single runs of seeds 3 and 4, at every logged step; then the
  replicated run resumes from its checkpoint to the same rows."""
  config = lambda **o: tiny_config(image_folder, tmp_path / 'cache', **{
      'seed': 3, 'total_steps': 4, 'eval_every_steps': 2, 'checkpoint_every_steps': 2, **o})
  train_and_evaluate(config(num_replicas=2), str(tmp_path / 'both'))
  for k in (0, 1):
    train_and_evaluate(config(seed=3 + k), str(tmp_path / f'seed{3 + k}'))
  both = by_replica(tmp_path / 'both')
  assert sorted(both) == [0, 1]
  for k in (0, 1):
    assert_same_rows(both[k], rows(tmp_path / f'seed{3 + k}'))
  assert both[0][-1]['loss'] != both[1][-1]['loss']  # Other seeds: other nets.
  # Resumption: a run stopped at step 2 (its checkpoint) and continued matches the run never stopped.
  train_and_evaluate(config(num_replicas=2, total_steps=2), str(tmp_path / 'resumed'))
  train_and_evaluate(config(num_replicas=2), str(tmp_path / 'resumed'))
  assert by_replica(tmp_path / 'resumed') == both
  with pytest.raises(ConfigError, match='holds checkpoints of 2 replicas, not 3'):
    train_and_evaluate(config(num_replicas=3), str(tmp_path / 'resumed'))
  # The studies take a replica: replica 1 of the workdir is the net of seed 4, its error the one training logged.
  trained = TrainedNet(str(tmp_path / 'both'), replica=1)
  try:
    assert trained.name == 'resnet8-A-replica1' and trained.seed == 4
    assert trained.error()['top1_error'] == pytest.approx(both[1][-1]['top1_error'], abs=1e-6)
    first = trained.of_replica(0)  # The other net, on the same restored checkpoint and compiled evaluation.
    assert (first.name, first.seed, trained.name) == ('resnet8-A-replica0', 3, 'resnet8-A-replica1')
    assert first.error()['top1_error'] == pytest.approx(both[0][-1]['top1_error'], abs=1e-6)
  finally:
    trained.close()
  with pytest.raises(ConfigError, match='choose --replica from 0 to 1'):
    TrainedNet(str(tmp_path / 'both'), replica=2)


def test_best_mean_std_is_the_papers_format():
  assert replicas.best_mean_std([6.43, 6.61, 6.8, 6.55, 6.66]) == '6.43 (6.61±0.14)'  # std with ddof=1: 0.1366.
  assert replicas.best_mean_std([7.5]) == '7.50' and replicas.best_mean_std([]) == '-'
  assert replicas.mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))
  assert replicas.seeds(tiny_config('x', 'y', seed=5, num_replicas=3)) == [5, 6, 7]


def test_where_one_net_and_several_differ():
  mean, std = replicas.curves_mean_std([[10.0, 20.0], [12.0, 26.0]])
  np.testing.assert_allclose(mean, [11, 23])
  np.testing.assert_allclose(std, [2 ** 0.5, 18 ** 0.5])
  mean, std = replicas.curves_mean_std([[10.0, 20.0]])
  assert list(mean) == [10, 20] and list(std) == [0, 0]  # One run: no band.
  rows = [{'step': 1}, {'step': 1, 'replica': 1}, {'step': 1, 'replica': 0}]
  assert replicas.row_replicas(rows[1:]) == [0, 1] and replicas.row_replicas(rows[:1]) == [None]
  assert replicas.row_fields(None) == {} and replicas.row_fields(2) == {'replica': 2}
  assert (replicas.tag_prefix('test', None), replicas.tag_prefix('test', 3)) == ('test', 'test/replica3')
  shared, per_net = {'x': np.ones(2)}, [{'x': np.zeros(2)}, {'x': np.ones(2)}]
  assert replicas.step_inputs(shared, False) is shared and replicas.step_inputs(per_net, True)['x'].shape == (2, 2)
  assert replicas.inputs_of_net(per_net, 1, True) is per_net[1] and replicas.inputs_of_net(shared, 1, False) is shared
  assert (replicas.inputs_axis(True), replicas.inputs_axis(False)) == (0, None)


@pytest.mark.slow
def test_imagenet_replicas_draw_their_own_host_streams(imagenet_folder, tmp_path):
  """ImageNet's host pipeline: each replica its own stream (seed + k), stacked into one step."""
  config = lambda **o: imagenet_tiny_config(imagenet_folder, tmp_path / 'cache', **{
      'total_steps': 2, 'eval_every_steps': 2, 'checkpoint_every_steps': 2, **o})
  train_and_evaluate(config(num_replicas=2), str(tmp_path / 'both'))
  train_and_evaluate(config(seed=1), str(tmp_path / 'seed1'))
  both = by_replica(tmp_path / 'both')
  assert_same_rows(both[1], rows(tmp_path / 'seed1'))
  assert both[0][0]['loss'] != both[1][0]['loss']


def test_both_replica_axes_compute_each_replica_with_shared_arguments():
  rng = np.random.default_rng(0)
  kernels, inputs, bias = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 2, 4)), rng.normal(size=(5,))
  fn = lambda w, x, b: (x @ w + b, w.sum())
  want = [fn(kernels[k], inputs[k], bias) for k in range(3)]
  for how in ('vmap', 'map'):
    outputs, sums = replicas.over_replicas(fn, (0, 0, None), how)(kernels, inputs, bias)
    for k in range(3):
      np.testing.assert_allclose(outputs[k], want[k][0], rtol=1e-5, atol=1e-6)  # float32 against float64.
      np.testing.assert_allclose(sums[k], want[k][1], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_vmap_and_map_train_the_same_replicas(image_folder, tmp_path):
  config = lambda how: tiny_config(image_folder, tmp_path / 'cache', total_steps=4, eval_every_steps=2,
                                   checkpoint_every_steps=2, num_replicas=2, replica_axis=how)
  for how in ('vmap', 'map'):
    train_and_evaluate(config(how), str(tmp_path / how))
  by_vmap, by_map = by_replica(tmp_path / 'vmap'), by_replica(tmp_path / 'map')
  for k in (0, 1):
    assert_same_rows(by_map[k], by_vmap[k])
