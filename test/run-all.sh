#!/usr/bin/env bash
# The README's test command (`npm test`): installs chromium and openssl if they are missing
# (as root, with apt), builds the bundle, runs the forge suite and every vitest project, then
# prints one plain line "N passed, N failed" that adds both up.
set -uo pipefail
cd "$(dirname "$0")/.."

# System packages, before anything runs: the browser suite needs Debian's chromium at
# /usr/bin/chromium, the certificate suites need openssl. When both are there this does
# nothing. Otherwise, as root with apt-get, install them; else stop with the command to run.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  install_command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    [ "$(id -u)" -ne 0 ] && install_command="sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    echo "npm test needs ${missing[*]} (the browser and certificate suites), which this machine lacks; install them first (on Debian: $install_command), then run npm test again" >&2
    exit 1
  fi
  echo "installing with apt: ${missing[*]} (needed by the browser and certificate suites)"
  apt_log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    tail -n 20 "$apt_log" >&2
    rm -f "$apt_log"
    echo "npm test could not install ${missing[*]} with apt (see above); install them ($install_command), then run npm test again" >&2
    exit 1
  fi
  rm -f "$apt_log"
  if [ ! -x /usr/bin/chromium ] || ! command -v openssl >/dev/null 2>&1; then
    echo "npm test: apt installed ${missing[*]}, but /usr/bin/chromium or openssl is still missing" >&2
    exit 1
  fi
fi

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
