/* rules_cli.h — `chatd rules …` subcommands (rule developer tools). */
#ifndef CHATD_RULES_CLI_H
#define CHATD_RULES_CLI_H

/* argv[0] is "rules".  Returns the process exit status. */
int rules_cli(int argc, char **argv);

#endif
