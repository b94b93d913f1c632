/*
 * cmd_server.c - `cdctop server start|stop|status`: drives the private MariaDB (server.c) and
 * prints where it is. Main thread. With -P the TCP port admits only 'cdctop'@'127.0.0.1',
 * whose generated password is in the state dir's client.cnf (0600), never printed.
 * Exit status: 0 done/running, 3 when status finds none
 * running (as LSB init scripts do), 1 on error.
 */
#include "cmds.h"
#include "server.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

int cmd_server(struct opts *o)
{
	struct srv_paths p;
	char err[U_ERRLEN];
	if (srv_paths(o->datadir, &p, err) < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	pid_t pid;
	unsigned port;
	if (!strcmp(o->server_action, "status")) {
		if (srv_running(&p, &pid, &port)) {
			printf("running: pid %d, socket %s, datadir %s", (int)pid, p.socket,
			       p.datadir);
			if (port)
				printf(", port 127.0.0.1:%u", port);
			printf("\n");
			return 0;
		}
		printf("not running (state dir %s)\n", p.base);
		return 3;
	}
	if (!strcmp(o->server_action, "stop")) {
		int was;
		if (srv_stop(&p, &was, err) < 0) {
			fprintf(stderr, "cdctop: %s\n", err);
			return 1;
		}
		printf(was ? "stopped (state dir %s)\n" : "not running (state dir %s)\n", p.base);
		return 0;
	}
	int started;
	if (o->port && !srv_running(&p, &pid, &port) && !srv_tcp_secured(&p)) {
		/* before the port ever opens: socket only, drop the password-less TCP accounts */
		int was;
		if (srv_start(&p, 0, &started, err) < 0 || srv_secure_tcp(&p, 0, err) < 0 ||
		    srv_stop(&p, &was, err) < 0) {
			fprintf(stderr, "cdctop: %s\n", err);
			return 1;
		}
	}
	if (srv_start(&p, o->port, &started, err) < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	srv_running(&p, &pid, &port);
	if (port && srv_secure_tcp(&p, port, err) < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	printf("%s: pid %d, socket %s, datadir %s", started ? "started" : "already running",
	       (int)pid, p.socket, p.datadir);
	if (port)
		printf(", port 127.0.0.1:%u (user cdctop, password in %s)", port, p.clientcnf);
	printf("\n");
	if (!started && o->port && port != o->port)
		fprintf(stderr, "cdctop: note: the running server %s; stop it to change the port\n",
			port ? "listens on another port" : "has networking off");
	return 0;
}
