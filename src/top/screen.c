/*
 * screen.c - `httpdtrace top`'s full screen (screen.h). Every line
 * but the key hints and the help comes from report.c, as -b prints it;
 * this file places them, highlights the selected row, and turns keys into
 * changes of the view (view.c) or of the screen itself.
 */
#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include "screen.h"
#include "lib/trace.h"

/* n r b a p e k: the keys of TOP_SORT_REQUESTS ... TOP_SORT_KEY. */
static const char sort_keys[TOP_SORTS] = { 'n', 'r', 'b', 'a', 'p', 'e', 'k' };

static const char *const help_text[] = {
	"httpdtrace top - keys",
	"",
	"  g          group rows by the next field: uri client vhost status method handler",
	"  n r b a p e k   sort by requests, req/s, bytes/s, average, p95, 5xx, key",
	"  f          filter: a regex on the uri (empty clears it)",
	"  Up Down PgUp PgDn   select a row",
	"  Enter      drill down: a uri's clients and statuses, a client's uris...",
	"  Backspace  back up from a drill-down (also Left)",
	"  i          requests in flight, oldest first (again: back to the table)",
	"  space      pause the screen (counting goes on)",
	"  h ?        this help",
	"  q          quit",
	"",
	"Counts are since start; REQ/S and BYTES/S over the last refresh; AVG and P95",
	"since start. The second window is the last -T seconds or -H requests.",
	"Percentiles are log2 estimates: the upper edge of their slot.",
	"",
	"Any key returns.",
};

void top_screen_open(struct top_screen *s)
{
	setlocale(LC_ALL, "");
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(TRACE_POLL_MS); /* getch() is the loop's sleep */
	s->on = true;
}

void top_screen_close(struct top_screen *s)
{
	if (!s->on)
		return;
	endwin();
	s->on = false;
}

/* ---------------------------------------------------------------------------
 * Drawing
 * ------------------------------------------------------------------------- */

/* Line y of the terminal (if there is one) reads s, cut to the width, with
 * attributes attr; a reversed line is highlighted to the right edge. */
static void draw_line(int y, const char *s, int attr)
{
	if (y >= LINES)
		return;
	attron(attr);
	mvaddnstr(y, 0, s, COLS);
	if (attr & A_REVERSE)
		for (int x = (int)strlen(s); x < COLS; x++)
			mvaddch(y, x, ' ');
	attroff(attr);
}

/* Rows on lines y to bottom - 1. A selectable table scrolls to keep the
 * selected row (clamped to the last) in sight and highlights it. */
static void draw_rows(struct top_screen *s, int y, int bottom, const struct top_row *rows,
		      size_t n, bool selectable, double seconds)
{
	char b[TOP_LINE_LEN];

	if (selectable) {
		if (s->selected >= (int)n)
			s->selected = n ? (int)n - 1 : 0;
		if (s->selected < s->first)
			s->first = s->selected;
		if (s->selected >= s->first + (bottom - y))
			s->first = s->selected - (bottom - y) + 1;
	}
	for (size_t i = selectable ? (size_t)s->first : 0; i < n && y < bottom; i++, y++) {
		top_report_row(b, sizeof(b), &rows[i], seconds);
		draw_line(y, b, selectable && (int)i == s->selected ? A_REVERSE : 0);
	}
}

/* From line y: the requests in flight, oldest first. */
static void draw_in_flight(int y, int bottom, const struct top_table *t,
			   const struct top_frame *f)
{
	char b[TOP_LINE_LEN];

	snprintf(b, sizeof(b), "IN FLIGHT: %zu, oldest first (i: back to the table)", t->nin_flight);
	draw_line(++y, b, A_BOLD);
	draw_line(++y, top_report_flight_head, A_REVERSE);
	y++;
	for (size_t i = 0; i < t->nin_flight && y < bottom; i++, y++) {
		top_report_flight(b, sizeof(b), &t->in_flight[i], f->now_ns);
		draw_line(y, b, 0);
	}
}

/* From line y: the drill-down levels, then the table (split in two when a
 * drilled uri's statuses go below its clients). */
static void draw_table(struct top_screen *s, int y, int bottom, const struct top_table *t,
		       const struct top_view *v)
{
	char b[TOP_LINE_LEN];
	double seconds = top_table_interval_s(t);

	if (v->nscopes) {
		top_report_scope(b, sizeof(b), v);
		draw_line(y, b, A_BOLD);
	}
	y++;
	top_report_row_head(b, sizeof(b), v->group);
	draw_line(y++, b, A_REVERSE);
	if (v->nstatus_rows) {
		int mid = y + (bottom - y) / 2;

		draw_rows(s, y, mid, v->rows, v->nrows, true, seconds);
		top_report_row_head(b, sizeof(b), TOP_GROUP_STATUS);
		draw_line(mid, b, A_REVERSE);
		draw_rows(s, mid + 1, bottom, v->status_rows, v->nstatus_rows, false, seconds);
	} else {
		draw_rows(s, y, bottom, v->rows, v->nrows, true, seconds);
	}
}

void top_screen_draw(struct top_screen *s, const struct top_table *t, const struct top_view *v,
		     const struct top_frame *f)
{
	char b[TOP_LINE_LEN];
	int y = 0, bottom = LINES - 1;

	erase();
	if (s->help) {
		for (size_t i = 0; i < sizeof(help_text) / sizeof(help_text[0]); i++)
			draw_line(y++, help_text[i], i ? 0 : A_BOLD);
		refresh();
		return;
	}
	top_report_title(b, sizeof(b), t, v, f, s->paused);
	draw_line(y++, b, A_BOLD);
	top_report_status(b, sizeof(b), t);
	draw_line(y++, b, 0);
	draw_line(y++, top_report_window_head, A_BOLD);
	top_report_window(b, sizeof(b), &f->windows[0]);
	draw_line(y++, b, 0);
	top_report_window(b, sizeof(b), &f->windows[1]);
	draw_line(y++, b, 0);
	top_report_counters(b, sizeof(b), t, f);
	draw_line(y++, b, 0);
	if (s->in_flight)
		draw_in_flight(y, bottom, t, f);
	else
		draw_table(s, y, bottom, t, v);
	if (s->prompt)
		snprintf(b, sizeof(b), "filter (regex on the uri, empty clears): %s", s->input);
	else if (s->message[0])
		snprintf(b, sizeof(b), "%s", s->message);
	else
		snprintf(b, sizeof(b), "h help  q quit  g group  n/r/b/a/p/e/k sort  f filter  "
			 "Enter drill  i in flight  space pause");
	draw_line(LINES - 1, b, s->prompt ? A_BOLD : A_DIM);
	if (s->prompt) {
		curs_set(1);
		move(LINES - 1, (int)strlen(b) < COLS ? (int)strlen(b) : COLS - 1);
	} else {
		curs_set(0);
	}
	refresh();
}

/* ---------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------- */

/* A key while the filter is typed: Enter applies it (a bad regex leaves the
 * old filter and says why), Esc drops it, Backspace erases. */
static void prompt_key(struct top_screen *s, struct top_view *v, int ch)
{
	size_t n = strlen(s->input);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		s->prompt = false;
		if (!top_view_set_filter(v, s->input, s->message, sizeof(s->message)))
			s->selected = s->first = 0;
	} else if (ch == 27) { /* Esc */
		s->prompt = false;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (n)
			s->input[n - 1] = 0;
	} else if (ch >= 0x20 && ch < 0x7f && n + 1 < sizeof(s->input)) {
		s->input[n] = (char)ch;
		s->input[n + 1] = 0;
	}
}

/* One key. Returns true if the screen should be redrawn. */
static bool screen_key(struct top_screen *s, struct top_view *v, int ch)
{
	const char *k;
	int selected;

	if (ch == KEY_RESIZE)
		return true;
	if (s->prompt) {
		prompt_key(s, v, ch);
		return true;
	}
	s->message[0] = 0;
	if (s->help) {
		s->help = false;
		return true;
	}
	if (ch > 0 && ch < 0x80 && (k = memchr(sort_keys, ch, TOP_SORTS))) {
		v->sort = (enum top_sort)(k - sort_keys);
		return true;
	}
	switch (ch) {
	case 'q':
	case 'Q':
		s->quit = true;
		break;
	case 'h':
	case '?':
		s->help = true;
		break;
	case ' ':
		s->paused = !s->paused;
		break;
	case 'i':
		s->in_flight = !s->in_flight;
		break;
	case 'g':
		v->group = (enum top_group)((v->group + 1) % TOP_GROUPS);
		s->selected = s->first = 0;
		break;
	case 'f':
		s->prompt = true;
		snprintf(s->input, sizeof(s->input), "%s", v->filter_text);
		break;
	case KEY_UP:
		if (s->selected > 0)
			s->selected--;
		break;
	case KEY_DOWN:
		s->selected++;
		break;
	case KEY_PPAGE:
		s->selected = s->selected > LINES / 2 ? s->selected - LINES / 2 : 0;
		break;
	case KEY_NPAGE:
		s->selected += LINES / 2;
		break;
	case KEY_HOME:
		s->selected = 0;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!s->in_flight && !top_view_drill_down(v, s->selected))
			s->selected = s->first = 0;
		break;
	case KEY_BACKSPACE:
	case KEY_LEFT:
	case 127:
	case 8:
		if ((selected = top_view_drill_up(v)) >= 0) {
			s->selected = selected;
			s->first = 0;
		}
		break;
	default:
		return false;
	}
	return true;
}

bool top_screen_input(struct top_screen *s, struct top_view *v)
{
	int ch = getch(); /* waits up to TRACE_POLL_MS */

	return ch != ERR && screen_key(s, v, ch);
}
