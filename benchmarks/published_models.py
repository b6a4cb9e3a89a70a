"""Networks that published accelerators were measured on but timm does not ship (for validate.py).

AlexNet's five conv layers as Eyeriss ran them (Krizhevsky et al. 2012; Chen et al. JSSC 2017);
ResNet20v2 for CIFAR-10 as Tensil ran it (He et al., "Identity mappings in deep residual networks", 2016).
"""
from torch import nn


class AlexNetConvs(nn.Module):
    """CONV1-5 of AlexNet with its two-group convolutions, ReLU and max pooling (LRN omitted)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.pool1 = nn.MaxPool2d(3, 2)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.pool1(self.act(self.conv1(x)))
        x = self.pool2(self.act(self.conv2(x)))
        x = self.act(self.conv3(x))
        x = self.act(self.conv4(x))
        return self.act(self.conv5(x))


def alexnet_convs():
    return AlexNetConvs()


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3, BN-ReLU-conv3x3 with an identity shortcut, or a 1x1 projection where the
    shape changes (He et al. 2016, fig. 4(e))."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.act = nn.ReLU()
        self.shortcut = (nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)
                         if stride != 1 or in_ch != out_ch else None)

    def forward(self, x):
        out = self.act(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv2(self.act(self.bn2(self.conv1(out))))
        return out + skip


class ResNetV2Cifar(nn.Module):
    """Pre-activation ResNet for 32x32 CIFAR images: a 3x3 conv, three stages of `blocks` blocks
    with 16, 32 and 64 channels (stride 2 into stages 2 and 3), BN-ReLU, global pooling, a linear
    classifier. Depth 6 x blocks + 2 (He et al. 2016, section 4; 20 layers for blocks = 3)."""

    def __init__(self, blocks: int = 3, num_classes: int = 10, widths=(16, 32, 64)):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        layers, in_ch = [], widths[0]
        for stage, width in enumerate(widths):
            for i in range(blocks):
                layers.append(PreActBlock(in_ch, width, 2 if stage > 0 and i == 0 else 1))
                in_ch = width
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(in_ch)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x):
        x = self.act(self.bn(self.blocks(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


def resnet20v2():
    """ResNet20v2 for CIFAR-10 (3 blocks per stage, 10 classes); run it with --input-size 3,32,32."""
    return ResNetV2Cifar(blocks=3, num_classes=10)
