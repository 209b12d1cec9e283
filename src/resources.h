/*
 * resources.h - the counters of `httpdtrace resources` (indexes into
 * charge_event.v).
 */
#ifndef RESOURCES_H
#define RESOURCES_H

#define RES_ONCPU_NS  0 /* on a CPU */
#define RES_OFFCPU_NS 1 /* switched out (blocked, or runnable and waiting) */
#define RES_SYSCALLS  2
#define RES_SOCK_READ 3 /* bytes read from sockets */
#define RES_SOCK_WRITE 4 /* bytes written to sockets */
#define RES_MINFLT    5 /* minor page faults */
#define RES_MAJFLT    6 /* major page faults */
#define RES_N         7

#endif /* RESOURCES_H */
