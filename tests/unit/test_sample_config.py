"""The shipped sample configuration loads and means what it says."""

from pathlib import Path

from glimpse.settings import load_settings

SAMPLE = Path(__file__).resolve().parents[2] / "etc" / "glimpse.conf.sample"


def test_sample_config_loads() -> None:
    settings = load_settings(SAMPLE, env={})
    assert set(settings.stores) == {"fast", "cheap"}
    assert settings.default_backend == "fast"
    assert settings.stores["fast"].weight == 100
    assert settings.stores["fast"].options.filesystem_store_datadir == Path("/var/lib/glimpse/stores/fast")
    assert settings.database_url.get_secret_value() == "sqlite:////var/lib/glimpse/glimpse.db"
    assert settings.port == 9292
    assert "qcow2" in settings.disk_formats


def test_metadef_cap_is_off_by_default_and_read_from_glimpse_section(tmp_path: Path) -> None:
    assert load_settings(SAMPLE, env={}).metadef_records_per_project == 0
    conf = tmp_path / "glimpse.conf"
    conf.write_text("[glimpse]\nmetadef_records_per_project = 5\n")
    assert load_settings(conf, env={}, data_dir=tmp_path).metadef_records_per_project == 5


def test_format_match_is_required_by_default_and_read_from_image_format(tmp_path: Path) -> None:
    assert load_settings(SAMPLE, env={}).require_image_format_match is True
    assert load_settings(env={}, data_dir=tmp_path).require_image_format_match is True
    conf = tmp_path / "glimpse.conf"
    conf.write_text("[image_format]\nrequire_image_format_match = false\n")
    assert load_settings(conf, env={}, data_dir=tmp_path).require_image_format_match is False


def test_dashboard_is_on_with_a_secure_cookie_and_read_from_its_section(tmp_path: Path) -> None:
    sample = load_settings(SAMPLE, env={})
    assert sample.dashboard_enabled is True
    assert sample.dashboard_cookie_secure is True
    assert sample.dashboard_session_ttl == 3600
    assert sample.dashboard_secret_key is None
    assert sample.dashboard_endpoint_interface == "public"
    assert sample.dashboard_region_name is None
    assert sample.dashboard_orchestration_timeout == 30
    conf = tmp_path / "glimpse.conf"
    conf.write_text(
        "[dashboard]\nenabled = false\nsecret_key = sealing-key-xyz\nsession_ttl = 600\ncookie_secure = false\n"
    )
    settings = load_settings(conf, env={}, data_dir=tmp_path)
    assert settings.dashboard_enabled is False
    assert settings.dashboard_cookie_secure is False
    assert settings.dashboard_session_ttl == 600
    assert "sealing-key-xyz" not in str(settings.masked())  # a secret: masked
    assert settings.dashboard_secret_key is not None
    assert settings.dashboard_secret_key.get_secret_value() == "sealing-key-xyz"
    env = load_settings(env={"GLIMPSE_DASHBOARD": "false", "GLIMPSE_DASHBOARD_COOKIE_SECURE": "0"}, data_dir=tmp_path)
    assert env.dashboard_enabled is False
    assert env.dashboard_cookie_secure is False


def test_webhook_secret_keys_are_read_from_their_section_and_masked(tmp_path: Path) -> None:
    config = tmp_path / "glimpse.conf"
    config.write_text("[webhooks]\nsecret_key = key-one, key-two\n")
    assert load_settings(SAMPLE, env={}).webhook_secret_key is None
    settings = load_settings(config, env={}, data_dir=tmp_path)
    assert settings.webhook_secret_key is not None
    assert settings.webhook_secret_key.get_secret_value() == "key-one, key-two"
    assert "key-one" not in str(settings.masked())
