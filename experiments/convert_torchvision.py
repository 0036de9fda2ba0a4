r"""Imports torchvision's ResNet weights into a workdir, to evaluate or lesion-study the published models.

    python experiments/convert_torchvision.py --torchvision=resnet50-0676ba61.pth \
        --config=configs/imagenet.py:resnet50,modern --workdir=workdirs/resnet50-torchvision

torchvision's nets are ResNet-18/34/50/101/152 with option B shortcuts, the v1.5 bottleneck (stride on the 3x3
conv) and inputs normalized by ImageNet's per-channel mean and std: the config must say so, and the command names
the flags if it does not. The checkpoint is step 0 of a TrainState, with fresh optimizer state. Needs torch (for
reading the file) and nothing else of it.
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import shlex

from absl import flags

from resnet_jax.errors import Argument, ConfigError
from resnet_jax.runtime import cli, config_flags

flags.DEFINE_string('torchvision', None, 'A torchvision ResNet state_dict (.pth).')
FLAGS = flags.FLAGS


def main() -> None:
  for name, example in (
      ('torchvision', 'FILE.pth'),
      ('config', 'configs/imagenet.py:resnetN,modern'),
      ('workdir', 'DIR'),
  ):
    if not FLAGS[name].value:
      raise ConfigError('Give ', Argument(name, example), '.')
  from resnet_jax.tools.convert import convert_file

  convert_file(FLAGS.torchvision, config_flags.load(FLAGS.config, cli.CONFIG_OVERRIDES), FLAGS.workdir)
  print(
      f'Wrote {FLAGS.workdir}/checkpoints/0; evaluate with: python launch.py --mode=eval '
      f'--workdir={shlex.quote(FLAGS.workdir)}'
  )  # The workdir's config.json says the rest.


PROGRAM = cli.Program(main, uses=('config', 'workdir'), takes_config=True)

if __name__ == '__main__':
  PROGRAM.run()
