"""What the training loop consumes, per dataset: a stream of step inputs, the batch they make inside the jitted
step, and the evaluation of the held-out splits.

CIFAR-10 lives on the devices (the step input is the whole dataset; the step draws its batch). ImageNet comes
from the host pipeline (the step input is the batch, as uint8; the step normalizes it).
"""
import functools
import itertools

import jax
import numpy as np

from resnet_jax import evaluation, parallel
from resnet_jax.data import augment, cifar10, host, imagenet, on_device
from resnet_jax.errors import ConfigError

# ImageNet's per-channel statistics in [0, 1] units, as torchvision's pretrained models expect.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class CifarInput:
  """CIFAR-10 replicated on every device; each step gathers and augments its batch there."""

  def __init__(self, config, mesh, model):
    self.config, self.mesh = config, mesh
    splits = cifar10.load(config.dataset)
    images, labels = splits.pop('train')
    if len(labels) < config.batch_size:
      raise ConfigError(f'batch_size {config.batch_size} exceeds the {len(labels)} training images.')
    self.data = {'train': on_device.put(images, labels, mesh),
                 'norm': on_device.normalization(images, config.dataset.normalization)}
    self.evals = {name: on_device.put(*split, mesh, config.eval_batch_size) for name, split in splits.items()}
    self._eval_fn = jax.jit(functools.partial(evaluation.eval_step, model=model,
                                              batch_size=config.eval_batch_size, mesh=mesh))

  def stream(self, start_step: int):
    del start_step  # The batch is a function of the step, drawn on the device.
    return itertools.repeat(self.data)

  def batch(self, inputs, step):
    c = self.config
    return on_device.train_batch(inputs['train'], inputs['norm'], step, c.seed, c.batch_size,
                                 c.dataset.crop_padding, self.mesh)

  def evaluate(self, state, protocol=None, block_modes=None) -> dict[str, dict[str, float]]:
    del protocol  # CIFAR is tested on the 32x32 images as they are.
    if block_modes is not None:
      block_modes = parallel.replicate(np.asarray(block_modes, np.int32), self.mesh)
    return {name: evaluation.evaluate_on_device(self._eval_fn, state, split, self.data['norm'],
                                                self.config.eval_batch_size, block_modes)
            for name, split in self.evals.items()}

  def close(self) -> None:
    pass


# dataset.augmentation -> (encoded image, generator, dataset config) -> uint8 training view.
AUGMENTATIONS = {
    'paper': lambda data, rng, d: augment.paper_train(data, rng, d.image_size, tuple(d.scale_range)),
    'random_resized_crop': lambda data, rng, d: augment.random_resized_crop(data, rng, d.image_size),
}
NORMALIZATIONS = ('per_pixel_mean', 'per_channel')


class ImagenetInput:
  """ImageNet decoded and augmented on the host (data/host.py); the step adds lighting and normalizes."""

  def __init__(self, config, mesh, model):
    self.config, self.mesh, self.model = config, mesh, model
    d = config.dataset
    if d.augmentation not in AUGMENTATIONS:
      raise ConfigError(f'Unknown dataset.augmentation {d.augmentation!r}: use one of {", ".join(AUGMENTATIONS)}.')
    if d.normalization not in NORMALIZATIONS:
      raise ConfigError(f'Unknown dataset.normalization {d.normalization!r}: use one of {", ".join(NORMALIZATIONS)}.')
    evaluation.passes(config.eval.protocol, d.image_size, ())  # Refuses an unknown protocol.
    self.splits = imagenet.load(d)
    if len(self.splits['train']) < config.batch_size:
      raise ConfigError(f'batch_size {config.batch_size} exceeds the {len(self.splits["train"])} training images.')
    if d.normalization == 'per_pixel_mean':
      mean = imagenet.mean_image(self.splits['train'], d.image_size, d.mean_samples, d.cache_dir, d.workers)
      self.host_norm = on_device.Normalization(mean, np.ones((3,), np.float32))
    else:
      self.host_norm = on_device.Normalization(np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32))
    self.norm = jax.device_put(self.host_norm, parallel.replicated(mesh))
    self._streams = []

  def transform(self, data: bytes, rng: np.random.Generator):
    d = self.config.dataset
    image = AUGMENTATIONS[d.augmentation](data, rng, d)
    return image, augment.lighting(rng) if d.lighting else np.zeros(3, np.float32)

  def stream(self, start_step: int):
    c = self.config
    stream = host.TrainStream(self.splits['train'], self.transform, c.seed, c.batch_size, start_step, self.mesh,
                              c.dataset.workers)
    self._streams.append(stream)
    return ({**batch, 'norm': self.norm} for batch in stream)

  def batch(self, inputs, step):
    del step
    image = on_device.normalize(inputs['image'], inputs['norm'], inputs['lighting'])
    return {'image': parallel.shard_batch(image, self.mesh), 'label': inputs['label']}

  def evaluate(self, state, protocol=None, block_modes=None) -> dict[str, dict[str, float]]:
    c = self.config
    return {'val': evaluation.evaluate_protocol(
        state, self.splits['val'], protocol or c.eval.protocol, model=self.model, norm=self.host_norm,
        batch_size=c.eval_batch_size, image_size=c.dataset.image_size, scales=tuple(c.eval.scales),
        workers=c.dataset.workers, num_classes=c.dataset.num_classes, block_modes=block_modes)}

  def close(self) -> None:
    for stream in self._streams:
      stream.close()


def create_input(config, mesh, model):
  inputs = {'cifar10': CifarInput, 'imagenet2012': ImagenetInput}
  if config.dataset.name not in inputs:
    raise ConfigError(f'Unknown dataset {config.dataset.name!r}: use configs/cifar10.py or configs/imagenet.py.')
  return inputs[config.dataset.name](config, mesh, model)
