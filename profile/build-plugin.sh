#!/usr/bin/env bash
# Builds the instruction profiler for this host: the TCG plugin (profile/plugin) and
# the tool that reads its counts (profile/report, `insn-profile`), and prints the path
# of the plugin's shared object (insn-profile is next to it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && CARGO_TARGET_DIR=$target_dir cargo build -q --release -p insn-plugin -p insn-profile >&2)
echo "$target_dir/release/libinsn_plugin.so"
