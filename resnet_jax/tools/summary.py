"""A network's summary: its parameter overview, parameter count and forward multiply-adds."""
from clu import parameter_overview

from resnet_jax.models import abstract_variables, count_macs, count_params, create_model, model_name
from resnet_jax.runtime import auto


def summarize(config) -> tuple[str, dict]:
  """(clu's parameter overview table, {'name', 'params', 'macs', 'image_size'}) for the config's network."""
  model, size = create_model(auto.resolve(config)), config.dataset.image_size
  variables = abstract_variables(model, size)
  overview = parameter_overview.get_parameter_overview(variables['params'], include_stats=False)
  return overview, {'name': model_name(config.model), 'params': count_params(variables['params']),
                    'macs': count_macs(model, variables, size), 'image_size': size}
