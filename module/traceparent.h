/*
 * traceparent.h - the W3C Trace Context `traceparent` header, read the way
 * the recommendation (Trace Context Level 1, section 3.2) says a server reads
 * it: a pure function, no APR, unit-tested in tests/unit/test_traceparent.c.
 */
#ifndef DTP_TRACEPARENT_H
#define DTP_TRACEPARENT_H

#define DTP_TRACE_ID_LEN  32 /* lowercase hex digits of a trace-id */
#define DTP_PARENT_ID_LEN 16 /* lowercase hex digits of a parent-id */

/*
 * Parse a traceparent header value `version-traceid-parentid-flags`. On
 * success returns 1 and copies the trace-id and parent-id, NUL-terminated,
 * into trace_id and parent_id. Otherwise (NULL, malformed, uppercase hex,
 * version ff, an all-zero id, version 00 with anything after the flags,
 * a later version whose extra part does not start with '-') returns 0 and
 * leaves both empty strings.
 */
int dtp_traceparent(const char *value, char trace_id[DTP_TRACE_ID_LEN + 1],
                    char parent_id[DTP_PARENT_ID_LEN + 1]);

#endif /* DTP_TRACEPARENT_H */
