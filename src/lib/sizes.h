/*
 * sizes.h - the size of every string httpdtrace copies out of Apache, one
 * place for the BPF programs that copy them and the user space that prints
 * them. A size counts the NUL: a longer string is cut to size - 1 bytes.
 */
#ifndef SIZES_H
#define SIZES_H

#define STR_METHOD 16   /* method, protocol; -M */
#define STR_NAME 64     /* vhost, handler; latency's -K key; -H; -u SUBSTR in BPF */
#define STR_IP 48       /* an address as text (IPv6 fits) */
#define STR_URI 256     /* uri, query */
#define STR_UA 192      /* user agent */
#define STR_TRACE_ID 33 /* W3C trace-id: 32 hex digits */
#define STR_PARENT_ID 17 /* W3C parent-id: 16 hex digits */

/* top keeps one hash map entry per distinct (uri, client, vhost, handler,
 * method, status): shorter keys keep that table small. */
#define STR_TOP_URI 128
#define STR_TOP_HANDLER 32

#endif /* SIZES_H */
