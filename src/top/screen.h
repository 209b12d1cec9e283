/*
 * screen.h - `httpdtrace top`'s full screen (ncurses): the report's
 * lines placed on the terminal, a selectable table, the in-flight list, the
 * help, the filter prompt, and the keys that change what the view shows.
 */
#ifndef TOP_SCREEN_H
#define TOP_SCREEN_H

#include <stdbool.h>
#include "report.h"
#include "table.h"
#include "view.h"

struct top_screen {
	bool on;        /* between top_screen_open() and top_screen_close() */
	bool paused;    /* space: no refresh (counting goes on) */
	bool in_flight; /* i: the in-flight list instead of the table */
	bool help;      /* h, ?: the keys */
	bool prompt;    /* f: a filter is being typed into input */
	bool quit;      /* q */
	int selected;   /* the selected row */
	int first;      /* the first row shown */
	char input[TOP_FILTER_LEN];
	char message[160]; /* one line instead of the key hints (a bad regex...) */
};

/* Take the terminal. getch() then waits TRACE_POLL_MS at most: it is the
 * loop's sleep. */
void top_screen_open(struct top_screen *s);

/* Give the terminal back (nothing if not open). */
void top_screen_close(struct top_screen *s);

/* Wait up to TRACE_POLL_MS for a key and act on it: quit, pause, help,
 * in-flight list, selection, and on v: group, sort, filter, drill-down.
 * Returns true when the screen should be redrawn (and the rows rebuilt). */
bool top_screen_input(struct top_screen *s, struct top_view *v);

/* Draw the help, or the title, status, windows, counters and then the
 * in-flight list or the table (a drilled uri's statuses below its clients),
 * and the bottom line: the prompt, a message, or the key hints. */
void top_screen_draw(struct top_screen *s, const struct top_table *t, const struct top_view *v,
		     const struct top_frame *f);

#endif /* TOP_SCREEN_H */
