"""`glimpse settings show`, `glimpse token create`, `glimpse policy sample`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from glimpse.cli.options import _settings, config_option


@click.group("settings")
def settings_group() -> None:
    """Inspect the effective settings."""


@settings_group.command("show")
@config_option
def settings_show(config_file: Path | None) -> None:
    """Print the effective settings (secrets masked) as JSON."""
    json.dump(_settings(config_file).masked(), sys.stdout, indent=2, sort_keys=True)
    click.echo()


@click.group()
def token() -> None:
    """Static tokens for the embedded `tokens` auth mode."""


@token.command("create")
@click.option("--user", required=True)
@click.option("--project", required=True)
@click.option("--role", "roles", multiple=True, default=["member", "reader"], show_default=True)
@config_option
def token_create(user: str, project: str, roles: tuple[str, ...], config_file: Path | None) -> None:
    """Add a token to the token file and print it (only its digest is stored)."""
    from glimpse.auth.tokens import add_token

    settings = _settings(config_file)
    assert settings.token_file is not None
    click.echo(add_token(settings.token_file, user, project, list(roles)))


@click.group("policy")
def policy_group() -> None:
    """Authorization policy (oslo.policy, Glance's rule names)."""


@policy_group.command("sample")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE instead of standard output.",
)
@config_option
def policy_sample(output: Path | None, config_file: Path | None) -> None:
    """Print every policy rule with its default, commented, as YAML: a starting point for policy.yaml."""
    from glimpse.policy.sample import sample_yaml

    text = sample_yaml(_settings(config_file).enable_manager_role)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
