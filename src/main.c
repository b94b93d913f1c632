/*
 * main.c - parses the command line and hands it to one subcommand. Owns nothing else; the
 * commands print their own one-line errors.
 */
#include "cmds.h"
#include "util.h"

#include <locale.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct opts o;
	char err[U_ERRLEN];
	setlocale(LC_ALL, "");
	int r = opt_parse(argc, argv, &o, err);
	if (r < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 2;
	}
	if (r > 0)
		return 0;
	switch (o.cmd) {
	case CMD_SERVER:
		return cmd_server(&o);
	case CMD_INIT:
		return cmd_init(&o);
	case CMD_INJECT:
		return cmd_inject(&o);
	case CMD_RELAY:
		return cmd_relay(&o);
	case CMD_WATCH:
		return cmd_watch(&o);
	case CMD_KAFKA_MOCK:
		return cmd_kafka_mock(&o);
	default:
		return cmd_ui(&o);
	}
}
