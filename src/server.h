/*
 * The HTTP front end: listener, connection limits, routing, the proxy's
 * own endpoints, graceful shutdown on SIGINT/SIGTERM.
 */
#ifndef SERVER_H
#define SERVER_H

struct config;

/*
 * Runs the server until a signal asks it to stop.  Returns the exit status
 * (0 after a clean shutdown); start-up failures print one line and return 1.
 */
int	server_run(const struct config *);

#endif
