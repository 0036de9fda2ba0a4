r"""Layer responses (He et al. 2015, Fig. 7): the std of each 3x3 layer's response over CIFAR-10's test set, for
trained plain nets and ResNets.

    python experiments/layer_responses.py --workdirs=workdirs/paper/cifar10/plain20,workdirs/paper/cifar10/resnet20-A \
        --out=workdirs/paper/report
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import os

import numpy as np
from absl import flags

from resnet_jax.analysis.responses import layer_responses
from resnet_jax.reproduce import plots, reporting
from resnet_jax.reproduce.papers import CLAIMS
from resnet_jax.runtime import cli, environment, study_cli

FLAGS = flags.FLAGS


def main():
  out = study_cli.out()
  environment.announce()
  stds, summary, long_rows, studied, record = {}, [], [], {}, []
  for trained in study_cli.trained_nets():
    studied[trained.name] = trained.trained_config
    rows = layer_responses(trained)
    values = [r['std'] for r in rows]
    stds[trained.name] = values
    summary.append(
        [
            trained.name,
            trained.step,
            len(values),
            float(np.mean(values)),
            float(np.median(values)),
            float(np.max(values)),
        ]
    )
    long_rows += [[trained.name, r['layer'], r['name'], r['std']] for r in rows]
    record.append({**reporting.studied_net(trained), 'mean_std': float(np.mean(values))})
  reporting.write_table(
      out, 'layer_responses_all', 'Layer responses, every 3x3 layer', ['network', 'layer', 'name', 'std'], long_rows
  )
  print(
      reporting.write_table(
          out,
          'layer_responses',
          'Std of the 3x3 layer responses on the held-out images (He et al. 2015, Fig. 7)',
          ['network', 'step', '3x3 layers', 'mean std', 'median std', 'max std'],
          summary,
          [
              "A response is a layer's BN output before ReLU or the addition; a layer's std is its channels' std over "
              'all held-out images (CIFAR-10: test, ImageNet: val) and positions, averaged over the channels. '
              'Every layer: layer_responses_all.csv.',
              reporting.data_note(studied, FLAGS.set),
              CLAIMS['responses'],
          ],
      )
  )
  reporting.write_record(out, 'layer_responses', {'nets': record, 'set': FLAGS.set})
  print(plots.responses(os.path.join(out, 'fig7_layer_responses.png'), stds))


PROGRAM = cli.Program(main, study_cli.DIALECT, study_cli.USES)

if __name__ == '__main__':
  PROGRAM.run()
