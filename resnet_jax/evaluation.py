"""Evaluation: loss, top-1 and top-5 error of a split, on device (CIFAR) or under a testing protocol (ImageNet).

ImageNet protocols (He et al. 2015, Section 3.4), each view's softmax scores averaged per image:
  center_crop  shorter side 256, the central 224 crop (1 view);
  ten_crop     shorter side 256, the four corner and central 224 crops and their mirror images (10 views);
  multi_scale  the whole image, fully convolutional, at shorter side 224, 256, 384, 480 and 640 (5 views;
               eval.scales).
Each process evaluates its own share of the images on its own devices; the sums are then gathered.
"""
import dataclasses
import functools
import time
from concurrent import futures
from typing import Callable

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from clu import metrics
from jax.experimental import multihost_utils

from resnet_jax import parallel
from resnet_jax.console import say
from resnet_jax.data import augment, on_device
from resnet_jax.data.imagenet import Split
from resnet_jax.errors import ConfigError

PROTOCOLS = ('center_crop', 'ten_crop', 'multi_scale')


def _top5(logits, labels, **_):
  return (jax.lax.top_k(logits, min(5, logits.shape[-1]))[1] == labels[:, None]).any(-1).astype(jnp.float32)


@flax.struct.dataclass
class EvalMetrics(metrics.Collection):
  loss: metrics.Average.from_output('loss')
  accuracy: metrics.Accuracy
  top5_accuracy: metrics.Average.from_fun(_top5)


def summary(collection: EvalMetrics) -> dict[str, float]:
  values = collection.compute()
  return {'loss': float(values['loss']), 'top1_error': 100 * (1 - float(values['accuracy'])),
          'top5_error': 100 * (1 - float(values['top5_accuracy']))}


def scores(logits, labels, mask=None) -> EvalMetrics:
  """The metrics of a batch of logits (or log-probabilities); mask marks the real examples."""
  loss = -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], -1)[:, 0]
  return EvalMetrics.single_from_model_output(loss=loss, logits=logits, labels=labels, mask=mask)


# On device: a split held in device memory (CIFAR).

def eval_step(state, running: EvalMetrics, split: on_device.Split, norm, index, block_modes, *, model, batch_size,
              mesh):
  batch = on_device.eval_batch(split, norm, index, batch_size, mesh)
  logits = model.apply({'params': state.params, 'batch_stats': state.batch_stats}, batch['image'], train=False,
                       block_modes=block_modes)
  mask = batch['label'] >= 0
  return running.merge(scores(logits, jnp.maximum(batch['label'], 0), mask))


def evaluate_on_device(eval_fn, state, split: on_device.Split, norm, batch_size: int,
                       block_modes=None) -> dict[str, float]:
  running = EvalMetrics.empty()
  for index in range(split.labels.shape[0] // batch_size):
    running = eval_fn(state, running, split, norm, jnp.int32(index), block_modes)
  return summary(running)


# From the host: an encoded split under a protocol (ImageNet).

@dataclasses.dataclass(frozen=True)
class Pass:
  """One pass over the images: `count` views of each, of one shape (h, w), or of a shape that depends on the
  image's (width, height)."""
  count: int
  views: Callable[[bytes], np.ndarray]  # (count, h, w, 3) uint8.
  shape: tuple[int, int] | Callable[[int, int], tuple[int, int]]


def passes(protocol: str, size: int, scales: tuple[int, ...]) -> list[Pass]:
  if protocol == 'center_crop':
    return [Pass(1, lambda data: augment.center_crop(data, size)[None], (size, size))]
  if protocol == 'ten_crop':
    return [Pass(10, lambda data: augment.ten_crops(data, size), (size, size))]
  if protocol == 'multi_scale':
    return [Pass(1, lambda data, s=s: augment.full_image(data, s)[None],
                 functools.partial(augment.full_image_shape, shorter=s)) for s in scales]
  raise ConfigError(f'Unknown eval.protocol {protocol!r}: use one of {", ".join(PROTOCOLS)}.')


def view_probabilities(model, norm: on_device.Normalization, mesh):
  """A jitted (state, uint8 views, block modes) -> softmax scores, the views split over the mesh (this process's
  devices)."""
  @jax.jit
  def probabilities(state, images, block_modes):
    images = parallel.shard_batch(images, mesh)
    logits = model.apply({'params': state.params, 'batch_stats': state.batch_stats},
                         on_device.normalize(images, norm), train=False, block_modes=block_modes)
    return jax.nn.softmax(logits)
  return probabilities


def local_state(state, mesh):
  """The replicated state as arrays on this process's mesh (a copy of what its first device holds)."""
  return jax.device_put(jax.tree.map(lambda x: x.addressable_data(0), state), parallel.replicated(mesh))


def evaluate_protocol(state, split: Split, protocol: str, *, model, norm, batch_size: int, image_size: int,
                      scales: tuple[int, ...], workers: int, num_classes: int, block_modes=None) -> dict[str, float]:
  """Loss, top-1 and top-5 error of `split` under `protocol`; batch_size counts views of image_size^2 pixels.
  `block_modes` (one BlockMode per block) deletes blocks."""
  mesh = parallel.make_mesh(jax.local_devices())
  state, probabilities = local_state(state, mesh), view_probabilities(model, norm, mesh)
  if block_modes is not None:
    block_modes = parallel.replicate(np.asarray(block_modes, np.int32), mesh)
  devices = mesh.devices.size
  mine = np.arange(jax.process_index(), len(split), jax.process_count())
  total = np.zeros((len(mine), num_classes), np.float64)
  all_passes = passes(protocol, image_size, scales)
  last_log = time.time()
  with futures.ThreadPoolExecutor(workers) as pool:
    if any(callable(p.shape) for p in all_passes):  # Read the headers once, for every pass.
      sizes = list(pool.map(lambda i: augment.image_size(split.read(int(i))), mine))
    decode = lambda one_pass, chunk: [pool.submit(lambda p: one_pass.views(split.read(int(mine[p]))), p)
                                      for p in chunk]
    for number, one_pass in enumerate(all_passes):
      started, done, views = time.time(), 0, one_pass.count
      if callable(one_pass.shape):
        groups = {}
        for position, (width, height) in enumerate(sizes):
          groups.setdefault(one_pass.shape(width, height), []).append(position)
      else:
        groups = {one_pass.shape: list(range(len(mine)))}
      for (h, w), positions in sorted(groups.items()):
        # Batches of about batch_size * image_size^2 pixels, a multiple of the device count, fixed per shape.
        batch = max(devices, batch_size * image_size ** 2 // (h * w) // devices * devices)
        per_batch = max(1, batch // views)
        chunks = [positions[i:i + per_batch] for i in range(0, len(positions), per_batch)]
        pending = decode(one_pass, chunks[0])
        for k, chunk in enumerate(chunks):
          decoded = np.concatenate([f.result() for f in pending])
          if k + 1 < len(chunks):  # The next chunk decodes while this one runs on the devices.
            pending = decode(one_pass, chunks[k + 1])
          padded = -(-max(len(decoded), batch) // devices) * devices
          decoded = np.concatenate([decoded, np.zeros((padded - len(decoded), h, w, 3), np.uint8)])
          probs = np.asarray(probabilities(state, decoded, block_modes))[:len(chunk) * views]
          total[chunk] += probs.reshape(len(chunk), views, -1).sum(1)
          done += len(chunk)
          if time.time() - last_log > 30:
            last_log = time.time()
            say(f'Evaluating {protocol}, pass {number + 1}: {done} of {len(mine)} images, '
                f'{done / (last_log - started):.0f} images/s.')
  log_probs = np.log(np.maximum(total / sum(p.count for p in all_passes), 1e-30)).astype(np.float32)
  local = scores(jnp.asarray(log_probs), jnp.asarray(split.labels[mine]))
  return summary(multihost_utils.process_allgather(local).reduce() if jax.process_count() > 1 else local)

