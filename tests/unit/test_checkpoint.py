"""checkpoint.py: orbax's checkpoints on its current API, the read-only restore of variables, another network's
refused."""

import os

import jax
import numpy as np
import pytest

from resnet_jax import parallel
from resnet_jax.checkpoint import Checkpoints
from resnet_jax.errors import ConfigError
from resnet_jax.models import abstract_variables, create_model
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.train_step import Metrics, create_train_state
from tests.helpers import ROOT, get_config


def write_checkpoint(workdir, config):
  model = create_model(config)
  tx = create_optimizer(config, learning_rate_schedule(config))
  state = create_train_state(model, tx, 32, seed=3)
  checkpoints = Checkpoints(workdir, 'resnet8-A', 1)
  checkpoints.save(5, (state, Metrics.empty()), force=True)
  checkpoints.close()
  return model, state


def test_variables_restore_read_only_without_the_optimizer(tmp_path):
  config = get_config('cifar10:resnet8')
  model, state = write_checkpoint(str(tmp_path), config)
  checkpoints = Checkpoints(str(tmp_path), 'resnet8-A', 1, read_only=True)
  variables, step = checkpoints.restore_variables(
      abstract_variables(model, 32), parallel.replicated(parallel.make_mesh())
  )
  checkpoints.close()
  assert step == 5
  for got, want in zip(
      jax.tree.leaves(variables), jax.tree.leaves({'batch_stats': state.batch_stats, 'params': state.params})
  ):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_another_networks_variables_are_refused(tmp_path):
  config = get_config('cifar10:resnet8')
  write_checkpoint(str(tmp_path), config)
  other = create_model(get_config('cifar10:resnet14'))
  checkpoints = Checkpoints(str(tmp_path), 'resnet8-A', 1, read_only=True)
  with pytest.raises(
      ConfigError,
      match="arrays of other shapes .*: the workdir's config.json names resnet8-A but its "
      "checkpoints are another network's: restore the config.json it was trained",
  ):
    checkpoints.restore_variables(abstract_variables(other, 32), parallel.replicated(parallel.make_mesh()))
  checkpoints.close()


def test_a_checkpoint_without_its_metadata_file_is_read_or_refused_in_one_line(tmp_path):
  """The target of a read-only restore comes from the newest metadata that reads; with none, one error."""
  config = get_config('cifar10:resnet8')
  model, state = write_checkpoint(str(tmp_path), config)
  checkpoints = Checkpoints(str(tmp_path), 'resnet8-A', 2)
  checkpoints.save(6, (state, Metrics.empty()), force=True)
  checkpoints.close()
  sharding = parallel.replicated(parallel.make_mesh())
  os.remove(tmp_path / 'checkpoints' / '6' / 'default' / '_METADATA')
  checkpoints = Checkpoints(str(tmp_path), 'resnet8-A', 2, read_only=True)
  assert checkpoints.restore_variables(abstract_variables(model, 32), sharding)[1] == 6
  checkpoints.close()
  os.remove(tmp_path / 'checkpoints' / '5' / 'default' / '_METADATA')
  checkpoints = Checkpoints(str(tmp_path), 'resnet8-A', 2, read_only=True)
  with pytest.raises(ConfigError, match='No checkpoint in .* reads'):
    checkpoints.restore_variables(abstract_variables(model, 32), sharding)
  checkpoints.close()


def test_checkpoints_use_orbaxs_current_api(tmp_path):
  """handler_registry and preservation_policy (item_handlers and max_to_keep are deprecated): the last K kept, each
  in <step>/default, as checkpoints always were (tests/e2e restores tests/data/recorded and resumes it)."""
  config = get_config('cifar10:resnet8')
  model, state = write_checkpoint(str(tmp_path), config)
  checkpoints = Checkpoints(str(tmp_path), 'resnet8-A', 2)
  for step in (6, 7):
    checkpoints.save(step, (state, Metrics.empty()), force=True)
  checkpoints.close()
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['6', '7']
  assert os.path.isdir(tmp_path / 'checkpoints' / '7' / 'default')
  recorded = Checkpoints(os.path.join(ROOT, 'tests', 'data', 'recorded'), 'resnet8-B', read_only=True)
  assert recorded.newest() == 2  # A workdir written on the deprecated API reads on this one.
  recorded.close()
