"""keras-vis' API on actmax, so code written for keras-vis runs with only its imports changed.

    from actmax.compat.vis.visualization import visualize_activation, visualize_cam, overlay
    from actmax.compat.vis.utils import utils
    from keras import activations            # a Keras 3 model (KERAS_BACKEND=torch)
    from actmax.compat.keras import activations  # a PyTorch model

The functions keep keras-vis' names, signatures, defaults and return conventions (those of the
keras-vis fork that returns jet-coloured saliency and Grad-CAM maps) and take Keras 3 models and
PyTorch models alike. Activation maximization runs the engine's `keras-vis` recipe, keras-vis'
algorithm step for step. Where it deliberately differs from keras-vis:

- the returned image is the iterate with the lowest loss, measured on that iterate (keras-vis
  scores the image before its last step but returns the one after it);
- every call is seeded (`seed=0` unless given), so the same call gives the same image;
- no save and reload: `apply_modifications` returns the model itself, because an activation
  swap (`layer.activation = activations.linear`) takes effect at once;
- a tuple or array of `filter_indices` is summed like a list (keras-vis wraps it in a list);
- an unsupported keras-vis option (`wrt_tensor`, `callbacks`...) raises an error instead of
  being half-applied. Batching many images into one optimization is `actmax.visualize`.
"""
