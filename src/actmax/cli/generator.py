"""`--prior`: the generator `actmax visualize` searches through, by data set or by file."""

from __future__ import annotations

from pathlib import Path

import click
from torch import nn

from ..adapters import load
from ..errors import ActmaxError

DATASET_PRIORS = ("mnist", "fashion-mnist")


def open_generator(spec: str, progress: bool) -> tuple[nn.Module, tuple[int, ...], str]:
    """The generator, one code's shape, and how to name it in the output.

    spec: a data set name (its VAE, the one `actmax lab` trains: trained and cached under
        runs/cache the first time, reused after) or the path of a generator (a `.pt2` exported
        with a fixed code shape, or a folder such as the lab's cached VAE).
    progress: show the VAE's training progress when it has to be trained.
    """
    if spec in DATASET_PRIORS:
        from ..lab.data import load_dataset
        from ..lab.pipeline import DEFAULT_CACHE
        from ..lab.vae import VAEConfig, load_or_train_vae

        data = load_dataset(spec)
        trained = load_or_train_vae(
            data.x_train, data.x_test, DEFAULT_CACHE, VAEConfig(dataset=spec), progress
        )
        if not trained.reused:
            click.echo(f"trained the {spec} VAE in {trained.train_seconds:.0f} s (cached)")
        return trained.model, (int(trained.model.latent),), f"the {spec} VAE"
    path = Path(spec)
    if not path.exists():
        raise click.BadParameter(
            f"{spec!r} is neither a data set ({', '.join(DATASET_PRIORS)}) nor a generator file",
            param_hint="--prior",
        )
    module = load(path).model
    latent = getattr(module, "latent", None)
    shape = (int(latent),) if isinstance(latent, int) else getattr(module, "input_shape", None)
    if not shape:
        raise ActmaxError(
            f"{path} does not say the shape of its codes: export it with a fixed code shape"
        )
    return module, tuple(int(s) for s in shape), str(path)
