/*
 * traceparent.c - reading a W3C traceparent header (see traceparent.h).
 *
 * version "-" trace-id "-" parent-id "-" trace-flags: 2, 32, 16 and 2
 * lowercase hex digits, 55 characters. Version ff is invalid; version 00 is
 * exactly 55 characters; a later version may carry more after a '-', which
 * is ignored (the recommendation's forward compatibility). A trace-id or
 * parent-id of all zeros is invalid. Apache joins repeated headers with
 * ", ", which makes the value invalid, as the recommendation wants.
 */
#include <string.h>

#include "traceparent.h"

#define TP_LEN 55

static int lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* n lowercase hex digits at s; *nonzero set when one of them is not '0'. */
static int hex_run(const char *s, int n, int *nonzero)
{
    int i;

    *nonzero = 0;
    for (i = 0; i < n; i++) {
        if (!lower_hex(s[i])) {
            return 0;
        }
        *nonzero |= s[i] != '0';
    }
    return 1;
}

int dtp_traceparent(const char *value, char trace_id[DTP_TRACE_ID_LEN + 1],
                    char parent_id[DTP_PARENT_ID_LEN + 1])
{
    const char *trace, *parent, *flags;
    size_t len;
    int nz;

    trace_id[0] = parent_id[0] = '\0';
    if (value == NULL) {
        return 0;
    }
    len = strnlen(value, TP_LEN + 1);
    if (len < TP_LEN || value[2] != '-' || value[35] != '-' || value[52] != '-') {
        return 0;
    }
    if (!hex_run(value, 2, &nz) || (value[0] == 'f' && value[1] == 'f')) {
        return 0;
    }
    if (len > TP_LEN && (!nz || value[TP_LEN] != '-')) {
        return 0;               /* 00 is exactly 55; later ones go on with '-' */
    }
    trace = value + 3;
    parent = value + 36;
    flags = value + 53;
    if (!hex_run(trace, DTP_TRACE_ID_LEN, &nz) || !nz
        || !hex_run(parent, DTP_PARENT_ID_LEN, &nz) || !nz
        || !hex_run(flags, 2, &nz)) {
        return 0;
    }
    memcpy(trace_id, trace, DTP_TRACE_ID_LEN);
    trace_id[DTP_TRACE_ID_LEN] = '\0';
    memcpy(parent_id, parent, DTP_PARENT_ID_LEN);
    parent_id[DTP_PARENT_ID_LEN] = '\0';
    return 1;
}
