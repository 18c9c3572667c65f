#!/usr/bin/env bash
# before.sh REV: puts the root package fanout as it was at git revision REV
# into internal/before (ignored by git), so that one benchmark run measures
# the old core beside the current one:
#
#   ./before.sh 1209a89 && go test -tags before -run '^$' -bench . -count 5
#
# The build tag adds the contender "fanout-before" (before_test.go).
set -euo pipefail
rev=${1:?usage: before.sh REV}
cd "$(dirname "$0")"
rm -rf internal/before
mkdir -p internal/before
files=$(git -C .. ls-tree --name-only "$rev" | grep -E '\.go$' | grep -v '_test\.go$')
# shellcheck disable=SC2086 # one argument per file name
git -C .. archive "$rev" $files | tar -x -C internal/before
echo "internal/before: package fanout at $(git rev-parse --short "$rev")"
