/*
 * cmd_ui.c - `cdctop` with no command: the pipeline (pipeline.c) and the monitor (ui/) in one
 * process. Main thread. It joins the two, so it lives with the monitor, outside the core
 * library (libcdctop.a), which never links curses. Start-up errors print one line and exit 1 before the terminal is
 * touched; after the monitor returns (terminal restored) the pipeline stops, which flushes
 * the relay and saves its progress.
 */
#include "cmds.h"
#include "pipeline.h"
#include "ui.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

/* Checks the terminal, starts the pipeline, runs the monitor, stops the pipeline. */
int cmd_ui(struct opts *o)
{
	char err[U_ERRLEN];
	if (ui_check(err) < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct pl *pl = pl_new(o, err);
	if (!pl) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	int rc = pl_start(pl, err);
	if (rc == 0)
		rc = ui_run(pl, o, err);
	int left = pl_free_for_exit(pl);
	if (rc < 0)
		fprintf(stderr, "cdctop: %s\n", err);
	if (left) { /* a library is still tearing down on another thread: do not wait */
		fflush(NULL);
		_exit(rc < 0 ? 1 : 0);
	}
	return rc < 0 ? 1 : 0;
}
