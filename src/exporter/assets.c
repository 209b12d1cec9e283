/*
 * assets.c - the dashboard's files, built into httpdtrace so the
 * page needs nothing at view time: web/ (the page, its script and style)
 * and Chart.js (Debian's libjs-chart.js; DASH_CHART_JS names the file).
 * Each is a NUL-terminated byte array, name[] to name_end[].
 */
#ifndef DASH_WEB_DIR
#define DASH_WEB_DIR "src/exporter/web"
#endif
#ifndef DASH_CHART_JS
#define DASH_CHART_JS "/usr/share/javascript/chart.js/chart.min.js"
#endif

#define DASH_ASSET(name, file)                                                 \
	__asm__(".section .rodata\n"                                           \
		".balign 16\n"                                                 \
		".globl " #name "\n" #name ":\n"                               \
		".incbin \"" file "\"\n"                                       \
		".globl " #name "_end\n" #name "_end:\n"                       \
		".byte 0\n"                                                    \
		".previous\n")

DASH_ASSET(dash_index_html, DASH_WEB_DIR "/index.html");
DASH_ASSET(dash_app_js, DASH_WEB_DIR "/dashboard.mjs");
DASH_ASSET(dash_core_js, DASH_WEB_DIR "/dash_core.mjs");
DASH_ASSET(dash_css, DASH_WEB_DIR "/dashboard.css");
DASH_ASSET(dash_chart_js, DASH_CHART_JS);
