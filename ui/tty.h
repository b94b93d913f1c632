/*
 * tty.h - the terminal under the monitor: curses on stdin/stdout, signal handlers that ask
 * the UI loop to quit (SIGINT, SIGTERM, SIGHUP) through a self-pipe, and a restore path for
 * every exit: endwin at exit, and termios + terminfo reset strings on a crash signal. Main
 * (UI) thread only, except the handlers, which are async-signal-safe.
 */
#ifndef CDCTOP_TTY_H
#define CDCTOP_TTY_H

/* -1 with a one-line reason when stdin/stdout is not a terminal curses can drive; touches
 * nothing on the terminal. */
int tty_check(char *err);
/* Takes the terminal (newterm, cbreak, no echo, keypad, hidden cursor) and installs the
 * handlers. -1 with err, terminal untouched. */
int tty_open(char *err);
/* Gives the terminal back (endwin) and removes the quit handlers. Idempotent. */
void tty_close(void);
/* The read end of the self-pipe a quit signal writes to; drain with tty_drain. */
int tty_fd(void);
void tty_drain(void);
/* 1 once SIGINT, SIGTERM or SIGHUP arrived. */
int tty_quit(void);

#endif
