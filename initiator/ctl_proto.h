/* SPDX-License-Identifier: Apache-2.0 */
/* The control protocol between kura-iscsiadm (and other tools) and
 * kura-initiatord, over a Unix stream socket (default
 * /run/kura/initiatord.sock, mode 0600, owner checked with SO_PEERCRED:
 * only root or the daemon's own uid may connect).
 *
 * One request per line: a verb and space-separated arguments, each
 * percent-encoded (RFC 3986 unreserved characters stay as they are).
 * The reply is zero or more data lines, each starting "D " followed by a
 * percent-encoded payload, then one final line:
 *     "OK"                    success
 *     "ERR <code> <message>"  failure; <code> is iscsiadm's exit code
 *                             (e.g. 15 session exists, 21 no records, 24
 *                             authorization failure, 8 connection timeout...)
 *
 * Verbs:
 *   LOGIN <root> <target> <address> <port> <tpgt> <iface>
 *        log in using the node record found under <root> (CHAP from it);
 *        replies OK once the first path is logged in (or ERR).
 *   LOGOUT <target> <address> <port>       log out that path
 *   SESSIONS                               D lines: one key=value list per
 *        path: sid=N target=IQN address=IP port=P tpgt=T iface=NAME
 *        state=up|down|... isid=HEX lu=<naa hex> device=<path> group=<id>
 *        (kura-initiatord also sends lun=<N,...> alua=<state> active=yes|no
 *        admin=ok|failed;
 *        state is wait|connecting|probing|up|failed; lu/device are comma
 *        lists when a session carries several LUNs; clients ignore unknown keys)
 *   SESSION <sid>                          D lines: key=value details for -P 3
 *        (incl. local_address= and the negotiated header_digest= data_digest=
 *        max_recv_dsl= max_xmit_dsl= first_burst= max_burst= immediate_data=
 *        initial_r2t= max_outstanding_r2t=; "-" = unknown)
 *   RESCAN <sid>|all
 *   FAIL-QUEUE <lu>|all                    fail queued I/O now (EIO)
 *   STATUS                                 D lines: daemon-wide key=value
 *   MAPS                                   D lines for kura-multipath: per
 *        presented LU "kind=map wwid= alias= size= block_size= device= vendor=
 *        product= alua=yes|no policy= queue=queue|fail queued= no_path_retry_s="
 *        then per path of it "kind=path wwid= sid= lun= target= address= port=
 *        tpgt= state= admin=ok|failed alua= prio= group= active=yes|no isid="
 *   PATH-FAIL <sid>                        the path carries no I/O until
 *        PATH-REINSTATE <sid>, whatever its health (ERR 21 no such path)
 *   PR <lu> <sid>|all|any <cdb-hex> [<param-hex>]
 *        send one PERSISTENT RESERVE IN (5e) or OUT (5f) CDB (10 bytes, hex;
 *        no other opcode) to the LU named by WWID or alias, on path <sid>, on
 *        every path of the LU that is up ("all", each on its own I_T nexus,
 *        in parallel) or on one path ("any": the one carrying I/O if up, else
 *        the first up). <param-hex> is the PR OUT parameter list; its length
 *        must equal the CDB's; PR IN allocation length at most 8192. UNIT
 *        ATTENTION is retried on the same path (5 tries); nothing moves to
 *        another path. Replies, per path asked:
 *            D sid=N address=IP port=P status=0xSS|transport|timeout
 *              sense=K/ASC/ASCQ|- len=<Data-In bytes> error=<text>|-
 *            D data=<hex>            Data-In, 512 bytes per line, in order
 *        then OK (whatever the SCSI statuses); ERR 21 no such LU / no such
 *        path up, ERR 7 bad arguments. (kura-mpathpersist)
 */
#ifndef KURA_CTL_PROTO_H
#define KURA_CTL_PROTO_H
#define KURA_INITIATORD_SOCK "/run/kura/initiatord.sock"
#endif
