"""CIFAR-10, He et al. 2015 Section 4.2.

Variants: resnet20, resnet32, resnet44, resnet56, resnet110, resnet1202 (any resnet<6n+2>), plain20 ... plain110,
with an optional shortcut suffix (-A, the paper's default here, -B or -C): configs/cifar10.py:resnet56-B.
"""
import ml_collections

from configs.common import model_config


def get_config(variant: str = 'resnet20') -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = model_config('cifar', variant, default_shortcut='A')
  config.dataset = ml_collections.ConfigDict({'name': 'cifar10', 'num_classes': 10, 'image_size': 32})
  config.seed = 0
  return config
