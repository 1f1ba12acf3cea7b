"""`glimpse policy sample` and the checked-in etc/policy.yaml.sample."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from glimpse.cli.main import main
from glimpse.policy.rules import list_rules
from glimpse.policy.sample import sample_yaml

SAMPLE = Path(__file__).resolve().parents[3] / "etc" / "policy.yaml.sample"


def uncommented(text: str) -> dict[str, str]:
    """The sample with every rule line uncommented, parsed as a policy file would be."""
    lines = [line[1:] for line in text.splitlines() if line.startswith('#"')]
    parsed: dict[str, str] = yaml.safe_load("\n".join(lines))
    return parsed


def test_the_checked_in_sample_is_current() -> None:
    assert SAMPLE.read_text(encoding="utf-8") == sample_yaml(), (
        "etc/policy.yaml.sample is stale: run `glimpse policy sample --output etc/policy.yaml.sample`"
    )


def test_the_sample_holds_every_default_and_is_inert_as_it_is() -> None:
    text = sample_yaml()
    assert yaml.safe_load(text) is None  # all comments: using it unchanged changes nothing
    assert uncommented(text) == {rule.name: rule.check_str for rule in list_rules()}
    assert "# POST  /v2/images\n# Intended scope(s): project\n" in text


def test_the_sample_follows_the_manager_setting() -> None:
    assert uncommented(sample_yaml())["project_manager"] == "!"
    assert uncommented(sample_yaml(True))["project_manager"] == "role:manager and project_id:%(project_id)s"


def test_the_command_writes_the_sample(tmp_path: Path) -> None:
    runner = CliRunner()
    output = tmp_path / "policy.yaml"
    result = runner.invoke(main, ["policy", "sample", "--output", str(output)], env={"GLIMPSE_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert output.read_text(encoding="utf-8") == sample_yaml()
    config = tmp_path / "glimpse.conf"
    config.write_text("[glimpse]\nenable_manager_role = true\n")
    printed = runner.invoke(main, ["policy", "sample", "--config", str(config)], env={"GLIMPSE_CONFIG": ""})
    assert printed.exit_code == 0, printed.output
    assert printed.output == sample_yaml(True)
