#!/usr/sbin/dtrace -s
/*
 * latency.d - power-of-two histogram of request latency in
 * microseconds, from mod_dtprovider's httpd:::request-done probe, printed at
 * Ctrl-C. The D version of scripts/bpftrace/latency.bt.
 *
 * USAGE: dtrace -L /usr/local/lib/dtrace -s latency.d [status]
 *    with `status`: one histogram per final status (%>s)
 *
 * Not run by this project's tests (no DTrace on Linux); its probes and
 * fields are checked against the provider and the translator.
 */

#pragma D option quiet
#pragma D option defaultargs

dtrace:::BEGIN
{
	printf("Tracing request latency (us)... Hit Ctrl-C to end.\n");
}

httpd*:::request-done
/$$1 == "status"/
{
	@latency_us_by_status[args[1]] = quantize(args[2]);
	@requests = count();
}

httpd*:::request-done
/$$1 != "status"/
{
	@latency_us = quantize(args[2]);
	@requests = count();
}

dtrace:::END
{
	printa("latency (us), status %d:%@d\n", @latency_us_by_status);
	printa("latency (us):%@d\n", @latency_us);
	printa("requests: %@d\n", @requests);
	/* Printed: empty them so dtrace does not print them again at exit. */
	trunc(@latency_us_by_status);
	trunc(@latency_us);
	trunc(@requests);
}
