"""What a network costs: parameters, and multiply-adds of a forward pass (counted from its jaxpr)."""
import math

import jax
import jax.extend as jex
import jax.numpy as jnp


def count_params(params) -> int:
  """Number of trainable scalars (BatchNorm running statistics are not parameters)."""
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))


def _jaxpr_macs(jaxpr) -> int:
  """Multiply-adds of the convolutions and matrix products in a jaxpr, counting each scan iteration."""
  total = 0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    out_size = math.prod(eqn.outvars[0].aval.shape) if eqn.outvars else 0
    if name == 'conv_general_dilated':
      kernel = eqn.invars[1].aval.shape
      out_features = kernel[eqn.params['dimension_numbers'].rhs_spec[0]]
      total += out_size * math.prod(kernel) // out_features
    elif name == 'dot_general':
      (lhs_contract, _), _ = eqn.params['dimension_numbers']
      total += out_size * math.prod(eqn.invars[0].aval.shape[d] for d in lhs_contract)
    else:
      inner = sum(_jaxpr_macs(getattr(sub, 'jaxpr', sub)) for sub in jex.core.jaxprs_in_params(eqn.params))
      total += inner * (eqn.params['length'] if name == 'scan' else 1)
  return total


def count_macs(model, variables, image_size: int) -> int:
  """Forward multiply-adds of `model` for one image_size x image_size RGB image, in evaluation mode.

  Counts convolutions and fully connected layers, as He et al. 2015 (Table 1) count "FLOPs".
  """
  image = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  jaxpr = jax.make_jaxpr(lambda v, x: model.apply(v, x, train=False))(variables, image)
  return int(_jaxpr_macs(jaxpr.jaxpr))

