#!/usr/bin/env python3
"""Runs the public SCIM compliance checker scim2-tester against a running SCIM server.

    scim2_tester_check.py --url http://127.0.0.1:8080/scim/v2 --token lyt_...

Prints one line per check; exits 1 if any check ends in ERROR or CRITICAL (or none ran).
"""

import argparse
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()

    http = Client(
        base_url=args.url,
        headers={"Authorization": f"Bearer {args.token}", "Accept": "application/scim+json"},
        timeout=30,
    )
    # check_server discovers the service provider itself (ServiceProviderConfig, ResourceTypes,
    # Schemas) and builds its models from our /Schemas.
    results = check_server(SyncSCIMClient(http), raise_exceptions=False)

    failing = {Status.ERROR, Status.CRITICAL}
    counts: dict[str, int] = {}
    failed = 0
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        bad = r.status in failing
        failed += bad
        where = f"[{r.resource_type}] " if r.resource_type else ""
        reason = f" -- {r.reason}" if r.reason else ""
        print(f"{'FAIL' if bad else 'ok  '} {r.status.name:<8} {where}{r.title}{reason}")
    print(f"scim2-tester: {len(results)} checks {counts}; failing: {failed}")
    ran = any(r.status == Status.SUCCESS for r in results)
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main())
