#!/usr/bin/env bash
# Skip test (ctest "shared_skip"): proves what a fresh clone sees. Runs the
# suites that use ../shared with NEWSIDX_SHARED_DIR pointing at a folder
# that does not exist; each must pass, and say SKIP for what needs the real
# corpora or fixtures instead of failing or passing silently.
#
# usage: skip_test.sh TEST_INGEST TEST_ANALYSIS TEST_SEARCH
set -euo pipefail
fail() { echo "skip_test: FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" # test_search writes its indexes in the working directory
export NEWSIDX_SHARED_DIR=$tmp/no-shared

# check SUITE EXPECTED-SKIP-LINE...: the suite passes and prints each line.
check() {
    local suite=$1
    shift
    local out
    out=$("$suite" 2>&1) || { echo "$out" >&2; fail "$(basename "$suite") fails without the shared folder"; }
    echo "$out" | grep -q '^100%: Checks: [1-9][0-9]*, Failures: 0, Errors: 0$' ||
        { echo "$out" >&2; fail "$(basename "$suite"): no passing summary"; }
    for want in "$@"; do
        echo "$out" | grep -qxF "$want" || { echo "$out" >&2; fail "$(basename "$suite") did not print: $want"; }
    done
    echo "$(basename "$suite"):"
    echo "$out" | grep '^SKIP' | sed 's/^/  /'
}

check "$1" \
    "SKIP ($NEWSIDX_SHARED_DIR/corpora not found): test_the_reuters_corpus_reads_every_article_with_progress" \
    "SKIP ($NEWSIDX_SHARED_DIR/corpora not found): test_scanner_agrees_with_jansson_on_corpora_and_mutations"
check "$2" \
    "SKIP ($NEWSIDX_SHARED_DIR/fixtures not found): test_fixture_traore_spellings_give_one_term_and_putins_gives_putin" \
    "SKIP ($NEWSIDX_SHARED_DIR/fixtures not found): test_cli_analyze_prints_position_term_and_offsets (the fixture part)"
# The reference tests on generated articles: two of them are enough here
# (the whole suite runs that way in a fresh clone).
NEWSIDX_TEST_SMALL=1 NEWSIDX_TEST_ONLY=test_reference_statistics,test_cli_prints check "$3" \
    "SKIP ($NEWSIDX_SHARED_DIR/corpora not found): the reference tests run on generated articles instead"
echo "skip_test: ok"
