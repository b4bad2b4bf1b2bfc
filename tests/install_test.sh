#!/usr/bin/env bash
# Install test (ctest "install_test"): installs the build into a staging
# directory with `cmake --install` (DESTDIR), then builds and runs a tiny C
# program against the installed library twice: through pkg-config
# (newsidx.pc) and through find_package(newsidx) in a tiny CMake project.
# It checks what a user of the installed library relies on: the header, the
# shared library, the CLI, the man page, and both ways of finding them.
#
# usage: install_test.sh BUILD_DIR PREFIX LIBDIR INCLUDEDIR BINDIR MANDIR SANITIZE
set -euo pipefail

build=$1 prefix=$2 libdir=$3 includedir=$4 bindir=$5 mandir=$6 sanitize=${7:-OFF}
# GNUInstallDirs gives relative dirs, but a cache may hold absolute ones.
rel() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$prefix" "$1" ;; esac; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

DESTDIR=$stage cmake --install "$build" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install"; }

lib=$stage$(rel "$libdir")
inc=$stage$(rel "$includedir")
bin=$stage$(rel "$bindir")
man=$stage$(rel "$mandir")
[ -f "$inc/newsidx.h" ] || fail "no $inc/newsidx.h"
[ -x "$bin/newsidx" ] || fail "no $bin/newsidx"
[ -f "$man/man1/newsidx.1" ] || fail "no man page in $man/man1"
[ -f "$lib/pkgconfig/newsidx.pc" ] || fail "no newsidx.pc"
[ -f "$lib/cmake/newsidx/newsidxConfig.cmake" ] || fail "no CMake package config"
ls "$lib"/libnewsidx.so.* >/dev/null 2>&1 || fail "no versioned shared library"

# A program using the public API only: the two spellings of one name must
# give one term, and the linked library must be this version.
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

int main(void) {
    if (newsidx_version_number() != NEWSIDX_VERSION_NUMBER) return 1;
    newsidx_analyzer *a = NULL;
    if (newsidx_analyzer_create(NULL, &a) != NEWSIDX_OK) return 2;
    const char *text = "Traor\xc3\xa9 TRAORE";
    int rc = newsidx_analyze(a, text, strlen(text), keep, NULL);
    newsidx_analyzer_free(a);
    if (rc != NEWSIDX_OK || n_terms != 2 || strcmp(terms[0], "traore") != 0 ||
        strcmp(terms[1], terms[0]) != 0)
        return 3;
    printf("newsidx %s: %s %s\n", newsidx_version_string(), terms[0], terms[1]);
    return 0;
}
EOF

extra_flags=()
if [ "$sanitize" = ON ] || [ "$sanitize" = 1 ] || [ "$sanitize" = TRUE ]; then
    # An ASan library needs the ASan runtime in the program too.
    extra_flags=(-fsanitize=address,undefined)
fi

# 1. pkg-config. The .pc names the configured prefix; PKG_CONFIG_SYSROOT_DIR
# maps it into the staging directory, as for any staged install.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs newsidx) || fail "pkg-config --cflags --libs newsidx"
# shellcheck disable=SC2086
cc "${extra_flags[@]}" "$tmp/hello.c" $flags -o "$tmp/hello-pc" || fail "build through pkg-config ($flags)"
out=$(LD_LIBRARY_PATH=$lib "$tmp/hello-pc") || fail "program built through pkg-config"
echo "pkg-config: $out"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# 2. find_package(newsidx) in a CMake project.
mkdir -p "$tmp/proj"
cp "$tmp/hello.c" "$tmp/proj/hello.c"
cat >"$tmp/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(hello LANGUAGES C)
find_package(newsidx 0.1 REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE newsidx::newsidx)
EOF
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$stage$prefix" \
    -DCMAKE_C_FLAGS="${extra_flags[*]}" >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log" >&2; fail "find_package(newsidx)"; }
cmake --build "$tmp/proj/build" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; fail "build through find_package"; }
out=$(LD_LIBRARY_PATH=$lib "$tmp/proj/build/hello") || fail "program built through find_package"
echo "find_package: $out"

# 3. The installed CLI runs against the installed library.
out=$(LD_LIBRARY_PATH=$lib "$bin/newsidx" analyze "Putin’s") || fail "installed CLI"
[ "$out" = "$(printf '0\tputin\t0\t5')" ] || fail "installed CLI printed: $out"
echo "install_test: ok"
