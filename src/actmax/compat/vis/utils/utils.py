"""keras-vis' `vis.utils.utils`: layer lookup, model modification without save and reload, and
keras-vis' array helpers.

A layer index means what it means to keras-vis: the position in `model.layers` for a Keras
model, and for a PyTorch model the Keras-style index actmax uses (the input is layer 0, then the
top-level modules in order: the lab's `l5` is 9 in both). The image layout keras-vis' helpers
assume (`get_img_shape`, `slicer`) is Keras' global `image_data_format()`; without Keras, it
is PyTorch's channels-first.

actmax's additions give the model tensors a custom `Loss` reads, for any model:
`model_input(model)`, `layer_output(model, layer)`, `model_output(model)`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ....adapters import ModelAdapter, as_adapter
from ....adapters.keras import is_keras_model
from ....errors import LayerNotFoundError


class LayerNotFound(LayerNotFoundError, ValueError):
    """keras-vis raises ValueError for a missing layer; this is also an actmax error."""


def layer_names(model: Any) -> list[str]:
    """The names keras-vis' layer indices count: `model.layers` for Keras, else actmax's."""
    if is_keras_model(model):
        return [layer.name for layer in model.layers]
    return as_adapter(model).layer_names()


def find_layer_idx(model: Any, layer_name: str) -> int:
    """The index of the layer called `layer_name` (keras-vis: a scan of `model.layers`).

    Args:
        model: a Keras 3 model, a PyTorch model or an adapter.
        layer_name: the layer's name.

    Raises:
        LayerNotFound: no layer has that name (a `ValueError`, as in keras-vis).
    """
    names = layer_names(model)
    if layer_name not in names:
        raise LayerNotFound(
            f"No layer with name {layer_name!r} within the model; the layers are: "
            f"{', '.join(names)}"
        )
    return names.index(layer_name)


def layer_name(model: Any, layer_idx: int | str) -> str:
    """The name of layer `layer_idx` (an index as keras-vis counts, or already a name)."""
    names = layer_names(model)
    if isinstance(layer_idx, str):
        if layer_idx not in names:
            find_layer_idx(model, layer_idx)  # raises with the list of names
        return layer_idx
    if isinstance(layer_idx, bool) or not isinstance(layer_idx, int | np.integer):
        raise LayerNotFound(f"a layer is given by its index, not {layer_idx!r}")
    if not -len(names) <= layer_idx < len(names):
        raise LayerNotFound(
            f"layer index {layer_idx} is out of range: this model has layers 0..{len(names) - 1} "
            f"({', '.join(f'{i}={name}' for i, name in enumerate(names))})"
        )
    return names[int(layer_idx)]


def apply_modifications(model: Any, custom_objects: dict | None = None) -> Any:
    """Returns `model` itself: a swapped activation already takes effect on the next call.

    keras-vis saved the model to a temporary .h5 file and loaded it back, to rebuild the graph
    of a TensorFlow 1 model. Keras 3 and PyTorch run eagerly and read `layer.activation` on
    every call, so there is nothing to rebuild; `custom_objects` is accepted and not needed.

    Args:
        model: the model whose activation was swapped.
        custom_objects: keras-vis' argument for the reload; not used.
    """
    if not isinstance(model, ModelAdapter):
        as_adapter(model)  # the same clear error as everywhere for something that is no model
    return model


def normalize(array: np.ndarray, min_value: float = 0.0, max_value: float = 1.0) -> np.ndarray:
    """keras-vis' min-max scaling to [min_value, max_value] (epsilon 1e-7 as Keras').

    Args:
        array: the values.
        min_value: the lowest value of the result.
        max_value: the highest value of the result.
    """
    array = np.asarray(array)
    scaled = (array - array.min()) / (array.max() - array.min() + EPSILON)
    return (max_value - min_value) * scaled + min_value


EPSILON = 1e-7  # Keras' epsilon()


def image_data_format() -> str:
    """Keras' `image_data_format()`, or "channels_first" (PyTorch's) where Keras is missing."""
    from ....adapters.keras import import_keras
    from ....errors import ActmaxError

    try:
        return import_keras().backend.image_data_format()
    except ActmaxError:
        return "channels_first"


def listify(value: Any) -> list:
    """`value` as a list: a list stays, anything else (a tuple too) becomes `[value]`.

    Args:
        value: anything.
    """
    return value if isinstance(value, list) else [value]


def reverse_enumerate(iterable: Sequence) -> Iterator[tuple[int, Any]]:
    """(index, item) pairs from the last item to the first, without copying.

    Args:
        iterable: a sequence.
    """
    return zip(reversed(range(len(iterable))), reversed(iterable), strict=True)


def add_defaults_to_kwargs(defaults: dict, **kwargs: Any) -> dict:
    """`defaults` updated with `kwargs`.

    Args:
        defaults: the default values, by name.
        **kwargs: the values given, which win.
    """
    merged = dict(defaults)
    merged.update(kwargs)
    return merged


def get_identifier(identifier: Any, module_globals: dict, module_name: str) -> Callable:
    """The function a string names in a module, or a callable as it is.

    Args:
        identifier: a name in the module, or a callable.
        module_globals: the module's `globals()`, where the name is looked up.
        module_name: what the module holds, for the error ("modifier").
    """
    if isinstance(identifier, str):
        fn = module_globals.get(identifier)
        if fn is None:
            raise ValueError(f"Unknown {module_name}: {identifier}")
        return fn
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret identifier")


def random_array(shape: Sequence[int], mean: float = 128.0, std: float = 20.0) -> np.ndarray:
    """Uniform noise standardized to `mean` and `std` (np.random, as keras-vis).

    Args:
        shape: the array's shape.
        mean: the noise's mean.
        std: the noise's standard deviation.
    """
    x = np.random.random(shape)
    x = (x - np.mean(x)) / (np.std(x) + EPSILON)
    return x * std + mean


def deprocess_input(input_array: np.ndarray, input_range=(0, 255)) -> np.ndarray:
    """keras-vis' contrast stretch: standardize, x0.1, +0.5, clip to [0, 1], then rescale to
    `input_range`.

    Args:
        input_array: the image (or images).
        input_range: (low, high), the range of the result.
    """
    x = np.array(
        input_array, dtype=np.float64 if np.asarray(input_array).dtype == np.float64 else np.float32
    )
    x -= x.mean()
    x /= x.std() + EPSILON
    x *= 0.1
    x = np.clip(x + 0.5, 0, 1)
    return (input_range[1] - input_range[0]) * x + input_range[0]


def stitch_images(images: Sequence[np.ndarray], margin: int = 5, cols: int = 5):
    """Images (H, W, C) side by side, `cols` to a row, with black margins.

    Args:
        images: images of one shape (H, W, C).
        margin: the pixels between images.
        cols: images per row.
    """
    if len(images) == 0:
        return None
    h, w, c = images[0].shape
    n_rows = int(math.ceil(len(images) / cols))
    n_cols = min(len(images), cols)
    out = np.zeros(
        (n_rows * h + (n_rows - 1) * margin, n_cols * w + (n_cols - 1) * margin, c),
        dtype=images[0].dtype,
    )
    for index, image in enumerate(images):
        row, col = divmod(index, cols)
        out[
            (h + margin) * row : (h + margin) * row + h, (w + margin) * col : (w + margin) * col + w
        ] = image
    return out


def get_img_shape(img: Any) -> tuple:
    """The shape as (samples, channels, image_dims...), whatever the layout.

    Args:
        img: an array or tensor with a shape, in `image_data_format()`'s layout.
    """
    shape = tuple(img.shape)
    if image_data_format() == "channels_last":
        shape = (shape[0], shape[-1], *shape[1:-1])
    return tuple(None if d is None else int(d) for d in shape)


def draw_text(
    img: np.ndarray,
    text: str,
    position: tuple[int, int] = (10, 10),
    font: str = "FreeSans.ttf",
    font_size: int = 14,
    color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """`img` (uint8) with `text` drawn on it.

    Args:
        img: a uint8 image (H, W, C) or (H, W).
        text: the text.
        position: (x, y) of the text's top-left corner, in pixels.
        font: a font file name, looked up among the system's fonts (Pillow's own font when
            it is missing).
        font_size: the size in pixels.
        color: an RGB colour (its mean for a grayscale image).
    """
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    files = [
        f for f in font_manager.findSystemFonts() if font.lower() in os.path.basename(f).lower()
    ]
    face = ImageFont.truetype(files[0], font_size) if files else ImageFont.load_default(font_size)
    array = np.asarray(img)
    gray = array.ndim == 3 and array.shape[-1] == 1
    picture = Image.fromarray(array[..., 0] if gray else array)
    fill = color if picture.mode == "RGB" else int(np.mean(color))
    ImageDraw.Draw(picture).text(position, text, fill=fill, font=face)
    out = np.asarray(picture)
    return out[..., None] if gray else out


def bgr2rgb(img: np.ndarray) -> np.ndarray:
    """RGB to BGR and back: the channel order reversed.

    Args:
        img: an image (..., C).
    """
    return img[..., ::-1]


class _BackendAgnosticImageSlice:
    """`slicer[:, idx, ...]`: an index written channels-first, moved for channels-last."""

    def __getitem__(self, item_slice: Iterable) -> tuple:
        if image_data_format() == "channels_first":
            return item_slice
        item_slice = list(item_slice)
        item_slice.append(item_slice.pop(1))
        return tuple(item_slice)


slicer = _BackendAgnosticImageSlice()


def model_input(model: Any) -> Any:
    """The model's input tensor, for a custom Loss (see `actmax.compat.vis.tensors`).

    Args:
        model: a Keras 3 model or a PyTorch model.
    """
    from ..tensors import model_input as _model_input

    return _model_input(model)


def layer_output(model: Any, layer: Any) -> Any:
    """A layer's output tensor, for a custom Loss.

    Args:
        model: a Keras 3 model or a PyTorch model.
        layer: an index as keras-vis counts, a name or the layer.
    """
    from ..tensors import layer_output as _layer_output

    return _layer_output(model, layer)


def model_output(model: Any) -> Any:
    """The model's output tensor, for a custom Loss.

    Args:
        model: a Keras 3 model or a PyTorch model.
    """
    from ..tensors import model_output as _model_output

    return _model_output(model)


__all__ = [
    "LayerNotFound",
    "add_defaults_to_kwargs",
    "apply_modifications",
    "bgr2rgb",
    "deprocess_input",
    "draw_text",
    "find_layer_idx",
    "get_identifier",
    "get_img_shape",
    "image_data_format",
    "layer_output",
    "listify",
    "model_input",
    "model_output",
    "normalize",
    "random_array",
    "reverse_enumerate",
    "slicer",
    "stitch_images",
]
