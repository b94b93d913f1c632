/*
 * cmd_stubs.c - placeholders for subcommands still being built; each prints that it is not
 * built yet and exits 1. Removed function by function as the real commands land.
 */
#include "cmds.h"

#include <stdio.h>

/* Says that the named command does not exist yet. */
static int not_yet(const char *what)
{
	fprintf(stderr, "cdctop: %s is not built yet\n", what);
	return 1;
}

int cmd_watch(struct opts *o)
{
	(void)o;
	return not_yet("watch");
}

int cmd_ui(struct opts *o)
{
	(void)o;
	return not_yet("the monitor (cdctop with no command)");
}
