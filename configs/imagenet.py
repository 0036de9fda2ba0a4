"""ImageNet (ILSVRC 2012), He et al. 2015 Section 3.4.

Variants: resnet18, resnet34, resnet50, resnet101, resnet152 (and resnet200), plain18, plain34, with an optional
shortcut suffix (-B, the paper's default here, as in Table 3; -A or -C): configs/imagenet.py:resnet34-C.
"""
import ml_collections

from configs.common import model_config


def get_config(variant: str = 'resnet50') -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = model_config('imagenet', variant, default_shortcut='B')
  config.dataset = ml_collections.ConfigDict({'name': 'imagenet2012', 'num_classes': 1000, 'image_size': 224})
  config.seed = 0
  return config
