#!/bin/sh
# The Debian package version of a build's VERSION (git describe, or given):
#   v1.4.0 -> 1.4.0; 1.4.0-3-gabc1234 -> 1.4.0+3+gabc1234; 1.4.0-dirty -> 1.4.0+dirty;
#   anything not starting with a release number (a bare commit abc1234, dev)
#   -> 0~abc1234, 0~dev: below every release.
# Characters Debian does not allow in a native version become "+".
# usage: deb/version.sh VERSION
set -eu
v=${1:?usage: deb/version.sh VERSION}
v=${v#v}
v=$(printf '%s' "$v" | tr -c 'A-Za-z0-9.+~' '+')
printf '%s' "$v" | grep -Eq '^[0-9]+\.[0-9]+' || v=0~$v
printf '%s\n' "$v"
