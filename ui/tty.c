/*
 * tty.c - owns the terminal while the monitor runs: curses setup and teardown, the quit
 * signals (a flag and a byte down a self-pipe, nothing else in the handler), endwin at exit,
 * and on SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT a raw restore (saved termios, terminfo reset
 * strings written with write(2)) before the previous handler (default, or a sanitizer's)
 * runs. UI thread only; must never leave the terminal in raw mode on any path out.
 */
#include "tty.h"
#include "util.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

static SCREEN *scr;
static volatile sig_atomic_t quit_flag;
static volatile sig_atomic_t active; /* curses owns the terminal */
static int sig_pipe[2] = {-1, -1};
static struct termios saved_tio;
static int have_tio;
static char reset_seq[256]; /* rmcup, rmkx, cnorm, sgr0 from terminfo */
static size_t reset_len;
static int atexit_done;
static int no_alt_screen; /* the terminal has no rmcup: clear it on the way out */

static const int quit_sigs[] = {SIGINT, SIGTERM, SIGHUP};
static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static struct sigaction old_quit[3], old_crash[5];

/* Quit signals: set the flag and wake poll through the pipe. */
static void on_quit(int sig)
{
	(void)sig;
	int e = errno;
	quit_flag = 1;
	if (sig_pipe[1] >= 0) {
		char c = 1;
		ssize_t r = write(sig_pipe[1], &c, 1);
		(void)r;
	}
	errno = e;
}

/* Crash signals: restore the terminal raw, then hand over to the previous handler. */
static void on_crash(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (active) {
		active = 0;
		if (reset_len) {
			ssize_t r = write(STDOUT_FILENO, reset_seq, reset_len);
			(void)r;
		}
		if (have_tio)
			tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	}
	for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++)
		if (crash_sigs[i] == sig)
			sigaction(sig, &old_crash[i], NULL);
	/* a fault re-runs its instruction under that handler on return; a sent signal
	   (kill, raise, abort: si_code <= 0) is sent again */
	if (!si || si->si_code <= 0)
		raise(sig);
}

/* At exit: give the terminal back if curses still has it. */
static void at_exit(void)
{
	if (active && !isendwin())
		endwin();
	active = 0;
}

/* Appends a terminfo string capability to the raw reset sequence. */
static void add_cap(const char *name)
{
	char *s = tigetstr(name);
	if (!s || s == (char *)-1)
		return;
	size_t n = strlen(s);
	if (reset_len + n < sizeof reset_seq) {
		memcpy(reset_seq + reset_len, s, n);
		reset_len += n;
	}
}

/* Checks stdin/stdout are a terminal with a known TERM, without touching it. */
int tty_check(char *err)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return u_err(err, "the monitor needs a terminal on stdin and stdout; headless, "
		                  "use cdctop relay and cdctop watch");
	const char *t = getenv("TERM");
	if (!t || !*t)
		return u_err(err, "TERM is not set: the monitor cannot drive this terminal");
	int e = 0;
	if (setupterm(NULL, STDOUT_FILENO, &e) != OK)
		return u_err(err, "unknown terminal type '%.40s' (TERM): try TERM=xterm-256color",
		             t);
	char *cup = tigetstr("cup");
	int hardcopy = tigetflag("hc") > 0;
	if (!cup || cup == (char *)-1 || hardcopy) {
		del_curterm(cur_term);
		cur_term = NULL;
		return u_err(err,
		             "TERM=%.40s cannot move the cursor, which the monitor needs: use a "
		             "full-screen terminal (e.g. TERM=xterm-256color), or headless cdctop "
		             "relay and cdctop watch",
		             t);
	}
	del_curterm(cur_term);
	cur_term = NULL;
	return 0;
}

/* Takes the terminal for curses and installs the quit and crash handlers. */
int tty_open(char *err)
{
	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return u_err(err, "cannot create a pipe: %s", strerror(errno));
	have_tio = tcgetattr(STDIN_FILENO, &saved_tio) == 0;
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		sig_pipe[0] = sig_pipe[1] = -1;
		return u_err(err, "cannot start curses on this terminal (TERM=%.40s)",
		             getenv("TERM") ? getenv("TERM") : "");
	}
	set_term(scr);
	active = 1;
	if (!atexit_done) {
		atexit(at_exit);
		atexit_done = 1;
	}
	reset_len = 0;
	char *rmcup = tigetstr("rmcup");
	no_alt_screen = !rmcup || rmcup == (char *)-1 || !*rmcup;
	if (no_alt_screen)
		add_cap("clear"); /* no alternate screen to leave (vt100): wipe the monitor */
	add_cap("rmcup");
	add_cap("rmkx");
	add_cap("cnorm");
	add_cap("sgr0");
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_quit;
	for (size_t i = 0; i < sizeof quit_sigs / sizeof quit_sigs[0]; i++)
		sigaction(quit_sigs[i], &sa, &old_quit[i]);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_crash;
	sa.sa_flags = SA_NODEFER | SA_SIGINFO;
	for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++)
		sigaction(crash_sigs[i], &sa, &old_crash[i]);
	return 0;
}

/* Gives the terminal back and puts the crash handlers back. */
void tty_close(void)
{
	if (!scr)
		return;
	for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++)
		sigaction(crash_sigs[i], &old_crash[i], NULL);
	if (!isendwin())
		endwin();
	if (no_alt_screen) { /* vt100 and the like: nothing to switch back to, so clear */
		char *cl = tigetstr("clear");
		if (cl && cl != (char *)-1)
			putp(cl);
		fflush(stdout);
	}
	active = 0;
	delscreen(scr);
	scr = NULL;
	/* quit signals keep setting the flag during shutdown: the pipeline is stopping anyway */
}

/* The self-pipe the quit handler writes to. */
int tty_fd(void)
{
	return sig_pipe[0];
}

/* Empties the self-pipe. */
void tty_drain(void)
{
	char buf[16];
	while (sig_pipe[0] >= 0 && read(sig_pipe[0], buf, sizeof buf) > 0)
		;
}

/* Whether a quit signal arrived. */
int tty_quit(void)
{
	return quit_flag;
}
