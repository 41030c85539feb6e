#!/usr/bin/env bash
# Audit the pinned runtime dependencies for known vulnerabilities (`make audit`).
#
#   bash tests/audit.sh <python>
#
# <python> must have pip-audit installed (requirements-dev.txt). The audit needs
# the vulnerability service (PyPI's JSON API, which serves the PyPA advisory
# database). When it cannot be reached, or does not know a pinned version, this
# says so plainly: an offline or partial audit must not read as a clean one.
# Exit status: 1 when a vulnerability is found (or pip-audit fails), else 0.
set -euo pipefail

python="${1:?usage: bash tests/audit.sh <python>}"
cd "$(dirname "$0")/.."

probe_url="https://pypi.org/pypi/pip/json"
if ! "$python" - "$probe_url" <<'EOF'
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        response.read(1)
except Exception as error:  # any failure means: no vulnerability service
    print(f"probe failed: {error}", file=sys.stderr)
    sys.exit(1)
EOF
then
    echo "audit: SKIPPED - the vulnerability service ($probe_url) is unreachable;"
    echo "audit: requirements.txt was NOT audited. Run 'make audit' again with network access."
    exit 0
fi

report="$(mktemp)"
errors="$(mktemp)"
trap 'rm -f "$report" "$errors"' EXIT
echo "audit: pip-audit on requirements.txt"
status=0
"$python" -m pip_audit -r requirements.txt --progress-spinner off --format json -o "$report" \
    2>"$errors" || status=$?
# Its "No known vulnerabilities found" also follows an audit of nothing: the summary below says which.
grep -v '^No known vulnerabilities found' "$errors" >&2 || true
if [ ! -s "$report" ]; then
    echo "audit: FAILED - pip-audit exited $status without a report" >&2
    exit 1
fi

"$python" - "$report" <<'EOF'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as report:
    dependencies = json.load(report)["dependencies"]
skipped = [d for d in dependencies if "skip_reason" in d]
audited = [d for d in dependencies if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
for dependency in vulnerable:
    for vuln in dependency["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
        print(f"audit: VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixes})")
print(
    f"audit: {len(audited)} of {len(dependencies)} pinned dependencies audited, "
    f"{len(vulnerable)} vulnerable"
)
if skipped:
    names = ", ".join(d["name"] for d in skipped)
    print(f"audit: NOT audited ({len(skipped)}), unknown to the vulnerability service: {names}")
if not audited:
    print("audit: INCOMPLETE - nothing could be audited; this is not a clean result.")
EOF

exit "$status"
