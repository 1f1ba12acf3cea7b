"""tests/interop/failures.py: reading a run's results and judging it against the must-pass list."""

from __future__ import annotations

from pathlib import Path

from tests.interop import failures

CSV = """test,status,start_time,stop_time
"tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_delete_image[id-f848bb94,smoke]",success,t0,t1
tempest.api.image.v2.test_images.ImageLocationsTest.test_set_location[id-05b11b5c],fail,t0,t1
tempest.api.image.v2.admin.test_image_task.ImageTaskCreate.test_image_tasks_create[id-a1b2],skip,t0,t1
setUpClass (tempest.api.image.v2.test_images_metadefs_schema.MetadataSchemaTest),fail,t0,t1
glance_tempest_plugin.tests.rbac.v2.test_project_reader_tests.ImageProjectReaderTests.test_get_image[id-1],success,t0,t1
glance_tempest_plugin.tests.rbac.v2.test_project_reader_tests.ImageProjectReaderTests.test_list_images[id-2],xfail,t0,t1
"""
DELETE = "tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_delete_image"
SET_LOCATION = "tempest.api.image.v2.test_images.ImageLocationsTest.test_set_location"
GET_IMAGE = "glance_tempest_plugin.tests.rbac.v2.test_project_reader_tests.ImageProjectReaderTests.test_get_image"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_csv_strips_attributes_and_folds_statuses(tmp_path: Path) -> None:
    results = failures.load(write(tmp_path, "run.csv", CSV))
    assert results[DELETE] == failures.PASSED
    assert results[SET_LOCATION] == failures.FAILED
    assert results["tempest.api.image.v2.admin.test_image_task.ImageTaskCreate.test_image_tasks_create"] == "skip"
    assert results["setUpClass (tempest.api.image.v2.test_images_metadefs_schema.MetadataSchemaTest)"] == "fail"
    assert results[GET_IMAGE.replace("test_get_image", "test_list_images")] == failures.PASSED


def test_results_file_round_trips(tmp_path: Path) -> None:
    results = failures.load(write(tmp_path, "run.csv", CSV))
    out = tmp_path / "results.txt"
    failures.write_results(results, out, "glimpse at abc\nsome summary")
    assert out.read_text().startswith("# glimpse at abc\n# some summary\n")
    assert failures.load(out) == results


def test_a_test_reported_failed_once_stays_failed(tmp_path: Path) -> None:
    twice = f"test,status,start_time,stop_time\n{DELETE},fail,t0,t1\n{DELETE},success,t1,t2\n"
    assert failures.load(write(tmp_path, "run.csv", twice))[DELETE] == failures.FAILED


def test_counts_per_suite(tmp_path: Path) -> None:
    by_suite = failures.counts(failures.load(write(tmp_path, "run.csv", CSV)))
    tempest, plugin = by_suite["Tempest tempest.api.image"], by_suite["glance-tempest-plugin"]
    assert (tempest["success"], tempest["fail"], tempest["skip"]) == (1, 2, 1)
    assert (plugin["success"], plugin["fail"]) == (2, 0)


def test_check_reports_broken_absent_and_new(tmp_path: Path) -> None:
    results = failures.load(write(tmp_path, "run.csv", CSV))
    absent = "tempest.api.image.v2.test_images_metadefs_schema.MetadataSchemaTest.test_get_metadata_tag_schema"
    broken, new = failures.check([DELETE, SET_LOCATION, absent], results)
    assert broken == sorted([SET_LOCATION, absent])
    assert GET_IMAGE in new
    assert DELETE not in new


def test_main_check_exit_code_follows_must_pass(tmp_path: Path) -> None:
    run = write(tmp_path, "run.csv", CSV)
    good = write(tmp_path, "good.txt", f"# passing\n{DELETE}\n\n{GET_IMAGE}\n")
    bad = write(tmp_path, "bad.txt", f"{DELETE}\n{SET_LOCATION}\n")
    assert failures.main(["failures.py", "check", str(good), str(run)]) == 0
    assert failures.main(["failures.py", "check", str(bad), str(run)]) == 1


def test_passed_in_both_runs_only(tmp_path: Path) -> None:
    first = failures.load(write(tmp_path, "one.csv", CSV))
    second = dict(first)
    second[GET_IMAGE] = failures.FAILED
    assert failures.passed_in_all(first, second) == sorted(
        [DELETE, GET_IMAGE.replace("test_get_image", "test_list_images")]
    )


def test_reasons_take_the_details_line_of_each_failure() -> None:
    log = "\n".join(
        [
            "{1} tempest.api.image.v2.test_images.ImageLocationsTest.test_set_location[id-1] [2.3s] ... FAILED",
            "",
            "Captured traceback:",
            "    tempest.lib.exceptions.BadRequest: Bad request",
            "Details: b'400 Bad Request\\n\\nInvalid location'",
            "{0} tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_delete_image[id-2] [0.1s] ... ok",
            "{2} setUpClass (tempest.api.image.v2.test_images.ListUserImagesTest) ... FAILED",
            "    testtools.matchers._impl.MismatchError: 'active' != 'queued'",
        ]
    )
    found = failures.reasons(log)
    assert found == {
        SET_LOCATION: "Details: b'400 Bad Request\\n\\nInvalid location'",
        "setUpClass (tempest.api.image.v2.test_images.ListUserImagesTest)": (
            "testtools.matchers._impl.MismatchError: 'active' != 'queued'"
        ),
    }
