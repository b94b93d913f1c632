/*
 * glance.h - the pipeline at a glance: one line "inject → mysql → change log → relay → kafka →
 * consumer → windows" with the count at each hop and what waits between hops (a held
 * transaction, the backlog and a gap, messages in flight or brokers down, the consumer's lag,
 * duplicates ignored), drawn from its plain view (view.h) every frame. UI thread only.
 */
#ifndef CDCTOP_GLANCE_H
#define CDCTOP_GLANCE_H

#include "view.h"

#include <curses.h>

/* The attributes it draws with: hop names, counts, a wait, a hop that is down. */
struct glance_style {
	attr_t name, count, wait, down;
};

/* Draws g on row 0 of w (erased first), fitted to its width: full names and counts first,
   then shorter counts, then shorter names. utf8: "→" between hops, else "->". */
void glance_draw(WINDOW *w, const struct view_glance *g, int utf8, const struct glance_style *st);

#endif
