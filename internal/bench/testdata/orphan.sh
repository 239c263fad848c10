#!/bin/sh
# Test helper: leaves dd running in the background and exits at once, as a
# daemonising agent would; dd is then an orphan of the agent.
( dd if=/dev/zero of=/dev/null bs=1M count=3000 2>/dev/null & )
exit 0
