#!/bin/sh
# Test helper: forks a subshell, runs true twice and dd once; dd burns CPU in
# a child so that the test can see children's CPU in the agent's rusage.
( : )
/bin/true
/bin/true
dd if=/dev/zero of=/dev/null bs=1M count=3000 2>/dev/null
readlink /proc/self/ns/net >&2
exit "${1:-0}"
