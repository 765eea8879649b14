/* log.h - learngened's logger: one line per event, as text
 *
 *     2026-11-25T17:09:39.123Z info event=listen addr=127.0.0.1:8080
 *
 * or as JSON
 *
 *     {"ts":"2026-11-25T17:09:39.123Z","level":"info","event":"listen","msg":"addr=127.0.0.1:8080"}
 *
 * When the output is journald's stream (JOURNAL_STREAM names it), the
 * timestamp is left to the journal and the line starts with the syslog
 * priority instead (sd-daemon(3)): "<6>info event=listen addr=…".
 *
 * Safe from any thread: each line is built in memory and written with one
 * fwrite and an fflush under a lock. The level is atomic, so a SIGHUP reload
 * can change it while others log.
 */
#ifndef LGD_LOG_H
#define LGD_LOG_H

#include <stdio.h>

typedef enum { LGD_LOG_ERROR, LGD_LOG_WARN, LGD_LOG_INFO, LGD_LOG_DEBUG } lgd_log_level;

/* "error", "warn", "info" or "debug" to a level. Returns 0, or -1. */
int lgd_log_level_parse(const char *s, lgd_log_level *out);

/* The name lgd_log_level_parse reads ("info"). */
const char *lgd_log_level_name(lgd_log_level level);

/* Where and how to log: events up to level, JSON when json is nonzero, to out
 * (NULL = stderr). May be called again at any time (reload). Until the first
 * call the logger writes info and above as text to stderr. */
void lgd_log_setup(lgd_log_level level, int json, FILE *out);

/* Changes only the level. */
void lgd_log_set_level(lgd_log_level level);

/* Nonzero when an event at level would be written (to skip costly details). */
int lgd_log_enabled(lgd_log_level level);

/* Logs one event: event is a short name ("listen", "job_done"); fmt and the
 * arguments give its details, by convention key=value pairs separated by
 * spaces; fmt may be NULL for none. Control characters in the details are
 * escaped, so an event is always one line. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void lgd_log(lgd_log_level level, const char *event, const char *fmt, ...);

#endif
