/* SPDX-License-Identifier: Apache-2.0 */
/* kura-mpathpersist: mpathpersist(8)'s command line for the LUs that
 * kura-initiatord presents. The LU is named by WWID, alias or device path
 * (FUSE file, NBD socket, or a link to either); every PERSISTENT RESERVE
 * command goes out through the daemon's own sessions (control verb PR,
 * ctl_proto.h), on every path of the LU or on one, as mpathpersist does
 * through dm-multipath's paths.
 *
 *   mpathpersist.c        options, the in/out flow, exit codes (main entry)
 *   mpathpersist_lu.c     finding the LU and its paths, sending PR to the daemon
 *   mpathpersist_print.c  PR IN data printed in mpathpersist's layout
 *
 * Exit codes are libmpathpersist's MPATH_PR_* values below.
 * Not for: the daemon's side (initiatord_pr.c).
 */
#ifndef KURA_MPATHPERSIST_H
#define KURA_MPATHPERSIST_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	MPATH_PR_SUCCESS = 0,
	MPATH_PR_SYNTAX_ERROR = 1,
	MPATH_PR_SENSE_NOT_READY = 2,
	MPATH_PR_SENSE_MEDIUM_ERROR = 3,
	MPATH_PR_SENSE_HARDWARE_ERROR = 4,
	MPATH_PR_ILLEGAL_REQ = 5,
	MPATH_PR_SENSE_UNIT_ATTENTION = 6,
	MPATH_PR_SENSE_INVALID_OP = 7,
	MPATH_PR_SENSE_ABORTED_COMMAND = 8,
	MPATH_PR_NO_SENSE = 9,
	MPATH_PR_SENSE_MALFORMED = 10,
	MPATH_PR_RESERV_CONFLICT = 11,
	MPATH_PR_FILE_ERROR = 12,
	MPATH_PR_DMMP_ERROR = 13,
	MPATH_PR_THREAD_ERROR = 14,
	MPATH_PR_OTHER = 15,
};

#define MPP_MAX_PATHS 8
#define MPP_MAX_PARAM 8192

struct mpp_path {
	int sid;
	char address[64];
	int port;
	char state[16];
	int active;
};

struct mpp_lu {
	char wwid[64];
	char alias[300];
	struct mpp_path paths[MPP_MAX_PATHS];
	int n_paths;
};

/* One path's answer to a PR command. status: SCSI status, -1 transport
 * error, -2 no answer in time. */
struct mpp_res {
	int sid;
	char address[64];
	int port;
	int status;
	int key, asc, ascq;
	uint8_t data[MPP_MAX_PARAM];
	size_t len;
	char error[96];
};

/* mpathpersist.c */
int mpp_main(int argc, char **argv, FILE *out, FILE *err);

/* mpathpersist_lu.c. Both return MPATH_PR_SUCCESS or an MPATH_PR_* code
 * after a message on err. */
int mpp_resolve(const char *sock, const char *dev, struct mpp_lu *lu, FILE *err);
/* which: "all", "any" or a path's sid; res holds up to max answers. */
int mpp_send(const char *sock, const struct mpp_lu *lu, const char *which, const uint8_t cdb[10],
	     const uint8_t *param, size_t plen, struct mpp_res *res, int max, int *n, FILE *err);
/* A path's answer as an MPATH_PR_* code (libmpathpersist's translation). */
int mpp_code(const struct mpp_res *r);

/* mpathpersist_print.c: data is the PR IN Data-In, len its length. */
void mpp_print_keys(FILE *out, const uint8_t *data, size_t len);
void mpp_print_resv(FILE *out, const uint8_t *data, size_t len);
void mpp_print_caps(FILE *out, FILE *err, const uint8_t *data, size_t len);
void mpp_print_full(FILE *out, const uint8_t *data, size_t len);
void mpp_print_hex(FILE *out, const uint8_t *data, size_t len);
#endif
