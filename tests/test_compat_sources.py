"""keras-vis' functions take what the rest of actmax takes: a path, or an adapter that
preprocesses."""

import numpy as np
from torch import nn

from actmax.adapters import Normalize, as_adapter
from actmax.compat.vis.visualization import visualize_activation, visualize_cam, visualize_saliency
from actmax.lab.checkpoint import save_model


class Normalized(nn.Module):
    def forward(self, x):
        return (x - 0.1307) / 0.3081


def test_a_run_folder_path_and_a_preprocessing_adapter(lab_model, tmp_path):
    folder = save_model(lab_model, tmp_path / "run", "lab_cnn")
    image = np.random.default_rng(0).random((28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        visualize_saliency(str(folder), -1, 3, image), visualize_saliency(lab_model, -1, 3, image)
    )
    normalized = as_adapter(lab_model, preprocess=Normalize(0.1307, 0.3081))
    heat = visualize_saliency(normalized, -1, 3, image, grad_modifier=None)
    plain = visualize_saliency(lab_model, -1, 3, image, grad_modifier=None)
    assert heat.shape == (28, 28, 3) and not np.array_equal(heat, plain)
    # the same map as for a model that normalizes in its first layer
    inside = nn.Sequential(Normalized(), lab_model)
    inside.input_shape = (1, 28, 28)
    np.testing.assert_allclose(heat, visualize_saliency(inside, -1, 3, image, grad_modifier=None))
    assert visualize_cam(normalized, -1, 3, image).shape == (28, 28, 3)
    assert visualize_activation(normalized, -1, 3, max_iter=2).shape == (28, 28, 1)
