#!/usr/sbin/dtrace -s
/*
 * phases.d - time in each processing phase of Apache's requests, in
 * microseconds, from mod_dtprovider's httpd:::request-phase probe, printed
 * at Ctrl-C. The D version of scripts/bpftrace/phases.bt.
 *
 * USAGE: dtrace -L /usr/local/lib/dtrace -s phases.d
 *
 * A phase begins at the probe with its number and ends at the request's next
 * request-phase; read (request line and headers) has no probe: the first
 * probe's elapsed_us (args[4]) is its length (docs/probes.md). Keys are
 * the phase's number and name.
 *
 * Not run by this project's tests (no DTrace on Linux); its probes and
 * argument indexes are checked against the provider.
 */

#pragma D option quiet

dtrace:::BEGIN
{
	printf("Tracing request phases (us)... Hit Ctrl-C to end.\n");
}

httpd*:::request-phase
/args[1] == 1 && ts[args[0]] == 0/
{
	@phase_us[0, "read"] = quantize(args[4]);
}

httpd*:::request-phase
/ts[args[0]] != 0/
{
	this->p = phase[args[0]];
	@phase_us[this->p, this->p == 1 ? "translate" : this->p == 2 ? "access" :
	    this->p == 3 ? "type" : this->p == 4 ? "handler" : "log"] =
	    quantize((timestamp - ts[args[0]]) / 1000);
}

httpd*:::request-phase
/args[1] != 6/
{
	ts[args[0]] = timestamp;
	phase[args[0]] = args[1];
}

httpd*:::request-phase
/args[1] == 6/
{
	ts[args[0]] = 0;
	phase[args[0]] = 0;
}

dtrace:::END
{
	printa("%d %s (us):%@d\n", @phase_us);
}
