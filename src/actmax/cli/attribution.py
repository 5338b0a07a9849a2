"""`actmax saliency` and `actmax cam`: explain one prediction of a model as a figure."""

from __future__ import annotations

import re
from pathlib import Path

import click
import numpy as np

from .. import attribution
from ..errors import ActmaxError
from ..io import save_figure
from .common import MODEL_HELP, check_figure, layer_spec, model_options, open_model, read_image


def load_image(
    spec: str, input_shape: tuple[int, ...], dataset: str = "mnist"
) -> tuple[np.ndarray, str, str | None]:
    """A test image of `dataset` (an index) or an image file, as the model's input (C, H, W) in
    [0, 1].

    spec: the --image value. input_shape: the model's input (C, H, W). dataset: the lab data
    set whose test images an index picks ("mnist", "fashion-mnist").
    Returns the image, a description (which says when a file was resized) and the true label's
    name (None for a file).
    """
    if re.fullmatch(r"[+-]?\d+", spec.strip()):
        from ..lab.data import load_dataset

        index = int(spec)
        data = load_dataset(dataset)
        title, count = data.info.title, len(data.x_test)
        if not 0 <= index < count:
            raise ActmaxError(f"--image {index}: the {title} test set has images 0..{count - 1}")
        image = data.x_test[index]
        if image.shape != tuple(input_shape):
            raise ActmaxError(
                f"this model takes {tuple(input_shape)} images, not {title} images "
                f"{image.shape}; give an image file"
            )
        label = data.class_names[int(data.y_test[index])]
        return image, f"{title} test {data.info.item} #{index}", label
    image, description = read_image(Path(spec), input_shape)
    return image, description, None


def _explain(
    model, input_shape, mean, std, device, image, target, method, out, overwrite, alpha, cmap,
    **options,
) -> None:  # fmt: skip
    check_figure(out, overwrite)
    loaded = open_model(model, input_shape, mean, std, device)
    adapter = loaded.adapter
    if adapter.input_shape is None:
        raise ActmaxError(
            f"the model in {model} does not say what input it takes: give --input-shape C,H,W"
        )
    dataset = _dataset(model)
    pixels, description, label = load_image(image, tuple(adapter.input_shape), dataset)
    result = attribution.explain(adapter, pixels, target, method, device=loaded.device, **options)
    explained = result.targets[0]
    predicted = int(result.predictions[0]) if result.predictions is not None else None
    facts = [description]
    if label is not None:
        facts.append(f"label {label}")
    if predicted is not None:
        facts.append(f"predicted {_class_name(dataset, predicted) if label else predicted}")
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


def _dataset(model: Path) -> str:
    """The data set whose test images `--image N` picks: the run folder's, else MNIST."""
    from ..lab.runs import RunFolder

    return RunFolder(model).dataset() if model.is_dir() else "mnist"


def _class_name(dataset: str, index: int) -> str:
    from ..lab.data import DATASETS

    names = DATASETS[dataset].class_names
    return names[index] if 0 <= index < len(names) else str(index)


def _common(command):
    """Options shared by both commands (added bottom-up, so they read in this order)."""
    decorators = [
        model_options,
        click.option(
            "--image",
            required=True,
            help="A PNG or JPEG of any size (resized to the model's input), or an index into the "
            "test set the run folder's model was trained on (MNIST for a model file).",
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


@click.command("saliency", epilog=MODEL_HELP)
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
def saliency(
    model, input_shape, mean, std, device, image, target, out, overwrite, alpha, cmap, method,
    noise, samples, seed,
):  # fmt: skip
    """Saliency map of one prediction of MODEL."""
    options = {"noise": noise, "samples": samples, "seed": seed} if method == "smoothgrad" else {}
    _explain(
        model, input_shape, mean, std, device, image, target, method, out, overwrite, alpha, cmap,
        **options,
    )  # fmt: skip


@click.command("cam", epilog=MODEL_HELP)
@_common
@click.option("--layer", default=None, help="Layer name or index [default: the last spatial one].")
@click.option("--plus-plus", is_flag=True, help="Grad-CAM++ instead of Grad-CAM.")
def cam(
    model, input_shape, mean, std, device, image, target, out, overwrite, alpha, cmap, layer,
    plus_plus,
):  # fmt: skip
    """Grad-CAM heat map of one prediction of MODEL."""
    layer = layer_spec(layer) if layer is not None else None
    method = "gradcam++" if plus_plus else "gradcam"
    _explain(
        model, input_shape, mean, std, device, image, target, method, out, overwrite, alpha, cmap,
        layer=layer,
    )  # fmt: skip
