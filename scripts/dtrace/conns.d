#!/usr/sbin/dtrace -s
/*
 * conns.d - one line per client connection Apache closed, from
 * mod_dtprovider's httpd:::conn-start and httpd:::conn-done probes. The D
 * version of scripts/bpftrace/conns.bt, same columns.
 *
 * USAGE: dtrace -L /usr/local/lib/dtrace -s conns.d
 *
 * Columns: TIME(s) since tracing began; REMOTE and LOCAL address:port;
 * REQS requests served on it; DUR(us) accepted to closed; IN and OUT bytes
 * read from and written to the network; END why it ended (client, timeout,
 * server, aborted, shutdown, unknown: conn-done's reason). Only connections
 * accepted while tracing are shown; HTTP/2's internal connections are not
 * client ones.
 *
 * Not run by this project's tests (no DTrace on Linux); its probes and
 * fields are checked against the provider and the translator.
 */

#pragma D option quiet
#pragma D option switchrate=10hz

dtrace:::BEGIN
{
	start = timestamp;
	printf("%9s %21s %21s %4s %10s %8s %8s %s\n", "TIME(s)", "REMOTE",
	    "LOCAL", "REQS", "DUR(us)", "IN", "OUT", "END");
}

httpd*:::conn-start
{
	remote[args[0]] = strjoin(index(args[1], ":") >= 0 ?
	    strjoin("[", strjoin(args[1], "]")) : args[1],
	    strjoin(":", lltostr(args[2])));
	local[args[0]] = strjoin(index(args[3], ":") >= 0 ?
	    strjoin("[", strjoin(args[3], "]")) : args[3],
	    strjoin(":", lltostr(args[4])));
}

httpd*:::conn-done
/remote[args[0]] != ""/
{
	this->ms = (timestamp - start) / 1000000;
	/* conn-done's reason (HTTPD_CONN_END_* in mod_dtprovider.h) */
	this->end = args[5] == 1 ? "client" : args[5] == 2 ? "timeout" :
	    args[5] == 3 ? "server" : args[5] == 4 ? "aborted" :
	    args[5] == 5 ? "shutdown" : "unknown";
	printf("%5d.%03d %21s %21s %4d %10d %8d %8d %s\n", this->ms / 1000,
	    this->ms % 1000, remote[args[0]], local[args[0]],
	    args[1], args[2], args[3], args[4], this->end);
	remote[args[0]] = 0;
	local[args[0]] = 0;
}
