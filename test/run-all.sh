#!/usr/bin/env bash
# The README's test command (`npm test`): installs chromium, openssl, buildah, debootstrap and
# prometheus if they are missing (as root, with apt), builds the bundles, runs the forge suite
# and every vitest project, then prints one plain line "N passed, N failed" that adds both up.
set -uo pipefail
cd "$(dirname "$0")/.."

# System packages, before anything runs: the browser suite needs Debian's chromium at
# /usr/bin/chromium, the certificate suites openssl, the image suite buildah and debootstrap,
# the alert-rules suite (test/prometheus) promtool, from Debian's prometheus package.
# When all are there this does nothing; otherwise it installs them with apt as root, or stops
# with the command to run.
bash test/system-packages.sh chromium openssl jq buildah debootstrap prometheus || exit 1

results_dir=.vitest-results
rm -rf "$results_dir" && mkdir -p "$results_dir"

build_failed=0
npm run --silent build || build_failed=1

forge_passed=0
forge_failed=0
forge_log="$results_dir/forge.log"
(cd contracts && npx --no-install forge test 2>&1) | tee "$forge_log"
forge_summary=$(grep -E "^Ran [0-9]+ test suites?" "$forge_log" | tail -n 1)
if [[ "$forge_summary" =~ ([0-9]+)\ tests\ passed,\ ([0-9]+)\ failed ]]; then
  forge_passed=${BASH_REMATCH[1]}
  forge_failed=${BASH_REMATCH[2]}
else
  echo "forge produced no summary line: counting the forge suite as one failure"
  forge_failed=1
fi

npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$results_dir/vitest.json"
vitest_counts=$(node -e '
  const fs = require("node:fs")
  try {
    const report = JSON.parse(fs.readFileSync(process.argv[1], "utf8"))
    const failedSuites = report.testResults.filter((suite) => suite.status === "failed" && suite.assertionResults.length === 0).length
    console.log(report.numPassedTests, report.numFailedTests + failedSuites)
  } catch { console.log("0 1") }
' "$results_dir/vitest.json")
read -r vitest_passed vitest_failed <<<"$vitest_counts"

passed=$((forge_passed + vitest_passed))
failed=$((forge_failed + vitest_failed + build_failed))
echo
echo "forge: $forge_passed passed, $forge_failed failed; vitest: $vitest_passed passed, $vitest_failed failed; build failed: $build_failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
