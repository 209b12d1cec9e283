#!/usr/sbin/dtrace -s
/*
 * requests.d - one line per request Apache finished (each access-log
 * line), from mod_dtprovider's httpd:::request-done probe. The D version of
 * scripts/bpftrace/requests.bt, same columns.
 *
 * USAGE: dtrace -L /usr/local/lib/dtrace -s requests.d
 *    (-L: where `make install` put the translator httpd.d, unless it is in
 *    /usr/lib/dtrace)
 *
 * Columns: TIME(s) since tracing began; LAT(us) latency as %D logs it; STS
 * final status as %>s logs it; LOCAL and REMOTE address:port of the
 * connection; METHOD and URI as the client sent them, printed with %S so a
 * control or non-printable byte shows as a C escape (\033, \377) and cannot
 * drive the terminal (D has no \xNN form).
 *
 * Not run by this project's tests (no DTrace on Linux); its probes and
 * fields are checked against the provider and the translator.
 */

#pragma D option quiet
#pragma D option switchrate=10hz

dtrace:::BEGIN
{
	start = timestamp;
	printf("%9s %9s %3s %21s %21s %-6s %s\n", "TIME(s)", "LAT(us)", "STS",
	    "LOCAL", "REMOTE", "METHOD", "URI");
}

httpd*:::request-done
{
	this->ms = (timestamp - start) / 1000000;
	printf("%5d.%03d %9d %3d %21s %21s %-6S %S\n", this->ms / 1000,
	    this->ms % 1000, args[2], args[1], args[5]->hri_local,
	    args[5]->hri_remote, args[3], args[4]);
}
