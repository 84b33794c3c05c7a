#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The table of configuration error messages in docs/configuration.md
# ("Error messages"), run row by row (issue 11 item 8): each row's input is
# written to a file (or, for <DIR>, a directory is given), `kura-targetd
# --check-config -c FILE` must exit 2 and print FILE:LINE: MESSAGE exactly as
# the row says. The table is the test's data, so a message changed in the
# code without the docs (or the reverse) fails here.
source "$(dirname "$0")/lib.sh"
it_init config_errors
need_cmd python3
DOC=$KURA_SRC/docs/configuration.md
[ -f "$DOC" ] || skip "$DOC missing"

# The table lists the kinds of a full build (scripts/install-deps.sh installs
# librbd); a build without librbd names one kind less.
RBD=1
grep -q '^KURA_HAVE_RBD:INTERNAL=OFF' "$KURA_BUILD/CMakeCache.txt" 2>/dev/null && RBD=0
python3 - "$KURA_TARGETD" "$DOC" "$IT_DIR" "$RBD" <<'PY'
import os, re, subprocess, sys, tempfile
K, doc, top, rbd = sys.argv[1:5]
text = open(doc, encoding='utf-8').read()
m = re.search(r'<!-- config-errors:begin -->(.*?)<!-- config-errors:end -->', text, re.S)
if not m:
    sys.exit('no config-errors table in ' + doc)
rows, fails = [], []
for line in m.group(1).splitlines():
    cells = [c.strip() for c in line.strip().strip('|').split(' | ')]
    if len(cells) != 3 or not cells[0].startswith('`'):
        continue
    rows.append((cells[0].strip('`'), cells[1], cells[2].strip('`')))
for i, (inp, ln, msg) in enumerate(rows):
    if rbd == '0':
        msg = msg.replace(', raid or rbd', ' or raid')
    tmp = tempfile.mkdtemp(prefix='row%02d.' % i, dir=top)
    os.mkdir(tmp + '/data')
    if inp == '<DIR>':
        path = tmp
    else:
        body = (inp.replace('$DIR', tmp).replace('<NUL>', '\0').replace('<LONG>', 'x' * 5000))
        path = tmp + '/kura.conf'
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(body.split(' ⏎ ')) + '\n')
    want = path + ': ' + msg.replace('$DIR', tmp) if ln == '-' else \
           '%s:%s: %s' % (path, ln, msg.replace('$DIR', tmp))
    p = subprocess.run([K, '--check-config', '--data-dir', tmp + '/data', '-c', path],
                       capture_output=True, text=True, errors='replace')
    ok = p.returncode == 2 and want in p.stderr
    print('%-4s %s' % ('ok' if ok else 'FAIL', msg if ok else
          '%s\n     want: %s\n     got (exit %d): %s' % (inp, want, p.returncode, p.stderr.strip())))
    if not ok:
        fails.append(msg)
print('%d rows, %d failed' % (len(rows), len(fails)))
sys.exit(1 if fails or len(rows) < 40 else 0)
PY
check "every row of the error table gives its message at its line" test $? -eq 0
it_finish
