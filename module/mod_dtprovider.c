/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * mod_dtprovider.c: static probes for Apache httpd.
 *
 * The module fires the httpd provider's probes (module/httpd_provider.d) for
 * every client connection and request: USDT on Linux, DTrace elsewhere. It
 * changes nothing Apache does: every hook returns DECLINED/OK and never fails
 * a request.
 *
 * Cost when nobody traces: each hook tests the probe's is-enabled semaphore
 * and returns. The semaphore lives in the file-backed `.probes` section; the
 * kernel (or DTrace) raises it while a tracer is attached. Everything else
 * (ids, clocks, state, filters) happens in the cold, non-inlined *_traced()
 * functions, reached only while some probe is enabled.
 *
 * This file is the module: its record, its hooks' registration and its
 * directive. The probes are fired by one file per family under probes/
 * (requests, connections, phases, pools); ids.c hands out the request and
 * connection ids; dtp_private.h is what they share. module/README.md is
 * the map.
 */
#include "dtp_private.h"

/* post_config (RUN_ALL), in the parent: the shared id counters (ids.c),
 * and the version in the error log. */
static int dtp_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf; (void)plog; (void)ptemp;
    dtp_ids_init(s);
    /* once a start or restart, not in the first of the two configuration
     * passes: the version httpdtrace --version says too */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "mod_dtprovider %s: httpd provider probes ready",
                     DTP_VERSION);
    }
    return OK;
}


/* Apache calls every registered hook on every request, so a hook costs its
 * dispatch (about 10 instructions) even when its body is one semaphore
 * test. The access, type and handler hooks serve only the phase probes (and
 * internal-redirect's kind 1), so they are registered only where the
 * configuration asks for them. */
static int dtp_phases_registered;

/* Apache drops every hook when it re-reads the configuration (restart), and
 * clears the configuration pool then: forget the registration with it, in
 * case the module stays mapped across the restart. */
static apr_status_t dtp_phases_forget(void *data)
{
    (void)data;
    dtp_phases_registered = 0;
    return APR_SUCCESS;
}

/* DTraceProviderPhases On|Off (server config, Off by default). Runs while the
 * configuration is read (EXEC_ON_READ, like LoadModule), before Apache sorts
 * the hooks, so hooks registered here take their place as if registered at
 * load. A graceful restart reloads the module and reads it again. Hooks are
 * server-wide, and so is the directive: like LoadModule's, its context check
 * cannot see sections at read time (cmd->directive is not set yet). */
static const char *dtp_cmd_phases(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err != NULL) {
        return err;
    }
    if (on && !dtp_phases_registered) {
        ap_hook_access_checker(dtp_access_checker, NULL, NULL,
                               DTP_HOOK_FIRST);
        ap_hook_type_checker(dtp_type_checker, NULL, NULL, DTP_HOOK_FIRST);
        ap_hook_handler(dtp_handler, NULL, NULL, DTP_HOOK_FIRST);
        dtp_phases_registered = 1;
        apr_pool_cleanup_register(cmd->pool, NULL, dtp_phases_forget,
                                  apr_pool_cleanup_null);
    }
    return NULL;
}

static const command_rec dtp_cmds[] = {
    AP_INIT_FLAG("DTraceProviderPhases", dtp_cmd_phases, NULL,
                 RSRC_CONF | EXEC_ON_READ,
                 "On: fire request-phase for the access, type and handler "
                 "phases too (three more hooks on every request)"),
    {NULL}
};

static void dtp_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(dtp_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(dtp_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_connection(dtp_pre_connection, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_pre_close_connection(dtp_pre_close_connection, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    ap_hook_post_read_request(dtp_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_LAST);
    ap_hook_log_transaction(dtp_log_transaction, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
    dtp_in_filter_handle = ap_register_input_filter("DTPROVIDER_IN",
        dtp_in_filter, NULL, AP_FTYPE_NETWORK - 1);
    dtp_out_filter_handle = ap_register_output_filter("DTPROVIDER_OUT",
        dtp_out_filter, NULL, AP_FTYPE_NETWORK - 1);
}

AP_DECLARE_MODULE(dtprovider) = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* per-directory config creator */
    NULL,                       /* dir config merger */
    NULL,                       /* server config creator */
    NULL,                       /* server config merger */
    dtp_cmds,                   /* command table */
    dtp_register_hooks,         /* set up other request processing hooks */
    AP_MODULE_FLAG_NONE
};
