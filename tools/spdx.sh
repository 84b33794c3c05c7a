#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/spdx.sh: put the SPDX licence line at the top of every source
# file that lacks it: `/* SPDX-License-Identifier: Apache-2.0 */` as line 1
# of .c/.h, `# SPDX-License-Identifier: Apache-2.0` right after the shebang
# of .sh/.py (line 1 if there is none) and as line 1 of CMakeLists.txt.
# Idempotent: a file that has an SPDX-License-Identifier in its first two
# lines is left alone.
#   tools/spdx.sh          add the line where missing, list the files changed
#   tools/spdx.sh --check  change nothing; list the files lacking it, exit 1 if any
# Not for: data files, test fixtures or documentation (only the kinds above).
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="SPDX-License-Identifier: Apache-2.0"
check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
*) echo "usage: tools/spdx.sh [--check]" >&2; exit 2 ;;
esac

has_tag() { head -n 2 "$1" | grep -q 'SPDX-License-Identifier:'; }

add_tag() {
	local f=$1 tmp
	tmp=$(mktemp "$f.spdx.XXXXXX")
	case "$f" in
	*.c | *.h) { printf '/* %s */\n' "$TAG"; cat "$f"; } >"$tmp" ;;
	*CMakeLists.txt) { printf '# %s\n' "$TAG"; cat "$f"; } >"$tmp" ;;
	*)
		if head -n 1 "$f" | grep -q '^#!'; then
			{ head -n 1 "$f"; printf '# %s\n' "$TAG"; tail -n +2 "$f"; } >"$tmp"
		else
			{ printf '# %s\n' "$TAG"; cat "$f"; } >"$tmp"
		fi ;;
	esac
	chmod --reference="$f" "$tmp"
	mv "$tmp" "$f"
}

missing=0
while IFS= read -r f; do
	[ -f "$f" ] || continue
	has_tag "$f" && continue
	missing=$((missing + 1))
	echo "$f"
	[ "$check" = 1 ] || add_tag "$f"
done < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' '*.sh' '*.py' 'CMakeLists.txt' '*/CMakeLists.txt')
if [ "$check" = 1 ] && [ "$missing" -gt 0 ]; then
	echo "spdx.sh: $missing file(s) lack the SPDX line (run tools/spdx.sh)" >&2
	exit 1
fi
exit 0
