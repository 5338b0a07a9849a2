"""Heat maps on images: keras-vis' `overlay` blend and a colour-mapped version of it.

`overlay(array1, array2, alpha)` is keras-vis' function, unchanged: the lab's
`overlay(visualize_cam(...), image)` works on arrays of equal shape. `overlay_heatmap` does the
colouring and layout work first, so a (H, W) map can go on a grayscale or colour image in any
common layout, one image or a batch.
"""

from __future__ import annotations

import numpy as np

from ..errors import ActmaxError


def overlay(array1: np.ndarray, array2: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """keras-vis' blend: `(array1 * alpha + array2 * (1 - alpha)).astype(array1.dtype)`.

    Args:
        array1: the first array (its dtype is the result's).
        array2: the second, of the same shape.
        alpha: the weight of `array1`, in [0, 1].

    Raises:
        ValueError: alpha is outside [0, 1] or the shapes differ, as keras-vis raises.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("`alpha` needs to be between [0, 1]")
    if np.shape(array1) != np.shape(array2):
        raise ValueError("`array1` and `array2` must have the same shapes")
    array1 = np.asarray(array1)
    return (array1 * alpha + np.asarray(array2) * (1.0 - alpha)).astype(array1.dtype)


def colorize(heatmap: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """RGB float32 (..., 3) in [0, 1] from values in [0, 1] (clipped) through a matplotlib map.

    Args:
        heatmap: values in [0, 1], any shape.
        cmap: the name of a matplotlib colour map.
    """
    import matplotlib

    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ActmaxError(f"unknown colour map {cmap!r} (see matplotlib.colormaps)") from None
    values = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float64)), 0.0, 1.0)
    return colormap(values)[..., :3].astype(np.float32)


def to_rgb(image: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """One image as RGB (H, W, 3) float32 in [0, 1]: grayscale (H, W), (1, H, W), (H, W, 1), or
    colour (3, H, W), (H, W, 3); uint8 images are divided by 255, float images clipped to [0, 1].
    """
    image = np.asarray(image)
    h, w = size
    if image.shape == (h, w):
        rgb = image[..., None]
    elif image.ndim == 3 and image.shape[1:] == (h, w) and image.shape[0] in (1, 3):
        rgb = np.moveaxis(image, 0, -1)
    elif image.ndim == 3 and image.shape[:2] == (h, w) and image.shape[2] in (1, 3):
        rgb = image
    else:
        raise ActmaxError(
            f"an image of shape {image.shape} does not fit a {h}x{w} heat map; expected "
            f"({h}, {w}), (1 or 3, {h}, {w}) or ({h}, {w}, 1 or 3)"
        )
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    rgb = np.clip(rgb.astype(np.float32) / scale, 0.0, 1.0)
    return np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb


def overlay_heatmap(
    image: np.ndarray, heatmap: np.ndarray, *, cmap: str = "jet", alpha: float = 0.5
) -> np.ndarray:
    """A colour-mapped heat map blended onto an image: `alpha` of heat map, `1 - alpha` of image.

    Args:
        image: grayscale (H, W), (1, H, W), (H, W, 1), or colour (3, H, W), (H, W, 3), with a
            leading N for a batch; uint8 or float in [0, 1].
        heatmap: (H, W), or (N, H, W) with a batch of N images; values in [0, 1] (as the
            attribution functions return them).
        cmap: the name of a matplotlib colour map.
        alpha: the heat map's share, in [0, 1].

    Returns:
        RGB (H, W, 3) or (N, H, W, 3): uint8 for a uint8 image, else float32 in [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ActmaxError(f"alpha must be between 0 and 1, got {alpha!r}")
    heatmap = np.asarray(heatmap)
    image = np.asarray(image)
    if heatmap.ndim == 2:
        rgb = to_rgb(image, heatmap.shape)
    elif heatmap.ndim == 3:
        if image.ndim < 3 or len(image) != len(heatmap):
            raise ActmaxError(
                f"{len(heatmap)} heat maps need a batch of {len(heatmap)} images; "
                f"got an array of shape {image.shape}"
            )
        rgb = np.stack([to_rgb(one, heatmap.shape[1:]) for one in image])
    else:
        raise ActmaxError(f"a heat map is (H, W) or (N, H, W), got shape {heatmap.shape}")
    blended = overlay(colorize(heatmap, cmap), rgb, alpha)
    if image.dtype == np.uint8:
        return np.round(blended * 255.0).astype(np.uint8)
    return blended
