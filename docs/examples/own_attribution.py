"""Explaining predictions: saliency and Grad-CAM, batched, and heat maps over the images."""

import torch
from torch import nn

from actmax import grad_cam, overlay_heatmap, saliency

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(8, 8, 3, padding=1),
    nn.ReLU(),
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(8, 5),
)
images = torch.rand(6, 3, 24, 32)  # a batch of RGB images in [0, 1]

sal = saliency(model, images, target=2, method="guided")  # or vanilla, smoothgrad, ...
cam = grad_cam(model, images)  # each image's predicted class
one = saliency(model, images[0])  # one image (C, H, W) works too
print(sal.maps.shape, cam.maps.shape, one.maps.shape)  # (6, 24, 32) (6, 24, 32) (1, 24, 32)
print(cam.layer, cam.targets[:2])  # the layer Grad-CAM picked, what each map explains

rgb = overlay_heatmap(images.numpy(), cam.maps, alpha=0.4)  # (6, 24, 32, 3) in [0, 1]
print(rgb.shape)
