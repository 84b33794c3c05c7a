# Conformance helpers: reuse the integration harness (daemon start/stop, ports,
# cleanup traps) and add the iscsi-test-cu output parser.
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../integration/lib.sh"

# cu_parse < iscsi-test-cu -v output  >  "Suite.Test PASS|FAIL|SKIP reason" per test.
# iscsi-test-cu reports a skipped test as passed after printing "[SKIPPED] why";
# a failure prints "[FAILED] why" (or only an assertion) and then "FAILED".
cu_parse() {
  awk '
  function flush(st) {
    if (cur == "") return
    if (st == "PASS" && skipped) st = "SKIP"
    r = (st == "FAIL") ? freason : (st == "SKIP" ? sreason : "")
    if (st == "FAIL" && r == "") r = "assertion failed"
    gsub(/[ \t]+/, " ", r)
    print cur, st, r
    cur = ""
  }
  function scan(s) {
    if (index(s, "[SKIPPED]") && !skipped) { skipped = 1; sreason = s; sub(/.*\[SKIPPED\] */, "", sreason) }
    if (index(s, "[FAILED]") && freason == "") { freason = s; sub(/.*\[FAILED\] */, "", freason) }
    # CUnit prints the verdict at the start of a line (after the test output);
    # suite clean-up output may follow it on the same line.
    if (s ~ /^passed/ || s ~ /\.\.\.passed[ \t]*$/) { flush("PASS"); return }
    if (s ~ /^FAILED/ || s ~ /\.\.\.FAILED[ \t]*$/) { flush("FAIL"); return }
    if (freason == "" && cur != "" && s ~ /^ +[0-9]+\. .*CU_ASSERT/) { freason = s; sub(/^ +[0-9]+\. */, "", freason) }
  }
  /^Suite: / { suite = $2; next }
  /^  Test: / {
    line = $0; sub(/^  Test: /, "", line)
    name = line; sub(/ \.\.\..*$/, "", name)
    rest = line; if (index(rest, " ...")) { sub(/^[^.]*\.\.\./, "...", rest) } else rest = ""
    cur = suite "." name; skipped = 0; sreason = ""; freason = ""
    if (rest ~ /^\.\.\.passed/) { flush("PASS"); next }
    if (rest ~ /^\.\.\.FAILED/) { flush("FAIL"); next }
    sub(/^\.\.\./, "", rest)
    scan(rest)
    next
  }
  { if (cur != "") scan($0) }
  '
}
