"""Batch normalisation with statistics over the whole (global) batch, or over groups of it ("ghost" BN)."""

import re
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchNorm(nn.Module):
  """BatchNorm as flax.linen's (same variables: params scale, bias; batch_stats mean, var).

  In training, statistics cover groups of `group_size` consecutive examples (0: the whole batch, which under jit
  over a mesh is the global batch). He et al. normalise over each GPU's 32 (ImageNet) or 64 (CIFAR) images:
  group_size reproduces that on any number of devices. Running statistics average the groups'.
  """

  use_running_average: bool
  group_size: int = 0
  momentum: float = 0.9
  epsilon: float = 1e-5
  dtype: Any = jnp.float32
  scale_init: Callable = nn.initializers.ones

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    scale = self.param('scale', self.scale_init, (features,))
    bias = self.param('bias', nn.initializers.zeros, (features,))
    running_mean = self.variable('batch_stats', 'mean', jnp.zeros, (features,))
    running_var = self.variable('batch_stats', 'var', jnp.ones, (features,))
    if self.use_running_average:
      mean, var = running_mean.value, running_var.value
    else:
      batch = x.shape[0]
      group = self.group_size or batch
      if batch % group:
        raise ValueError(f'A batch of {batch} does not split into BatchNorm groups of {group}.')
      grouped = x.reshape(batch // group, group, -1, features).astype(jnp.float32)
      group_mean = grouped.mean(axis=(1, 2))  # (groups, features)
      group_var = jnp.maximum((grouped**2).mean(axis=(1, 2)) - group_mean**2, 0.0)
      if not self.is_initializing():
        running_mean.value = self.momentum * running_mean.value + (1 - self.momentum) * group_mean.mean(0)
        running_var.value = self.momentum * running_var.value + (1 - self.momentum) * group_var.mean(0)
      mean = jnp.repeat(group_mean, group, axis=0)[:, None, None, :]
      var = jnp.repeat(group_var, group, axis=0)[:, None, None, :]
    y = (x.astype(jnp.float32) - mean) * (jax.lax.rsqrt(var + self.epsilon) * scale) + bias
    return y.astype(self.dtype)


NAME = re.compile(r'(.+_)?bn\d*')  # The names the models give their BatchNorm layers: bn1, stem_bn, shortcut_bn.


def is_bn_parameter(path) -> bool:
  """Whether a parameter's path (jax.tree_util's keys) is a BatchNorm layer's scale or offset."""
  return len(path) >= 2 and bool(NAME.fullmatch(str(getattr(path[-2], 'key', path[-2]))))
