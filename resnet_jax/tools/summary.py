"""A network's summary: its parameter overview, parameter count and forward multiply-adds."""
import jax
import jax.numpy as jnp
from clu import parameter_overview

from resnet_jax.models import count_macs, count_params, create_model, model_name


def summarize(config) -> tuple[str, dict]:
  """(clu's parameter overview table, {'name', 'params', 'macs', 'image_size'}) for the config's network."""
  model = create_model(config)
  size = config.dataset.image_size
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros((1, size, size, 3)), train=False))
  overview = parameter_overview.get_parameter_overview(variables['params'], include_stats=False)
  return overview, {'name': model_name(config.model), 'params': count_params(variables['params']),
                    'macs': count_macs(model, variables, size), 'image_size': size}
