/*
 * ui.h - the monitor's UI thread: the loop that polls the keyboard, the pipeline's wake pipe
 * and the quit signals, copies snapshots and redraws dirty panes; keys are bound through a
 * table to actions that send pipeline commands. No curses in this header (src/ includes it).
 */
#ifndef CDCTOP_UI_H
#define CDCTOP_UI_H

#include "opts.h"
#include "pipeline.h"

/* -1 with one line in err when this is no terminal the monitor can run on; touches nothing. */
int ui_check(char *err);
/* Runs the monitor on the calling thread until q, F10, SIGINT, SIGTERM or SIGHUP; pl must be
 * started. The terminal is restored on every return. 0, or -1 with err. */
int ui_run(struct pl *pl, const struct opts *o, char *err);

#endif
