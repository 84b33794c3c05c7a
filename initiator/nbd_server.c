/* placeholder, replaced below */
#include "initiator/initiatord_internal.h"
int nbd_server_start(struct ini_daemon *d) { return 0; }
void nbd_server_lu_added(struct ini_daemon *d, struct ini_lu *lu) {}
void nbd_server_stop(struct ini_daemon *d) {}
