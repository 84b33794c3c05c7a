#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check-layers: the include graph of the product tree against the layer rules
# that docs/architecture.md draws. Every `#include "dir/file.h"` in a product
# source file must point to a folder its own folder may use:
#
#   common            -> common
#   lun-backends/**   -> common, lun-backends/**
#   target/iscsi      -> common
#   target/scsi       -> common, lun-backends (top-level headers only: the SCSI
#                        layer never names a backend kind)
#   target/model      -> common, lun-backends/**, target/iscsi, target/scsi
#   target/transport  -> common, target/iscsi, target/scsi, target/model
#   target/admin      -> common, lun-backends/**, target/scsi, target/model, target/transport
#   target/daemon     -> common, target/**
#   initiator         -> common
#   cluster-lock      -> common
#   console           -> common (the target only through its admin socket)
#   tools             -> anything below it
#
# A folder may always include its own headers, and `*_internal.h` may be
# included only from its own folder and the folders below it (tests excepted:
# they are not checked).
# Prints each violation as FILE: includes HEADER (rule); exit 1 if any.
#
# usage: tools/check-layers.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

allowed() {  # allowed FROM_DIR HEADER_DIR -> 0 if FROM may include HEADER_DIR
	local from=$1 to=$2
	[ "$from" = "$to" ] && return 0
	[ "$to" = common ] && return 0
	case $from in
	common) return 1 ;;
	lun-backends*) [[ $to == lun-backends* ]] ;;
	target/iscsi) return 1 ;;
	target/scsi) [ "$to" = lun-backends ] ;;
	target/model) [[ $to == lun-backends* || $to == target/iscsi || $to == target/scsi ]] ;;
	target/transport) [[ $to == target/iscsi || $to == target/scsi || $to == target/model ]] ;;
	target/admin) [[ $to == lun-backends* || $to == target/scsi || $to == target/model ||
		$to == target/transport ]] ;;
	target/daemon) [[ $to == target/* ]] ;;
	initiator | cluster-lock | console) return 1 ;;
	tools*) return 0 ;;
	*) return 1 ;;
	esac
}

bad=0
while IFS= read -r f; do
	from=$(dirname "$f")
	while IFS= read -r hdr; do
		to=$(dirname "$hdr")
		if ! allowed "$from" "$to"; then
			echo "$f: includes $hdr (layer rule: $from may not use $to)"
			bad=1
		elif [[ $hdr == *_internal.h && $from != "$to" && $from != "$to"/* ]]; then
			echo "$f: includes $hdr (an internal header of another folder)"
			bad=1
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\/[^"]*\)".*/\1/p' "$f")
done < <(git ls-files -- 'common/*.[ch]' 'lun-backends/*.[ch]' 'target/*.[ch]' \
	'initiator/*.[ch]' 'cluster-lock/*.[ch]' 'console/*.[ch]' 'tools/*.[ch]')
[ $bad -eq 0 ] && echo "check-layers: every include follows the layer rules"
exit $bad
