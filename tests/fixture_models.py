"""Small torch modules used by the tests as `fixture_models:factory` object paths."""
import torch
from torch import nn


class TinyCNN(nn.Module):
    """conv 3->8 3x3 s1 p1, BN, ReLU, depthwise 3x3 s2, pointwise 8->16, avg pool, linear 16->10."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU(inplace=True)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        x = self.pw(self.dw(x))
        return self.fc(self.pool(x).flatten(1))


class UsesCumsum(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Branchy()

    def forward(self, x):
        return self.inner(x)


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow cannot be exported
            return x + 1
        return x - 1


def tiny_cnn():
    return TinyCNN()


def uses_cumsum():
    return UsesCumsum()


def data_dependent():
    return DataDependent()


not_a_module = 42


def tiny_vit():
    """A timm VisionTransformer as deit_tiny is built (class token, pre-norm blocks, GELU MLP), made
    small: 32x32 input, 8x8 patches (16 tokens + the class token), width 64, 2 heads, 2 blocks."""
    from codesign.frontend.torchvision_compat import import_timm

    timm = import_timm()
    return timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2, mlp_ratio=2.0,
                             num_classes=10)


class SmallResNet(nn.Module):
    """The CNN operators of ResNet and MobileNetV3 in a few layers: conv-BN-ReLU, max pooling with
    padding, a residual block with a strided 1x1 downsample, a depthwise conv, hardswish, SiLU, a
    squeeze-excite gate (spatial mean, hardsigmoid, per-channel mul), a sigmoid, global average
    pooling, a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv1 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.act1 = nn.Hardswish()
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)      # depthwise
        self.bn2 = nn.BatchNorm2d(32)
        self.down = nn.Conv2d(16, 32, 1, stride=2, bias=False)
        self.act2 = nn.SiLU()
        self.se_reduce = nn.Conv2d(32, 8, 1)                                    # squeeze-excite, as MobileNetV3
        self.se_act = nn.ReLU()
        self.se_expand = nn.Conv2d(8, 32, 1)
        self.se_gate = nn.Hardsigmoid()
        self.gate = nn.Sigmoid()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.maxpool(self.stem(x))
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        z = self.act2(y + self.down(x))
        z = z * self.se_gate(self.se_expand(self.se_act(self.se_reduce(z.mean((2, 3), keepdim=True)))))
        z = self.gate(z) + z
        return self.fc(self.pool(z).flatten(1))


def small_resnet():
    return SmallResNet()
