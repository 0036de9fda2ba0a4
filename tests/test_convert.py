"""torchvision weights in our nets: logits equal a torch ResNet of torchvision's layout, written here by hand."""
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax import convert
from resnet_jax.checkpoint import Checkpoints
from resnet_jax.errors import ConfigError
from resnet_jax.models import create_model
from resnet_jax.train import Metrics, create_train_state
from resnet_jax.optim import create_optimizer
from tests.helpers import get_config

torch = pytest.importorskip('torch')
nn = torch.nn


class BasicBlock(nn.Module):
  expansion = 1

  def __init__(self, cin, width, stride):
    super().__init__()
    self.conv1, self.bn1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
    self.conv2, self.bn2 = nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
    self.downsample = _downsample(cin, width, stride)

  def forward(self, x):
    out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
    return torch.relu(out + (self.downsample(x) if self.downsample else x))


class Bottleneck(nn.Module):
  expansion = 4

  def __init__(self, cin, width, stride):
    super().__init__()
    self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
    self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)  # v1.5
    self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
    self.downsample = _downsample(cin, width * 4, stride)

  def forward(self, x):
    out = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
    return torch.relu(self.bn3(self.conv3(out)) + (self.downsample(x) if self.downsample else x))


def _downsample(cin, cout, stride):
  if stride == 1 and cin == cout:
    return None
  return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class TorchResNet(nn.Module):
  def __init__(self, block, layers, num_classes=1000):
    super().__init__()
    self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
    self.maxpool = nn.MaxPool2d(3, 2, 1)
    cin = 64
    for i, (count, width) in enumerate(zip(layers, (64, 128, 256, 512))):
      blocks = []
      for j in range(count):
        blocks.append(block(cin, width, 2 if j == 0 and i > 0 else 1))
        cin = width * block.expansion
      setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
    self.fc = nn.Linear(cin, num_classes)

  def forward(self, x):
    x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
    for i in range(4):
      x = getattr(self, f'layer{i + 1}')(x)
    return self.fc(x.mean((2, 3)))


def random_torch_net(depth):
  block, layers = {18: (BasicBlock, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3))}[depth]
  torch.manual_seed(depth)
  net = TorchResNet(block, layers)
  with torch.no_grad():  # Non-trivial BN statistics and affine parameters, so that every one is checked.
    for module in net.modules():
      if isinstance(module, nn.BatchNorm2d):
        module.running_mean.uniform_(-0.5, 0.5)
        module.running_var.uniform_(0.5, 2.0)
        module.weight.uniform_(0.5, 1.5)
        module.bias.uniform_(-0.2, 0.2)
  return net.eval()


@pytest.mark.parametrize('depth', [18, 50])
def test_converted_logits_equal_torch(depth, tmp_path):
  net = random_torch_net(depth)
  config = get_config(f'imagenet:resnet{depth},modern', dtype='float32', block_loop='unroll')
  convert.convert({k: v.numpy() for k, v in net.state_dict().items()}, config, str(tmp_path))

  model, tx = create_model(config), create_optimizer(config)
  target = (create_train_state(model, tx, 224, 0), Metrics.empty())
  checkpoints = Checkpoints(str(tmp_path), config, keep=1)
  (state, _), step = checkpoints.restore_newest(target)
  checkpoints.close()
  assert step == 0
  images = np.random.default_rng(0).normal(size=(2, 3, 96, 112)).astype(np.float32)
  with torch.no_grad():
    want = net(torch.from_numpy(images)).numpy()
  got = model.apply({'params': state.params, 'batch_stats': state.batch_stats},
                    jnp.asarray(images.transpose(0, 2, 3, 1)), train=False)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_config_that_differs_from_torchvision_is_refused(tmp_path):
  config = get_config('imagenet:resnet50')  # The paper's recipe: v1 bottleneck, per-pixel mean.
  with pytest.raises(ConfigError, match='bottleneck_stride=3x3 --config.dataset.normalization=per_channel'):
    convert.convert({}, config, str(tmp_path))


def test_file_of_another_depth_is_refused(tmp_path):
  state_dict = {k: v.numpy() for k, v in random_torch_net(18).state_dict().items()}
  with pytest.raises(ConfigError, match='lacks layer1.2'):
    convert.convert(state_dict, get_config('imagenet:resnet34,modern'), str(tmp_path))
