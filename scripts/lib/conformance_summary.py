"""Summarise a tempest run for scripts/conformance: counts, failures, skip reasons.

Reads a subunit v2 stream on stdin (``stestr last --subunit``) and prints the
passed/failed/skipped counts, every failing test, and every skipped test with
its reason (grouped, so a class-level skip shows once with its tests). Runs in
the conformance venv (python-subunit and testtools come with tempest).
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


def main() -> int:
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
            details = test.get("details") or {}
            assert isinstance(details, dict)
            reason = details.get("reason")
            text = reason.as_text().strip() if reason is not None else "(no reason given)"
            skips[text].append(name)

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
    if skips:
        print("\nSKIPPED, by reason:")
        for reason, names in sorted(skips.items(), key=lambda kv: -len(kv[1])):
            print(f"  [{len(names)}] {reason}")
            for name in names:
                print(f"      {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
