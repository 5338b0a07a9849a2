"""keras-vis' API on actmax, so code written for keras-vis runs with only its imports changed.

    from actmax.compat.vis.visualization import visualize_activation, visualize_cam, overlay
    from actmax.compat.vis.utils import utils
    from keras import activations            # a Keras 3 model (KERAS_BACKEND=torch)
    from actmax.compat.keras import activations  # a PyTorch model

The functions keep keras-vis' names, signatures, defaults and return conventions and take
Keras 3 models and PyTorch models alike. The whole public `vis` package is here: `losses`,
`regularizers`, `input_modifiers`, `grad_modifiers`, `backprop_modifiers`, `callbacks`,
`optimizer`, `backend`, `visualization` (with the `*_with_losses` functions) and `utils`.

keras-vis' parts run as actmax's (`vis.graph` has the table): `ActivationMaximization` is an
objective (`unit`, `units`, `layer_mean`), `TotalVariation` and `LPNorm` are regularizers, `Jitter`
is a transform, callbacks run from the engine's `callback(Step)` and its update rule, and a
user's `Loss` is a `custom` objective term evaluated through its `build_loss()` (`vis.losses` says
exactly what it receives and returns: Keras symbolic tensors compiled once, or for a PyTorch model
`Handle`s that act as each step's torch tensors). Activation maximization runs the engine's
`keras-vis` recipe, keras-vis' algorithm step for step.

Saliency and Grad-CAM follow the keras-vis fork the lab installs (and PyPI's 0.4.1): jet-coloured
uint8 RGB maps. keras-vis' master returns float maps and has `keepdims`;
`actmax.compat.vis.set_flavour("master")` (or `ACTMAX_KERAS_VIS=master`) gives master's forms.

Where it deliberately differs from keras-vis:

- the returned image is the iterate with the lowest loss, measured on that iterate (keras-vis
  scores the image before its last step but returns the one after it);
- every call is seeded (`seed=0` unless given), so the same call gives the same image;
- `Jitter` shifts the view the model sees each step; the stored image stays put (keras-vis
  rolled the stored image, which random-walked on a torus). A user's own `InputModifier` runs
  on the stored image, as in keras-vis;
- no save and reload: `apply_modifications` returns the model itself, because an activation
  swap (`layer.activation = activations.linear`) takes effect at once, and
  `modify_model_backprop` copies the model in memory and changes only its ReLUs (keras-vis 0.4.1
  turned every activation into a ReLU);
- `verbose=True` prints each step's losses (`callbacks.Print`) without adding to the caller's
  list of callbacks; `progress=True` shows a progress bar instead;
- `GifGenerator` writes the file once at the end, in 8 bits, and replaces an existing file only
  with `overwrite=True`; `grad_modifiers.relu` leaves its argument unchanged;
- a tuple or array of `filter_indices` is summed like a list (keras-vis wraps it in a list); a
  weight of None leaves its loss out, like 0 (keras-vis crashed);
- with a `wrt_tensor` other than the input nothing is optimized, as in keras-vis, but the one
  evaluation is made once and shown to the callbacks `max_iter` times;
- saliency's `wrt_tensor` and `keepdims` (master's) are keyword-only, since the fork's fifth
  positional argument is `backprop_modifier`; Grad-CAM takes `grad_modifier` None or "negate",
  weighs each image's own gradients and upsamples bilinearly (the fork: OpenCV's bicubic
  resize, master: SciPy's spline zoom);
- batching many images into one optimization is `actmax.visualize`.

keras-vis' own tests (its `tests/` folder) run on this API with only their imports changed
(`tests/keras_vis_upstream`). All pass with the "master" flavour. With the default "fork"
flavour the five tests of `test_saliency.py` fail, as they fail against the fork itself: they
expect master's float (H, W) map and its `keepdims`. PyPI 0.4.1's `test_guided_grad_modifier`
expects guided backpropagation to turn a linear layer into a ReLU (0.4.1 replaced every
activation); the fork, master and actmax change only ReLUs.
"""
