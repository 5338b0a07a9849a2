"""`actmax saliency` and `actmax cam`: explain one prediction of a trained model as a PNG."""

from __future__ import annotations

import re
from pathlib import Path

import click
import numpy as np

from .. import attribution
from ..errors import ActmaxError
from ..io import check_new_file, save_figure
from ..lab.checkpoint import load_model


def load_image(spec: str, input_shape: tuple[int, ...]) -> tuple[np.ndarray, str, int | None]:
    """An MNIST test digit (an index) or an image file, as the model's input (C, H, W) in [0, 1].

    Returns the image, a description and the true label (None for a file).
    """
    if re.fullmatch(r"[+-]?\d+", spec.strip()):
        from ..lab.data import load_mnist

        index = int(spec)
        mnist = load_mnist()
        count = len(mnist.x_test)
        if not 0 <= index < count:
            raise ActmaxError(f"--image {index}: the MNIST test set has digits 0..{count - 1}")
        image = mnist.x_test[index]
        if image.shape != tuple(input_shape):
            raise ActmaxError(
                f"this model takes {tuple(input_shape)} images, not MNIST digits {image.shape}"
            )
        return image, f"MNIST test digit #{index}", int(mnist.y_test[index])
    return _read_file(Path(spec), input_shape), Path(spec).name, None


def _read_file(path: Path, input_shape: tuple[int, ...]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ActmaxError(f"--image {path}: no such image file (or give an MNIST test index)")
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise ActmaxError(f"cannot turn an image file into this model's input {input_shape}")
    channels, height, width = input_shape
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(img, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise ActmaxError(f"--image {path}: not a readable image ({exc})") from None
    return array[None] if channels == 1 else np.moveaxis(array, -1, 0)


def _check_out(out: Path, overwrite: bool) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    check_new_file(out, overwrite)
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    suffix = out.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise ActmaxError(
            f"--out {out}: cannot write {out.suffix or 'a file without suffix'}; "
            f"use one of {', '.join('.' + f for f in sorted(formats))}"
        )


def _explain(run, image, target, method, out, overwrite, alpha, cmap, **options) -> None:
    _check_out(out, overwrite)
    model = load_model(run)
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ActmaxError(f"the model in {run} does not declare its input shape")
    pixels, description, label = load_image(image, tuple(shape))
    result = attribution.explain(model, pixels, target, method, **options)
    explained = result.targets[0]
    predicted = int(result.predictions[0]) if result.predictions is not None else None
    facts = [description]
    if label is not None:
        facts.append(f"label {label}")
    if predicted is not None:
        facts.append(f"predicted {predicted}")
    name = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++"}.get(method, f"{method} saliency")
    where = f" on layer {result.layer}" if result.layer else ""
    from ..plots.attribution import plot_attribution

    fig = plot_attribution(
        pixels,
        result.maps[0],
        title=f"{', '.join(facts)}\n{name}{where} for {explained}",
        cmap=cmap,
        alpha=alpha,
    )
    save_figure(fig, out)
    click.echo(f"wrote {out}: {name}{where} for {explained} ({', '.join(facts)})")


def _common(command):
    """Options shared by both commands (added bottom-up, so they read in this order)."""
    decorators = [
        click.argument("run", type=click.Path(path_type=Path)),
        click.option(
            "--image",
            required=True,
            help="An MNIST test-set index, or a PNG file (converted to the model's input).",
        ),
        click.option(
            "--target",
            type=int,
            default=None,
            help="Class whose logit is explained [default: the predicted class].",
        ),
        click.option(
            "--out",
            required=True,
            type=click.Path(path_type=Path, dir_okay=False),
            help="Figure to write (image | heat map | overlay); .png, .pdf, .svg ...",
        ),
        click.option("--overwrite", is_flag=True, help="Replace --out if it exists."),
        click.option("--alpha", type=click.FloatRange(0, 1), default=0.5, show_default=True),
        click.option("--cmap", default="jet", show_default=True, help="matplotlib colour map."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@click.command("saliency")
@_common
@click.option(
    "--method",
    type=click.Choice(attribution.SALIENCY_METHODS),
    default="vanilla",
    show_default=True,
)
@click.option(
    "--noise", type=float, default=0.15, show_default=True, help="SmoothGrad noise level."
)
@click.option("--samples", type=int, default=25, show_default=True, help="SmoothGrad samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="SmoothGrad noise seed.")
def saliency(run, image, target, out, overwrite, alpha, cmap, method, noise, samples, seed):
    """Saliency map of one prediction of the model in RUN (a run folder)."""
    options = {"noise": noise, "samples": samples, "seed": seed} if method == "smoothgrad" else {}
    _explain(run, image, target, method, out, overwrite, alpha, cmap, **options)


@click.command("cam")
@_common
@click.option("--layer", default=None, help="Layer name or index [default: the last spatial one].")
@click.option("--plus-plus", is_flag=True, help="Grad-CAM++ instead of Grad-CAM.")
def cam(run, image, target, out, overwrite, alpha, cmap, layer, plus_plus):
    """Grad-CAM heat map of one prediction of the model in RUN (a run folder)."""
    if layer is not None and re.fullmatch(r"[+-]?\d+", layer):
        layer = int(layer)
    method = "gradcam++" if plus_plus else "gradcam"
    _explain(run, image, target, method, out, overwrite, alpha, cmap, layer=layer)
