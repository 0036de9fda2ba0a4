"""torchvision weights in our nets (tools/convert.py): logits equal a torch ResNet of torchvision's layout
(tools/torch_reference.py); configs and files that do not fit are named."""

import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax.checkpoint import Checkpoints
from resnet_jax.errors import ConfigError
from resnet_jax.models import architecture, create_model, model_name
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.tools import convert
from resnet_jax.train_step import Metrics, create_train_state
from tests.helpers import get_config

torch = pytest.importorskip('torch')
nn = torch.nn
from resnet_jax.tools.torch_reference import TorchResNet  # noqa: E402


def random_torch_net(depth):
  torch.manual_seed(depth)
  net = TorchResNet(architecture('imagenet', depth), 1000, 'B')
  with torch.no_grad():  # Non-trivial BN statistics and affine parameters, so that every one is checked.
    for module in net.modules():
      if isinstance(module, nn.BatchNorm2d):
        module.running_mean.uniform_(-0.5, 0.5)
        module.running_var.uniform_(0.5, 2.0)
        module.weight.uniform_(0.5, 1.5)
        module.bias.uniform_(-0.2, 0.2)
  return net.eval()


@pytest.mark.slow
@pytest.mark.parametrize('depth', [18, 50])
def test_converted_logits_equal_torch(depth, tmp_path):
  net = random_torch_net(depth)
  config = get_config(f'imagenet:resnet{depth},modern', dtype='float32')
  convert.convert({k: v.numpy() for k, v in net.state_dict().items()}, config, str(tmp_path))

  model, tx = create_model(config), create_optimizer(config, learning_rate_schedule(config))
  target = (create_train_state(model, tx, 224, 0), Metrics.empty())
  checkpoints = Checkpoints(str(tmp_path), model_name(config.model), read_only=True)
  (state, _), step = checkpoints.restore_newest(target)
  checkpoints.close()
  assert step == 0
  images = np.random.default_rng(0).normal(size=(2, 3, 96, 112)).astype(np.float32)
  with torch.no_grad():
    want = net(torch.from_numpy(images)).numpy()
  got = model.apply(
      {'params': state.params, 'batch_stats': state.batch_stats}, jnp.asarray(images.transpose(0, 2, 3, 1)), train=False
  )
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_config_that_differs_from_torchvision_is_refused(tmp_path):
  config = get_config('imagenet:resnet50')  # The paper's recipe: v1 bottleneck, per-pixel mean.
  with pytest.raises(
      ConfigError,
      match='^torchvision weights need model.bottleneck_stride=3x3 '
      r'dataset.normalization=per_channel \(or the config configs/imagenet.py:resnet50,modern\).$',
  ):
    convert.check_config(config)


def test_file_of_another_depth_or_head_is_refused_naming_the_right_config(tmp_path):
  state_dict = {k: v.numpy() for k, v in random_torch_net(18).state_dict().items()}
  with pytest.raises(
      ConfigError,
      match=r"is a ResNet-18, not the config's ResNet-34: use config=configs/imagenet.py:resnet18,modern",
  ):
    convert.convert(state_dict, get_config('imagenet:resnet34,modern'), str(tmp_path))
  state_dict['fc.weight'], state_dict['fc.bias'] = state_dict['fc.weight'][:10], state_dict['fc.bias'][:10]
  with pytest.raises(ConfigError, match="head has 10 classes, not the config's 1000: set dataset.num_classes=10"):
    convert.convert(state_dict, get_config('imagenet:resnet18,modern'), str(tmp_path))
  del state_dict['layer1.1.conv2.weight']  # A block without its second layer: the key is named.
  ten_classes = get_config('imagenet:resnet18,modern')
  ten_classes.dataset.num_classes = 10
  with pytest.raises(ConfigError, match='lacks layer1.1.conv2.weight'):
    convert.convert(state_dict, ten_classes, str(tmp_path))
  gray = {k: v.numpy() for k, v in random_torch_net(18).state_dict().items()}
  gray['conv1.weight'] = gray['conv1.weight'][:, :1]  # A net of 1-channel input, at the config's depth.
  with pytest.raises(
      ConfigError, match=r'conv1.weight has shape \(64, 1, 7, 7\).*no torchvision ResNet as torchvision'
  ):
    convert.convert(gray, get_config('imagenet:resnet18,modern'), str(tmp_path))
