/* The command line's database commands: `keys generate|list|info|update|
 * delete|block|unblock|regenerate` and `spend`. They open the database file
 * directly (safe while a server runs: it sees the change within a second)
 * and print the same JSON as the admin API. */
#ifndef RP_CLI_H
#define RP_CLI_H

/* Is argv[1] one of the commands? */
int cli_is_command(const char *arg);
/* Run it; returns the exit status (0, 1 failed, 2 usage). */
int cli_main(int argc, char **argv);

#endif
