/*
 * cmds.h - the subcommands' entry points, one per file (cmd_*.c, ui/). Each takes the parsed
 * options, runs on the main thread, and returns the process exit status. Errors are printed
 * as one line on stderr by the command itself.
 */
#ifndef CDCTOP_CMDS_H
#define CDCTOP_CMDS_H

#include "opts.h"

int cmd_server(struct opts *o);
int cmd_init(struct opts *o);
int cmd_inject(struct opts *o);
int cmd_relay(struct opts *o);
int cmd_watch(struct opts *o);
int cmd_kafka_mock(struct opts *o);
int cmd_ui(struct opts *o);

#endif
