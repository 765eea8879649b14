/* http.c - being written. */
#include "http.h"
typedef int lg_http_unused;
