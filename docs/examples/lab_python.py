"""The lab in Python: train the lab CNN (briefly), save a run folder, open it by its path."""

import actmax
from actmax import logit
from actmax.lab.checkpoint import save_model
from actmax.lab.data import load_mnist
from actmax.lab.models import build_model
from actmax.lab.training import fit

mnist = load_mnist()  # shipped with actmax: (N, 1, 28, 28) in [0, 1]
model = build_model("lab_cnn", seed=0)  # the lab's network, Keras' initialization
fit(model, mnist.x_train[:2000], mnist.y_train[:2000], epochs=1, seed=0, progress=False)
save_model(model, "runs/mine", "lab_cnn")  # model.safetensors + model.json: no pickle

# A run folder is a model like any other: every function and command takes its path.
adapter = actmax.as_adapter("runs/mine")
print(adapter.layer_names())  # ['l0', 'l1', 'l1_mp', ..., 'l4', 'l5']
result = actmax.visualize(adapter, [logit(c) for c in range(10)], iterations=40, seed=0)
print(result.titles[:3])  # ['l5:pre[0]', 'l5:pre[1]', 'l5:pre[2]']: before l5's softmax
cam = actmax.grad_cam(adapter, mnist.x_test[:4])
print(cam.layer, cam.targets)  # the last spatial layer before l5, each digit's predicted class
