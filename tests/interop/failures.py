"""Results of an interop run (Tempest + glance-tempest-plugin) against the must-pass list.

Standard library only, so any Python runs it. A run's results come from its subunit stream turned into CSV by
python-subunit's ``subunit2csv`` (columns ``test,status,start_time,stop_time``) or from a results file this
tool wrote (one ``STATUS TEST_ID`` per line, sorted by id). Test ids are stored without their ``[id-...,smoke]``
attributes. A test class whose setup failed shows up as one failed ``setUpClass (module.Class)`` entry and none
of its tests appear: a must-pass test that is absent from a run counts as failed.

    failures.py results RUN.csv OUT.txt      # write the results file; print passed/failed/skipped per suite
    failures.py check MUST_PASS.txt RUN      # exit 1 when a must-pass test did not pass; list new passes
    failures.py passed RUN1 RUN2             # the tests that passed in both runs (to grow must-pass.txt)
    failures.py compare RUN GLANCE_RUN       # tests that pass on Glance but not in RUN, and the reverse
    failures.py reasons RUN.log              # each failed test with the last error line of its traceback
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path

PASSED = "success"
SKIPPED = "skip"
FAILED = "fail"
# subunit's statuses folded into the three that matter here
_STATUS = {
    "success": PASSED,
    "xfail": PASSED,
    "skip": SKIPPED,
    "fail": FAILED,
    "uxsuccess": FAILED,
    "exists": FAILED,
    "inprogress": FAILED,
}
SUITES = (("tempest.api.image", "Tempest tempest.api.image"), ("glance_tempest_plugin", "glance-tempest-plugin"))
_ATTRS = re.compile(r"\[[^\]]*\]$")


def strip_attrs(raw: str) -> str:
    """``tempest.x.Y.test_z[id-1,smoke]`` -> ``tempest.x.Y.test_z``; setUpClass entries are kept whole."""
    raw = raw.strip()
    return raw if raw.startswith(("setUpClass", "tearDownClass")) else _ATTRS.sub("", raw)


def load(path: Path) -> dict[str, str]:
    """Test id -> passed/failed/skipped, from a subunit2csv file or a results file."""
    text = path.read_text()
    results: dict[str, str] = {}
    if text.startswith("test,status"):
        for row in csv.DictReader(text.splitlines()):
            status = _STATUS.get(row["status"], FAILED)
            name = strip_attrs(row["test"])
            # a test reported twice (a retry, a class fixture) passes only if every report passed
            if results.get(name) != FAILED:
                results[name] = status
        return results
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            status, name = line.split(maxsplit=1)
            results[strip_attrs(name)] = _STATUS.get(status, FAILED)
    return results


def load_ids(path: Path) -> list[str]:
    """A list of test ids, one a line; blank lines and ``#`` comments ignored."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def suite_of(name: str) -> str:
    for prefix, label in SUITES:
        if prefix in name:
            return label
    return "other"


def counts(results: dict[str, str]) -> dict[str, Counter[str]]:
    by_suite: dict[str, Counter[str]] = {label: Counter() for _, label in SUITES}
    for name, status in results.items():
        by_suite.setdefault(suite_of(name), Counter())[status] += 1
    return by_suite


def summary_lines(results: dict[str, str]) -> list[str]:
    lines = []
    for label, counter in counts(results).items():
        lines.append(
            f"{label}: passed {counter[PASSED]}, failed {counter[FAILED]}, skipped {counter[SKIPPED]}"
            f" ({sum(counter.values())} reported)"
        )
    return lines


def write_results(results: dict[str, str], out: Path, header: str = "") -> None:
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    lines += [f"{status} {name}" for name, status in sorted(results.items())]
    out.write_text("\n".join(lines) + "\n")


def check(must_pass: list[str], results: dict[str, str]) -> tuple[list[str], list[str]]:
    """(must-pass tests that did not pass, passing tests not yet on the list)."""
    wanted = set(must_pass)
    broken = sorted(name for name in wanted if results.get(name) != PASSED)
    new = sorted(name for name, status in results.items() if status == PASSED and name not in wanted)
    return broken, new


def passed_in_all(*runs: dict[str, str]) -> list[str]:
    first, *rest = runs
    return sorted(
        name
        for name, status in first.items()
        if status == PASSED and not name.startswith("setUpClass") and all(run.get(name) == PASSED for run in rest)
    )


_TRACE_LINE = re.compile(r"^\{\d+\} (\S+(?: \(\S+\))?)(?: \[[^\]]*\])? \.\.\. (FAILED|ok|SKIPPED.*)$")


_ERROR_LINE = re.compile(r"^[\w.]+(Error|Exception|Failure|Mismatch|Timeout)\b")


def reasons(log: str) -> dict[str, str]:
    """Failed test -> the most telling line of its traceback, from tempest run's (subunit-trace) output: the
    first ``Details:`` line of a tempest exception, else the last exception line."""
    found: dict[str, str] = {}
    current: str | None = None
    details: list[str] = []
    errors: list[str] = []
    for line in [*log.splitlines(), "{0} end ... ok"]:
        match = _TRACE_LINE.match(line)
        if match:
            if current is not None:
                found[current] = (details or errors or [""])[0 if details else -1]
            current = strip_attrs(match.group(1)) if match.group(2) == "FAILED" else None
            details, errors = [], []
        elif current is not None:
            text = line.strip()
            if text.startswith("Details:"):
                details.append(text)
            elif _ERROR_LINE.match(text):
                errors.append(text)
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    command, *paths = argv[1:]
    if command == "results" and len(paths) in (2, 3):
        results = load(Path(paths[0]))
        lines = summary_lines(results)
        write_results(results, Path(paths[1]), "\n".join([*(paths[2:] or []), *lines]))
        print("\n".join(lines))
        return 0
    if command == "check" and len(paths) == 2:
        must_pass, results = load_ids(Path(paths[0])), load(Path(paths[1]))
        broken, new = check(must_pass, results)
        for name in new:
            print(f"newly passing (add to must-pass.txt): {name}")
        for name in broken:
            print(f"MUST-PASS NOT PASSED ({results.get(name, 'absent')}): {name}")
        print(f"must-pass: {len(must_pass) - len(broken)} passed, {len(broken)} failed")
        return 1 if broken else 0
    if command == "passed" and paths:
        print("\n".join(passed_in_all(*(load(Path(path)) for path in paths))))
        return 0
    if command == "compare" and len(paths) == 2:
        ours, glance = load(Path(paths[0])), load(Path(paths[1]))
        for name in sorted(glance):
            if glance[name] == PASSED and ours.get(name) != PASSED:
                print(f"passes on Glance, {ours.get(name, 'absent')} here: {name}")
            elif glance[name] != PASSED and ours.get(name) == PASSED:
                print(f"passes here, {glance[name]} on Glance: {name}")
        return 0
    if command == "reasons" and len(paths) == 1:
        for name, reason in sorted(reasons(Path(paths[0]).read_text(errors="replace")).items()):
            print(f"{name}\t{reason[:300]}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
