#!/bin/sh
# Runs a test program under $DOWNCASE_WRAPPER (e.g. valgrind) when the test setup sets it.
# meson's exe_wrapper would also wrap the Python interpreter of the integration tests, which
# instead read DOWNCASE_WRAPPER themselves and wrap only the downcase processes they start.
# shellcheck disable=SC2086
exec ${DOWNCASE_WRAPPER:-} "$@"
