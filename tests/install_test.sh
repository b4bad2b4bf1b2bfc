#!/usr/bin/env bash
# Install test (ctest "install_test"): what a user of the installed library
# relies on. Installs the build with `cmake --install --prefix` into a
# temporary prefix, then:
#   1. the installed CLI runs as it is (no LD_LIBRARY_PATH: its RUNPATH is
#      $ORIGIN/../lib), and `pkg-config --cflags` holds no private define;
#   2. a small client builds and runs four ways: shared and static library,
#      each through pkg-config (newsidx.pc) and through find_package(newsidx);
#      the static builds must not need libnewsidx.so at run time;
#   3. examples/ builds against the installed package (find_package) and
#      runs on tests/data/sample.jsonl: index, search with snippets, live.
#
# usage: install_test.sh SOURCE_DIR BUILD_DIR LIBDIR INCLUDEDIR BINDIR MANDIR [SANITIZE]
set -euo pipefail

src=$1 build=$2 libdir=$3 includedir=$4 bindir=$5 mandir=$6 sanitize=${7:-OFF}
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
for d in "$libdir" "$includedir" "$bindir" "$mandir"; do
    # an absolute CMAKE_INSTALL_*DIR would install outside the test prefix
    case $d in /*) fail "CMAKE_INSTALL_*DIR must be relative here, not $d" ;; esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
cmake --install "$build" --prefix "$P" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install --prefix"; }

lib=$P/$libdir
[ -f "$P/$includedir/newsidx.h" ] || fail "no $includedir/newsidx.h"
[ -x "$P/$bindir/newsidx" ] || fail "no $bindir/newsidx"
[ -f "$P/$mandir/man1/newsidx.1" ] || fail "no man page in $mandir/man1"
[ -f "$lib/pkgconfig/newsidx.pc" ] || fail "no newsidx.pc"
[ -f "$lib/cmake/newsidx/newsidxConfig.cmake" ] || fail "no CMake package config"
[ -f "$lib/libnewsidx.a" ] || fail "no static library"
ls "$lib"/libnewsidx.so.* >/dev/null 2>&1 || fail "no versioned shared library"

# 1. The installed CLI, with nothing in the environment pointing at $lib.
unset LD_LIBRARY_PATH
out=$("$P/$bindir/newsidx" --version) || fail "installed newsidx --version does not run"
case $out in "newsidx "*) ;; *) fail "newsidx --version printed: $out" ;; esac
echo "installed CLI: $out"
out=$("$P/$bindir/newsidx" analyze "Putin’s") || fail "installed CLI analyze"
[ "$out" = "$(printf '0\tputin\t0\t5')" ] || fail "installed CLI printed: $out"

export PKG_CONFIG_PATH=$lib/pkgconfig
cflags=$(pkg-config --cflags newsidx) || fail "pkg-config --cflags newsidx"
case " $cflags " in *" -D"*) fail "pkg-config --cflags newsidx leaks a define: $cflags" ;; esac
static_libs=$(pkg-config --static --libs newsidx) || fail "pkg-config --static --libs newsidx"
for l in zstd xxhash utf8proc stemmer jansson gumbo z; do
    case " $static_libs " in *" -l$l "*) ;; *) fail "pkg-config --static --libs lacks -l$l: $static_libs" ;; esac
done

# 2. A client of the public API only: the two spellings of one name give
# one term, the linked library is this version, and an index round trip
# (writer, reader, search) works, which pulls in every dependency.
cat >"$tmp/hello.c" <<'EOF'
#include <newsidx.h>
#include <stdio.h>
#include <string.h>

static char terms[2][NEWSIDX_MAX_TERM_BYTES + 1];
static int n_terms;

static int keep(void *ctx, const newsidx_token *t) {
    (void)ctx;
    if (n_terms < 2) {
        memcpy(terms[n_terms], t->term, t->term_len);
        terms[n_terms][t->term_len] = 0;
    }
    n_terms++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2 || newsidx_version_number() != NEWSIDX_VERSION_NUMBER) return 1;
    newsidx_analyzer *a = NULL;
    if (newsidx_analyzer_create(NULL, &a) != NEWSIDX_OK) return 2;
    const char *text = "Traor\xc3\xa9 TRAORE";
    int rc = newsidx_analyze(a, text, strlen(text), keep, NULL);
    newsidx_analyzer_free(a);
    if (rc != NEWSIDX_OK || n_terms != 2 || strcmp(terms[0], "traore") != 0 ||
        strcmp(terms[1], terms[0]) != 0)
        return 3;
    newsidx_writer *w = NULL;
    newsidx_field f[] = {{"id", "h1", 2}, {"body", "Hello from the install test", 27}};
    if (newsidx_writer_open(argv[1], NULL, NULL, 0, &w) != NEWSIDX_OK ||
        newsidx_writer_add(w, f, 2, NULL) != NEWSIDX_OK || newsidx_writer_commit(w) != NEWSIDX_OK)
        return 4;
    newsidx_writer_close(w);
    newsidx_reader *r = NULL;
    newsidx_query *q = NULL;
    newsidx_results *res = NULL;
    if (newsidx_reader_open(argv[1], NULL, 0, &r) != NEWSIDX_OK ||
        newsidx_query_parse(r, "install", 7, NULL, NULL, NULL, 0, &q) != NEWSIDX_OK ||
        newsidx_search(r, q, NULL, &res) != NEWSIDX_OK || newsidx_results_count(res) != 1)
        return 5;
    printf("newsidx %s: %s %s, found %s\n", newsidx_version_string(), terms[0], terms[1],
           newsidx_hit_id(res, 0));
    newsidx_results_free(res);
    newsidx_query_free(q);
    newsidx_reader_close(r);
    return 0;
}
EOF

san=()
if [ "$sanitize" = ON ] || [ "$sanitize" = 1 ] || [ "$sanitize" = TRUE ]; then
    # A library built with ASan needs the ASan runtime in the program too.
    san=(-fsanitize=address,undefined)
fi

# needs_shared BINARY yes|no: whether it must load libnewsidx.so.
needs_shared() {
    if readelf -d "$1" | grep -q 'NEEDED.*libnewsidx\.so'; then
        [ "$2" = yes ] || fail "$1 needs libnewsidx.so but was linked statically"
    else
        [ "$2" = no ] || fail "$1 does not load libnewsidx.so"
    fi
}

# run_client NAME BINARY: runs it on a fresh index directory.
run_client() {
    out=$(LD_LIBRARY_PATH=$lib "$2" "$tmp/idx-$1") || fail "$1: the client built that way fails"
    echo "$1: $out"
}

# pkg-config, shared: the flags a Makefile would use.
# shellcheck disable=SC2046
cc "${san[@]}" "$tmp/hello.c" $(pkg-config --cflags --libs newsidx) -o "$tmp/hello-pc-shared" ||
    fail "build through pkg-config (shared)"
needs_shared "$tmp/hello-pc-shared" yes
run_client pkg-config-shared "$tmp/hello-pc-shared"

# pkg-config, static: --static adds the private libraries; -l:libnewsidx.a
# picks the archive where -lnewsidx would find the .so first.
# shellcheck disable=SC2046
cc "${san[@]}" "$tmp/hello.c" $cflags $(echo "$static_libs" | sed 's/-lnewsidx\b/-l:libnewsidx.a/') \
    -o "$tmp/hello-pc-static" || fail "build through pkg-config --static ($static_libs)"
needs_shared "$tmp/hello-pc-static" no
run_client pkg-config-static "$tmp/hello-pc-static"

# find_package(newsidx): both targets in one project.
mkdir -p "$tmp/proj"
cp "$tmp/hello.c" "$tmp/proj/hello.c"
cat >"$tmp/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(hello LANGUAGES C)
find_package(newsidx 0.1 REQUIRED)
add_executable(hello_shared hello.c)
target_link_libraries(hello_shared PRIVATE newsidx::newsidx)
add_executable(hello_static hello.c)
target_link_libraries(hello_static PRIVATE newsidx::newsidx_static)
EOF
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_C_FLAGS="${san[*]}" >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log" >&2; fail "find_package(newsidx)"; }
cmake --build "$tmp/proj/build" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; fail "build through find_package"; }
needs_shared "$tmp/proj/build/hello_shared" yes
run_client find_package-shared "$tmp/proj/build/hello_shared"
needs_shared "$tmp/proj/build/hello_static" no
run_client find_package-static "$tmp/proj/build/hello_static"

# 3. examples/, as its CMakeLists.txt tells users to build it.
cmake -S "$src/examples" -B "$tmp/examples" -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_C_FLAGS="${san[*]} -Wall -Wextra -Werror" >"$tmp/cmake-ex.log" 2>&1 ||
    { cat "$tmp/cmake-ex.log" >&2; fail "configure examples/"; }
cmake --build "$tmp/examples" >"$tmp/build-ex.log" 2>&1 ||
    { cat "$tmp/build-ex.log" >&2; fail "build examples/"; }
ex=$tmp/examples
export LD_LIBRARY_PATH=$lib
out=$("$ex/index" "$tmp/ex-idx" "$src/tests/data/sample.jsonl") || fail "examples/index: $out"
echo "$out" | sed 's/^/examples\/index: /'
n=$(wc -l <"$src/tests/data/sample.jsonl")
echo "$out" | grep -q "^indexed $n articles" || fail "examples/index did not index the $n sample articles"
# the installed CLI reads what the example wrote
"$P/$bindir/newsidx" get "$tmp/ex-idx" example-1 | grep -q 'added with newsidx_writer_add' ||
    fail "the CLI does not find the article examples/index added by hand"

out=$("$ex/search" "$tmp/ex-idx" 'traore' 3) || fail "examples/search: $out"
echo "$out" | sed 's/^/examples\/search: /'
echo "$out" | grep -q '^[1-9][0-9]* articles match traore' || fail "examples/search found nothing"
echo "$out" | grep -q '\[Traor' || fail "examples/search printed no highlighted snippet"
out=$("$ex/search" "$tmp/ex-idx" 'oil (prices' 2>&1) && fail "examples/search accepted a bad query"
echo "$out" | grep -q '\^' || fail "examples/search gave no caret under the error: $out"

mkdir "$tmp/feed"
split -l 15 "$src/tests/data/sample.jsonl" "$tmp/feed/batch-"
out=$("$ex/live" "$tmp/live-idx" 'traore OR heat' "$tmp"/feed/batch-*) || fail "examples/live: $out"
echo "$out" | sed 's/^/examples\/live: /'
[ "$(echo "$out" | grep -c '^batch ')" = 3 ] || fail "examples/live did not run three rounds"
counts=$(echo "$out" | sed -n 's/^  \([0-9]*\) of \([0-9]*\) articles match.*/\2/p' | tr '\n' ' ')
[ "$counts" = "15 30 $n " ] || fail "examples/live saw $counts articles after each batch, not 15 30 $n"
echo "install_test: ok"
