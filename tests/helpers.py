"""Small builders shared by the tests."""
import importlib

import jax
import jax.numpy as jnp

from resnet_jax.models import create_model


def get_config(name: str, **model_overrides):
  """configs/<dataset>.py:<variant> as 'cifar10:resnet20', with model fields overridden."""
  dataset, variant = name.split(':')
  config = importlib.import_module(f'configs.{dataset}').get_config(variant)
  config.model.update(model_overrides)
  return config


def abstract_variables(model, image_size: int):
  return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, image_size, image_size, 3))))


def build(name: str, image_size: int | None = None, **model_overrides):
  """(config, model, abstract variables) of a named network."""
  config = get_config(name, **model_overrides)
  model = create_model(config)
  return config, model, abstract_variables(model, image_size or config.dataset.image_size)
