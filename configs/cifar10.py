"""CIFAR-10, He et al. 2015 Section 4.2.

Variants: resnet20, resnet32, resnet44, resnet56, resnet110, resnet1202 (any resnet<6n+2>), plain20 ... plain110,
with an optional shortcut suffix (-A, the paper's default here, -B or -C): configs/cifar10.py:resnet56-B.
The recipe is the paper's: batch 128, SGD momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at 32k and 48k
iterations, 64k iterations; 4-pixel padding, random 32x32 crops and flips; per-pixel mean subtracted. Nets of
depth 110 and more start at lr 0.01 for 400 iterations (schedule.warmup_min_depth: so does
--config.model.depth=110 on resnet20).
"""

import os

import ml_collections

from configs.common import compute_config, model_config, run_options


def get_config(variant: str = 'resnet20') -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = model_config('cifar', variant, default_shortcut='A')
  config.dataset = ml_collections.ConfigDict(
      {
          'name': 'cifar10',
          'num_classes': 10,
          'image_size': 32,
          'train_size': 50_000,  # Images per epoch, for schedule.unit='epochs'.
          'source': 'download',  # The authors' binary archive, once, into cache_dir; 'folder' (a folder or .tar.gz of
          # train/ and test/), or 'tfds' (requirements-tfds.txt).
          'dir': '',  # The folder or tarball; for tfds, its data_dir ('' for tfds' default).
          'cache_dir': os.path.expanduser('~/.cache/resnet_jax'),  # The download, and decoded folders, are kept here.
          'val_split': False,  # Hold out 5k training images as 'val' (the paper's 45k/5k split).
          'normalization': 'per_pixel_mean',  # Or 'per_channel' (mean and std).
          'crop_padding': 4,  # Random crops of the image padded by this many pixels, and flips; 0: neither.
      }
  )
  config.seed = 0
  config.num_replicas = 1  # Independent nets trained in one program, seeds seed, seed+1, ... (resnet_jax/replicas.py).
  config.compute = compute_config()
  config.batch_size = 128  # Global, over all devices and hosts.
  config.eval_batch_size = 1000
  config.total_steps = 64_000
  config.log_every_steps = 100
  config.eval_every_steps = 2_000
  config.checkpoint_every_steps = 2_000
  config.keep_checkpoints = 3
  config.update(run_options())
  config.optimizer = ml_collections.ConfigDict(
      {
          'name': 'sgd',
          'learning_rate': 0.1,
          'momentum': 0.9,
          'nesterov': False,
          'weight_decay': 1e-4,
          'label_smoothing': 0.0,
      }
  )
  config.schedule = ml_collections.ConfigDict(
      {
          'name': 'step',  # 'step' (x decay at each boundary) or 'cosine'.
          'unit': 'steps',  # Of boundaries and warmup_length: 'steps' or 'epochs'.
          'boundaries': (32_000, 48_000),
          'decay': 0.1,
          'warmup': 'constant',  # 'constant' (lr x warmup_factor) or 'linear' (from 0).
          'warmup_length': 400,
          'warmup_factor': 0.1,
          'warmup_min_depth': 110,
      }
  )  # Only nets this deep warm up (the paper's ResNet-110 and -1202).
  return config
