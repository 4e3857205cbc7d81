#!/usr/bin/env bash
# API calls of `kpsa publish gitlab` for 1,000 new findings on 50 files, counted by the fake
# GitLab (tests/fake_gitlab): first run and a re-run on the same head. Requests are counted, not
# timed (so the debug build will do). Prints the two lines docs/performance.md quotes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --test gitlab api_calls_for_a_thousand_findings_on_fifty_files -- --nocapture 2>&1 |
    grep -E '^(first|second) run:'
