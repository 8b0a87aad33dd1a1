#!/usr/bin/env python3
"""Seeds an organization with N users through /Bulk, then writes their ids and user names.

    seed.py <base url> <token> <count> <ids file> <names file>
"""

import json
import sys
import urllib.request

base, token, count, ids_path, names_path = sys.argv[1:6]
count = int(count)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.load(resp)


def user(i):
    name = f"user{i:07d}@seed.example"
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": name,
        "externalId": f"ext-{i}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i % 997}"},
        "displayName": f"User {i}",
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
        ENTERPRISE: {"department": f"Dept{i % 50}", "employeeNumber": str(i)},
    }


batch = 1000
for start in range(0, count, batch):
    ops = [
        {"method": "POST", "path": "/Users", "bulkId": str(i), "data": user(i)}
        for i in range(start, min(start + batch, count))
    ]
    reply = call("POST", "/Bulk", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": ops,
    })
    bad = [o for o in reply["Operations"] if o["status"] != "201"]
    if bad:
        sys.exit(f"seeding failed: {bad[0]}")
    print(f"\rseeded {min(start + batch, count)}/{count}", end="", file=sys.stderr, flush=True)
print(file=sys.stderr)

with open(ids_path, "w") as ids, open(names_path, "w") as names:
    start = 1
    while True:
        page = call("GET", f"/Users?startIndex={start}&count=1000&attributes=userName")
        for r in page["Resources"]:
            ids.write(r["id"] + "\n")
            names.write(r["userName"] + "\n")
        start += len(page["Resources"])
        if not page["Resources"] or start > page["totalResults"]:
            break
