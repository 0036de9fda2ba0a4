"""ImageNet (ILSVRC 2012), He et al. 2015 Section 3.4.

Variants: resnet18, resnet34, resnet50, resnet101, resnet152 (and resnet200), plain18, plain34, with an optional
shortcut suffix (-B, the paper's default here, as in Table 3; -A or -C), and an optional recipe after a comma:
configs/imagenet.py:resnet34-C or configs/imagenet.py:resnet50,modern.

Recipes:
  paper   batch 256, SGD momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at epochs 30 and 60 (a fixed
          stand-in for "when the error plateaus"), 90 epochs; shorter side in [256, 480], random 224 crop, flip,
          PCA lighting, per-pixel mean; BN over groups of 32 images (the paper's per-GPU batch).
  modern  the same optimizer with linear warm-up for 5 epochs, cosine decay, label smoothing 0.1, bf16 compute,
          torchvision's v1.5 bottleneck, random-resized crops and flips, per-channel normalization.
The learning rate scales linearly with the global batch (0.1 per 256 images); epochs become steps by the batch.
"""

import os

import ml_collections

from configs.common import ConfigError, compute_config, model_config, run_options, usable_cpus

RECIPES = ('paper', 'modern')


def get_config(variant: str = 'resnet50') -> ml_collections.ConfigDict:
  network, _, recipe = variant.partition(',')
  recipe = recipe or 'paper'
  if recipe not in RECIPES:
    raise ConfigError(f'Unknown recipe {recipe!r} in {variant!r}: use one of {", ".join(RECIPES)}.')
  modern = recipe == 'modern'
  config = ml_collections.ConfigDict()
  config.recipe = recipe
  config.model = model_config('imagenet', network, default_shortcut='B')
  config.model.bn_group_size = 0 if modern else 32
  config.model.zero_init_residual = modern
  if modern:
    config.model.update(dtype='bfloat16', bottleneck_stride='3x3')
  config.dataset = ml_collections.ConfigDict(
      {
          'name': 'imagenet2012',
          'num_classes': 1000,
          'image_size': 224,
          'train_size': 1_281_167,  # He et al. 2015: "1.28 million training images": the length of an epoch.
          'source': 'folder',  # 'folder' (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG) or 'tfds' (array_record).
          'dir': '',  # The folder; for tfds, its data_dir.
          'cache_dir': os.path.expanduser('~/.cache/resnet_jax'),  # The estimated mean image is cached here.
          'augmentation': 'random_resized_crop' if modern else 'paper',  # Or the other.
          'scale_range': (256, 480),  # The paper's shorter-side range.
          'lighting': not modern,  # AlexNet's PCA lighting noise.
          'normalization': 'per_channel' if modern else 'per_pixel_mean',  # per_channel: ImageNet's mean and std.
          'mean_samples': 10_000,  # Training images the per-pixel mean is estimated from.
          'decoder': 'auto',  # Of training images: 'pil', 'simplejpeg', or 'auto' (resnet_jax/data/decode.py).
          'workers': usable_cpus(),  # Decoding threads per process: the CPUs it may use (SLURM: those granted).
      }
  )
  config.eval = ml_collections.ConfigDict(
      {
          'protocol': 'center_crop',  # Or 'ten_crop', 'multi_scale' (resnet_jax/data/protocols.py).
          'scales': (224, 256, 384, 480, 640),  # multi_scale's shorter sides.
      }
  )
  config.seed = 0
  config.num_replicas = 1  # Independent nets trained in one program, seeds seed, seed+1, ... (resnet_jax/replicas.py).
  config.compute = compute_config()
  config.batch_size = 256  # Global, over all devices and hosts.
  config.eval_batch_size = 256  # Views of 224x224 per evaluation batch (more pixels: proportionally fewer).
  config.num_epochs = 90
  # Counted in epochs: ml_collections references, read after --config overrides (batch_size=1024: 1/4 the steps).
  epoch = config.dataset.get_ref('train_size') // config.get_ref('batch_size')
  config.total_steps = config.get_ref('num_epochs') * epoch
  config.log_every_steps = 100
  config.eval_every_steps = epoch * 5
  config.checkpoint_every_steps = 2_000
  config.keep_checkpoints = 3
  config.update(run_options())
  config.optimizer = ml_collections.ConfigDict(
      {
          'name': 'sgd',
          'learning_rate': config.get_ref('batch_size').to_float() * (0.1 / 256),
          'momentum': 0.9,
          'nesterov': False,
          'weight_decay': 1e-4,
          'label_smoothing': 0.1 if modern else 0.0,
      }
  )
  config.schedule = ml_collections.ConfigDict(
      {
          'name': 'cosine' if modern else 'step',
          'unit': 'epochs',
          'boundaries': (30, 60),
          'decay': 0.1,
          'warmup': 'linear',
          'warmup_length': 5 if modern else 0,
          'warmup_factor': 0.1,
          'warmup_min_depth': 0,
      }
  )
  return config
