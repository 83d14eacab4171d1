/** Codes of the command line (cli/). */
export const CliError = {
  /** The command line is wrong: the message says what to change (exit status 2). */
  USAGE: 'USAGE'
} as const
