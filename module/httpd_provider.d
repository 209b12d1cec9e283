/*
 * httpd_provider.d - the httpd provider: the single definition of every probe
 * mod_dtprovider fires. `dtrace -h` makes the C header from it at build time
 * (systemtap-sdt-dev's dtrace on Linux, the system's dtrace elsewhere) and
 * `dtrace -G` the object that holds the is-enabled semaphores.
 *
 * Argument order is the public contract documented in docs/probes.md: ids
 * first, then the most used fields, then (request-done) the address of a
 * versioned struct httpd_request_info (module/mod_dtprovider.h). Every probe
 * keeps to 6 arguments so bpftrace 0.17 can read all of them on x86-64.
 * New probes may be added; existing arguments never move or change meaning;
 * a probe under 6 arguments may gain one at the end (conn-done's reason).
 *
 * The order of declaration is not part of the contract but it is used:
 * dtrace -G lays the is-enabled semaphores out in this order, and the
 * module tests request-start..internal-redirect with one load, and
 * request-done..conn-done with another (module/check-probes.sh fails the
 * build if the layout differs). Add new probes after conn__start.
 */

struct httpd_request_info;
struct httpd_request_pools;

/*
 * DTrace only: after the ':' of a probe come the argument types D scripts
 * see (args[N]): strings are copied in, and the info struct becomes an
 * httpd_reqinfo_t * through the translator in module/httpd.d (installed in
 * lib/dtrace). The type below is a placeholder for building; the real one is
 * the translator's. systemtap's dtrace ignores the translated types.
 */
typedef struct httpd_reqinfo { int dummy; } httpd_reqinfo_t;

provider httpd {
    /* A client request whose headers have been read (not internal
     * redirects, not subrequests). */
    probe request__start(uint64_t id, uint64_t conn_id, char *method,
        char *uri, char *client_ip, char *vhost) :
        (uint64_t id, uint64_t conn_id, string method, string uri,
        string client_ip, string vhost);

    /* One per access-log line. */
    probe request__done(uint64_t id, int status, uint64_t latency_us,
        char *method, char *uri, struct httpd_request_info *info) :
        (uint64_t id, int status, uint64_t latency_us, string method,
        string uri, httpd_reqinfo_t *info);

    /* A phase of a client request begins, and the one before it ends:
     * translate, access, type, handler, log, end (phase numbers in
     * mod_dtprovider.h). uri is the uri being processed (after an internal
     * redirect, the new one; at log and end, the client's). elapsed_us:
     * microseconds since the request line was read, so the first phase's
     * elapsed_us is how long reading the request took. pools: the address
     * of the request's struct httpd_request_pools (mod_dtprovider.h; D
     * scripts copy it in, as module/httpd.d declares it). */
    probe request__phase(uint64_t id, int phase, char *name, char *uri,
        uint64_t elapsed_us, struct httpd_request_pools *pools) :
        (uint64_t id, int phase, string name, string uri,
        uint64_t elapsed_us, uintptr_t pools);

    /* A request continues on another uri: kind 0, a new internal request
     * (ErrorDocument, per-directory rewrite, ...) whose phases start again
     * at translate; kind 1, a subrequest's result adopted in place
     * (DirectoryIndex, MultiViews). status: the status being answered. */
    probe internal__redirect(uint64_t id, char *old_uri, char *new_uri,
        int status, int kind) :
        (uint64_t id, string old_uri, string new_uri, int status, int kind);

    /* A client connection closed; reason: why (HTTPD_CONN_END_* in
     * mod_dtprovider.h). */
    probe conn__done(uint64_t conn_id, uint32_t requests, uint64_t duration_us,
        uint64_t bytes_in, uint64_t bytes_out, int reason);

    /* A client connection accepted (not HTTP/2's internal connections). */
    probe conn__start(uint64_t conn_id, char *peer_ip, int peer_port,
        char *local_ip, int local_port) :
        (uint64_t conn_id, string peer_ip, int peer_port, string local_ip,
        int local_port);
};

#pragma D attributes Evolving/Evolving/ISA provider httpd provider
#pragma D attributes Private/Private/Unknown provider httpd module
#pragma D attributes Private/Private/Unknown provider httpd function
#pragma D attributes Evolving/Evolving/ISA provider httpd name
#pragma D attributes Evolving/Evolving/ISA provider httpd args
