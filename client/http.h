/* http.h - the learngene client's HTTP side (being written). */
#ifndef LG_CLIENT_HTTP_H
#define LG_CLIENT_HTTP_H
#endif
