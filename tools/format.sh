#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/format.sh: clang-format (14 or later) with the project's .clang-format
# over every product and test .c/.h file git tracks or would track (new
# files not yet added count too: git ignores build directories).
#   tools/format.sh          format the files in place
#   tools/format.sh --check  change nothing; list the files that would change, exit 1 if any
# CLANG_FORMAT names another binary (default: clang-format).
# Not for: scripts, CMake files or anything git ignores (build directories).
set -euo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-clang-format}
check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
*) echo "usage: tools/format.sh [--check]" >&2; exit 2 ;;
esac
if ! command -v "$CF" >/dev/null; then
	echo "format.sh: $CF not found (apt-get install clang-format)" >&2
	exit 2
fi
ver=$("$CF" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
if [ "${ver:-0}" -lt 14 ]; then
	echo "format.sh: $CF is version ${ver:-unknown}; .clang-format needs 14 or later" >&2
	exit 2
fi

differ=0
while IFS= read -r f; do
	[ -f "$f" ] || continue
	if [ "$check" = 1 ]; then
		if ! "$CF" --style=file "$f" | cmp -s - "$f"; then
			echo "$f"
			differ=$((differ + 1))
		fi
	else
		"$CF" --style=file -i "$f"
	fi
done < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
if [ "$differ" -gt 0 ]; then
	echo "format.sh: $differ file(s) not formatted (run tools/format.sh)" >&2
	exit 1
fi
exit 0
