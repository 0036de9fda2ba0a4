"""evaluation.py: the error sums, the padded batches, and the Evaluator over one net and over replicas."""

import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax import parallel
from resnet_jax.compute import Compute
from resnet_jax.data.dataset import array_split
from resnet_jax.data.on_device import Normalization
from resnet_jax.evaluation import Evaluator, error_sums, padded_batches


def test_error_sums_rank_ties_to_the_lower_class():
  log_probs = np.log(np.array([[0.5, 0.5, 0.0 + 1e-9], [0.2, 0.3, 0.5], [0.1, 0.2, 0.7]]))
  labels = np.array([1, 2, 0])
  loss, top1, top5, count = error_sums(log_probs, labels)
  assert top1 == 2  # Image 0: a tie with class 0, which argmax takes; image 2: class 0 ranks last.
  assert top5 == 0 and count == 3  # Three classes: every label is in the top five.
  assert loss == pytest.approx(-(np.log(0.5) + np.log(0.5) + np.log(0.1)))


def test_padded_batches_keep_one_size_per_shape():
  norm = Normalization(np.zeros(3, np.float32), np.ones(3, np.float32))
  split = array_split('s', np.zeros((10, 4, 4, 3), np.uint8), np.zeros(10, np.int32), norm, 4)
  batches = list(padded_batches(split, devices=3))
  assert [len(images) for _, images, _ in batches] == [6, 6, 6]  # 4 rounded up to 3 devices; the last, 2, too.
  assert [real for _, _, real in batches] == [4, 4, 2]


def linear_predict(variables, images, block_modes):
  del block_modes
  return images.mean((1, 2)) @ variables['w']


def numpy_errors(w, images, labels):
  logits = (images / 255).mean((1, 2)) @ w
  log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
  loss, top1, top5, count = error_sums(log_probs, labels)
  return {'loss': loss / count, 'top1_error': 100 * top1 / count, 'top5_error': 100 * top5 / count}


@pytest.mark.parametrize('how', ['vmap', 'map'])
def test_evaluator_gives_one_result_per_net(how):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (24, 4, 4, 3)).astype(np.uint8)
  labels = rng.integers(0, 7, 24).astype(np.int32)
  norm = Normalization(np.zeros(3, np.float32), np.ones(3, np.float32))
  split = array_split('test', images, labels, norm, 16)
  mesh = parallel.make_mesh()
  weights = [rng.normal(size=(3, 7)).astype(np.float32) for _ in range(2)]
  [one] = Evaluator(linear_predict, mesh)({'w': jnp.asarray(weights[0])}, split)
  both = Evaluator(linear_predict, mesh, nets=2, choices=Compute(replica_axis=how))(
      {'w': jnp.asarray(np.stack(weights))}, split
  )
  assert len(both) == 2
  for got, w in zip([one, *both], [weights[0], *weights]):
    want = numpy_errors(w, images.astype(np.float64), labels)
    assert got['loss'] == pytest.approx(want['loss'], rel=1e-5)
    assert got['top1_error'] == pytest.approx(want['top1_error']) and got['top5_error'] == pytest.approx(
        want['top5_error']
    )
