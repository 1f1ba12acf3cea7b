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
