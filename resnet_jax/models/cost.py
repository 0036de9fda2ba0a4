"""What a network costs: parameters, and multiply-adds and convolution outputs of a forward pass (counted from its
jaxpr)."""

import math

import jax
import jax.extend as jex
import jax.numpy as jnp


def count_params(params) -> int:
  """Number of trainable scalars (BatchNorm running statistics are not parameters)."""
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))


def _jaxpr_sum(jaxpr, count) -> int:
  """The sum of count(eqn) over a jaxpr's equations and those of its sub-jaxprs, counting each scan iteration."""
  total = 0
  for eqn in jaxpr.eqns:
    total += count(eqn)
    inner = sum(_jaxpr_sum(getattr(sub, 'jaxpr', sub), count) for sub in jex.core.jaxprs_in_params(eqn.params))
    total += inner * (eqn.params['length'] if eqn.primitive.name == 'scan' else 1)
  return total


def _macs(eqn) -> int:
  """Multiply-adds of a convolution or a matrix product; 0 for any other equation."""
  name = eqn.primitive.name
  out_size = math.prod(eqn.outvars[0].aval.shape) if eqn.outvars else 0
  if name == 'conv_general_dilated':
    kernel = eqn.invars[1].aval.shape
    out_features = kernel[eqn.params['dimension_numbers'].rhs_spec[0]]
    return out_size * math.prod(kernel) // out_features
  if name == 'dot_general':
    (lhs_contract, _), _ = eqn.params['dimension_numbers']
    return out_size * math.prod(eqn.invars[0].aval.shape[d] for d in lhs_contract)
  return 0


def _conv_outputs(eqn) -> int:
  """The size of a convolution's output; 0 for any other equation."""
  return math.prod(eqn.outvars[0].aval.shape) if eqn.primitive.name == 'conv_general_dilated' else 0


def _forward_jaxpr(model, variables, image_size: int):
  image = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  return jax.make_jaxpr(lambda v, x: model.apply(v, x, train=False))(variables, image).jaxpr


def count_macs(model, variables, image_size: int) -> int:
  """Forward multiply-adds of `model` for one image_size x image_size RGB image, in evaluation mode.

  Counts convolutions and fully connected layers, as He et al. 2015 (Table 1) count "FLOPs".
  """
  return int(_jaxpr_sum(_forward_jaxpr(model, variables, image_size), _macs))


def count_conv_outputs(model, variables, image_size: int) -> int:
  """Scalars the convolutions of `model` output for one image_size x image_size RGB image: the activations a
  training step keeps for its backward pass, at the least."""
  return int(_jaxpr_sum(_forward_jaxpr(model, variables, image_size), _conv_outputs))
