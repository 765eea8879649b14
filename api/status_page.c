/* status_page.c - being written. */
#include "handlers.h"
typedef int lga_status_unused;
