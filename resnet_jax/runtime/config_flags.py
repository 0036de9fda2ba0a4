"""--config=FILE:VARIANT and its --config.KEY=VALUE overrides: the config a command line names, loaded here (not by
absl), so that every mistake in it, the config file's own included, ends in one error line naming the fix."""

import importlib.util
import os
import sys
import traceback

import ml_collections

import configs
from configs import schema
from resnet_jax.errors import Argument, ConfigError

# Paths, given relative to where a command runs; runs and reads take them absolute, and config.json saves them so.
PATH_KEYS = ('dataset.dir', 'dataset.cache_dir', 'init_from')
PREFIX = '--config.'


def split(argv: list[str]) -> tuple[list[str], list[str]]:
  """(argv without its --config.KEY=VALUE arguments, those as KEY=VALUE); '--config.KEY VALUE' is refused, naming
  the form it takes."""
  for i, arg in enumerate(argv[1:], 2):
    if arg.startswith(PREFIX) and '=' not in arg:
      value = argv[i] if i < len(argv) and not argv[i].startswith('-') else 'VALUE'
      raise ConfigError(f'{arg} takes its value after "=": give {arg}={value}.')
  overrides = [arg.removeprefix(PREFIX) for arg in argv[1:] if arg.startswith(PREFIX)]
  return [arg for arg in argv if not arg.startswith(PREFIX)], overrides


def load(spec: str | None, overrides) -> ml_collections.ConfigDict:
  """The config of `spec` ('FILE:VARIANT', FILE relative to the current directory) with `overrides` ('KEY=VALUE')
  applied, its paths made absolute."""
  if spec is None:
    key = overrides[0].partition('=')[0]
    raise ConfigError(
        Argument(f'config.{key}'),
        ' needs ',
        Argument('config', 'FILE:NETWORK'),
        ' before it, which makes the --config.KEY flags: e.g. ',
        Argument('config', 'configs/cifar10.py:resnet20'),
        ' ',
        Argument(f'config.{key}', 'VALUE'),
        '.',
    )
  path, _, variant = spec.partition(':')
  config = config_file(path, variant)
  return with_absolute_paths(schema.apply_overrides(config, absolute_paths(overrides)))


def config_file(path: str, variant: str) -> ml_collections.ConfigDict:
  """The config that get_config(variant) of the config file at `path` returns ('' : get_config())."""
  here = os.path.relpath(os.path.dirname(configs.__file__))
  here = os.path.dirname(configs.__file__) if here.startswith('..') else here
  if not os.path.isfile(path):
    raise ConfigError(
        f'There is no config file {path}. A relative path is taken from the current directory, '
        f'{os.getcwd()}: from here, use ',
        *_config_files(here),
        '.',
    )
  if not path.endswith('.py'):
    raise ConfigError(
        f'{path} is not a config file (a Python file defining get_config): use ',
        *_config_files(here),
        '.',
    )
  try:
    spec = importlib.util.spec_from_file_location(f'_config_{abs(hash(os.path.abspath(path)))}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, 'get_config', None)):
      raise ConfigError(
          f'{path} is not a config file (it defines no get_config): use ',
          *_config_files(here),
          '.',
      )
    config = module.get_config(variant) if variant else module.get_config()
  except ConfigError:
    raise
  except Exception as e:  # noqa: BLE001 -- whatever the config file raised is a mistake in it, named with its line.
    raise ConfigError(f'{_line_in(path, e)}: {type(e).__name__}: {e}. Fix the config file there.') from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(
        f'get_config of {path} returned a {type(config).__name__}, not an ml_collections.ConfigDict: '
        'fix the config file.'
    )
  return config


def _config_files(here: str) -> tuple:
  """The parts of a message that name the config files in `here`, configs/ as seen from the current directory."""
  return Argument('config', f'{here}/cifar10.py:NETWORK'), ' or ', Argument('config', f'{here}/imagenet.py:NETWORK')


def _line_in(path: str, error: BaseException) -> str:
  """'FILE, line N' of the innermost frame of `error` in the config file at `path` or in another file outside the
  installed libraries (a config file it imports); the file alone where none is found."""
  if isinstance(error, SyntaxError) and error.filename:
    return f'{error.filename}, line {error.lineno}'
  frames = traceback.extract_tb(error.__traceback__)
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  for frame in reversed(frames):
    where = os.path.abspath(frame.filename)
    if where == os.path.abspath(path) or not where.startswith((package, sys.prefix, sys.base_prefix)):
      return f'{frame.filename}, line {frame.lineno}'
  return path


def absolute_paths(overrides) -> tuple[str, ...]:
  """'KEY=VALUE' overrides with the values of PATH_KEYS made absolute from the current directory."""
  result = []
  for override in overrides:
    key, _, value = override.partition('=')
    result.append(f'{key}={os.path.abspath(os.path.expanduser(value))}' if key in PATH_KEYS and value else override)
  return tuple(result)


def with_absolute_paths(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """config with its PATH_KEYS (those set) made absolute from the current directory."""
  for key in PATH_KEYS:
    node, field = schema.node_and_field(config, key)
    if node.get(field):
      node[field] = os.path.abspath(os.path.expanduser(node[field]))
  return config
