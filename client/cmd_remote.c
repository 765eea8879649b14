/* cmd_remote.c - being written. */
#include "cli.h"
typedef int lg_remote_unused;
