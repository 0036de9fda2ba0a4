"""Replicas: where one net and K differ, both replica axes, and results over seeds in the papers' format."""

import numpy as np
import pytest

from resnet_jax import replicas, results
from tests.helpers import tiny_config


def test_best_mean_std_is_the_papers_format():
  assert results.best_mean_std([6.43, 6.61, 6.8, 6.55, 6.66]) == '6.43 (6.61±0.14)'  # std with ddof=1: 0.1366.
  assert results.best_mean_std([7.5]) == '7.50' and results.best_mean_std([]) == '-'
  assert results.mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))
  assert replicas.seeds(tiny_config('x', 'y', seed=5, num_replicas=3)) == [5, 6, 7]


def test_where_one_net_and_several_differ():
  mean, std = results.curves_mean_std([[10.0, 20.0], [12.0, 26.0]])
  np.testing.assert_allclose(mean, [11, 23])
  np.testing.assert_allclose(std, [2**0.5, 18**0.5])
  mean, std = results.curves_mean_std([[10.0, 20.0]])
  assert list(mean) == [10, 20] and list(std) == [0, 0]  # One run: no band.
  rows = [{'step': 1}, {'step': 1, 'replica': 1}, {'step': 1, 'replica': 0}]
  assert replicas.row_replicas(rows[1:]) == [0, 1] and replicas.row_replicas(rows[:1]) == [None]
  assert replicas.row_fields(None) == {} and replicas.row_fields(2) == {'replica': 2}
  assert (replicas.tag_prefix('test', None), replicas.tag_prefix('test', 3)) == ('test', 'test/replica3')
  shared, per_net = {'x': np.ones(2)}, [{'x': np.zeros(2)}, {'x': np.ones(2)}]
  assert replicas.step_inputs(shared, False) is shared and replicas.step_inputs(per_net, True)['x'].shape == (2, 2)
  assert replicas.inputs_of_net(per_net, 1, True) is per_net[1] and replicas.inputs_of_net(shared, 1, False) is shared
  assert (replicas.inputs_axis(True), replicas.inputs_axis(False)) == (0, None)


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
