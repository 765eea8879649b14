/* daemon.h - what the daemon's files share (daemon/ may call api, storage
 * and core). */
#ifndef LGD_DAEMON_H
#define LGD_DAEMON_H

#include "api.h"
#include "config.h"
#include "log.h"
#include "store.h"

/* On an empty store: imports the bundled learngenes and pools from
 * c->data_dir and Fashion-MNIST from c->fmnist_dir. */
int lgd_seed(lgs_store *st, const lgd_config *c);

#endif
