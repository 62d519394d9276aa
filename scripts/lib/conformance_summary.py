"""Summarise a tempest run for scripts/conformance: counts, failures, skip reasons.

Reads a subunit v2 stream on stdin (``stestr last --subunit``) and prints the
passed/failed/skipped counts, every failing test, and every skipped test with
its reason (grouped, so a class-level skip shows once with its tests). With
``--details``, each failure also shows the end of its traceback and the last
requests it made that did not succeed, with their response bodies: what is
needed to group failures by cause. Runs in the conformance venv
(python-subunit and testtools come with tempest).
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict

import subunit
import testtools

# "setUpClass (octavia_tempest_plugin...SomeTest)": a class whose setup failed or
# was skipped; its tests never ran and appear only through this entry.
_CLASS_FIXTURE = re.compile(r"^(setUpClass|tearDownClass) \((.+)\)$")
# tempest's rest_client log: "Request (Class:test): 404 GET http://… 0.01s"
_REQUEST = re.compile(r"Request \([^)]*\): (\d{3}) (\S+) (\S+)")


def _text(test: dict[str, object], name: str) -> str:
    details = test.get("details") or {}
    assert isinstance(details, dict)
    content = details.get(name)
    return content.as_text() if content is not None else ""


def _failure_details(test: dict[str, object]) -> list[str]:
    """The traceback's last lines and the failed requests (with bodies) of a test."""
    out = []
    traceback = [line for line in _text(test, "traceback").splitlines() if line.strip()]
    out += [f"    | {line}" for line in traceback[-6:]]
    log = _text(test, "pythonlogging:''").splitlines()
    failed: list[str] = []
    for i, line in enumerate(log):
        match = _REQUEST.search(line)
        if match and not match.group(1).startswith("2"):
            body = next((b.strip() for b in log[i + 1:i + 5] if "Body:" in b
                         and "Body: None" not in b and "Body: <omitted>" not in b), "")
            failed.append(f"    > {match.group(1)} {match.group(2)} {match.group(3)}"
                          + (f"\n    >   {body[:400]}" if body else ""))
    out += failed[-4:]
    return out


def main() -> int:
    details = "--details" in sys.argv[1:]
    tests: dict[str, dict[str, object]] = {}

    def on_test(test: dict[str, object]) -> None:
        tests[str(test["id"])] = test

    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()

    by_status: dict[str, list[str]] = defaultdict(list)
    skips: dict[str, list[str]] = defaultdict(list)
    for test_id, test in sorted(tests.items()):
        status = str(test["status"])
        name = test_id.split("[")[0]
        by_status[status].append(name)
        if status == "skip":
            skips[_text(test, "reason").strip() or "(no reason given)"].append(name)

    tests_by_name = {test_id.split("[")[0]: test for test_id, test in tests.items()}
    passed, failed = by_status.get("success", []), by_status.get("fail", [])
    skipped = by_status.get("skip", [])
    others = {k: v for k, v in by_status.items() if k not in ("success", "fail", "skip")}
    print(f"passed {len(passed)}, failed {len(failed)}, skipped {len(skipped)}"
          + "".join(f", {k} {len(v)}" for k, v in sorted(others.items())))
    if failed:
        print("\nFAILED:")
        for name in failed:
            fixture = _CLASS_FIXTURE.match(name)
            note = "  (class fixture: its tests did not run)" if fixture else ""
            print(f"  {name}{note}")
            if details:
                print("\n".join(_failure_details(tests_by_name[name])))
    if skips:
        print("\nSKIPPED, by reason:")
        for reason, names in sorted(skips.items(), key=lambda kv: -len(kv[1])):
            print(f"  [{len(names)}] {reason}")
            for name in names:
                print(f"      {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
