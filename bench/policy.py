"""Cost of one policy decision (`get_image` on another project's private image), in microseconds.

    .venv/bin/python bench/policy.py            # target: well under 50 µs per check

Moved here from the unit tests: a timing figure belongs in a benchmark, not in a test that a loaded machine
can fail.
"""

from __future__ import annotations

import timeit

from glimpse.context import RequestContext
from glimpse.policy import Policy, Target

TARGET_MICROSECONDS = 50.0


def main() -> None:
    policy = Policy()
    image = Target(project_id="owner", visibility="private", attributes={"id": "i", "name": "n", "status": "active"})
    caller = RequestContext(user_id="u", project_id="other", roles=frozenset({"member", "reader"}))
    rounds = 20_000
    seconds = min(timeit.repeat(lambda: policy.check(caller, "get_image", image), number=rounds, repeat=5))
    cost = seconds / rounds * 1e6
    verdict = "ok" if cost < TARGET_MICROSECONDS else "OVER TARGET"
    print(f"policy check get_image: {cost:.2f} µs (target < {TARGET_MICROSECONDS:.0f} µs) {verdict}")


if __name__ == "__main__":
    main()
