"""The `actmax` command. Each subcommand lives in its own module of this package."""

from __future__ import annotations

import sys

import click

from ..errors import ActmaxError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="actmax")
def cli() -> None:
    """Activation maximization, saliency and Grad-CAM: what a network has learned, in pictures."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every user mistake becomes one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="actmax", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("actmax: interrupted", err=True)
        return 130
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "actmax"
        click.echo(f"{where}: error: {exc.format_message()}", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"actmax: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except ActmaxError as exc:
        click.echo(f"actmax: error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("actmax: interrupted", err=True)
        return 130
    return 0


from .atlas import atlas  # noqa: E402
from .attribution import cam, saliency  # noqa: E402
from .lab import lab  # noqa: E402
from .train import train  # noqa: E402
from .visualize import visualize  # noqa: E402

cli.add_command(lab)
cli.add_command(train)
cli.add_command(saliency)
cli.add_command(cam)
cli.add_command(visualize)
cli.add_command(atlas)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
