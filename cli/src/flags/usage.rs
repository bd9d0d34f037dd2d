//! The help texts clap cannot make from the options: what comes after the
//! option list of `procrun`, `run`, `start` and `ps` (and in the man page).

pub const AFTER: &str = "\
'procrun run --help', 'procrun start --help' and 'procrun ps --help' list
the options; 'procrun completions SHELL' and 'procrun man' print shell
completions and the man page.";

pub const RUN_AFTER: &str = "\
Short options take their value next or attached: -t 5s, -t5s, -sKILL.
Durations: a number with a unit (ns, us, ms, s, m, h, d), several added up
(1m30s, 1h30m, 1.5s); a bare number is seconds. One rule in every unit,
as timeout has it: one past any clock (18446744073709551615s,
9223372036854775808d) means never, as one of centuries (5000000h) does:
no timeout, no SIGKILL after the grace, a restart never due (the process
waits for it until stopped or timed out). A fraction rounds up to the
nanosecond: one above 0 but below that (.0000000001) times out at once.

Output: each line as it arrives, as 'NAME | line' (stdout) or 'NAME ! line'
(stderr), on procrun's stdout; start, exit and restart notes as 'NAME * ...' on
stderr. NAME is the program's file name, the script's, or the --name given.
Prefixes are coloured as --color says.

--format json: one JSON object a line on stdout for every line and note,
with ts (RFC 3339) and event; a child's name and pid; a line's stream, line
and partial, and line_b64 (its bytes in base64) when it is not UTF-8; a
note's fields (exited: code, signal, timed_out, stopped, then, ...).

Ctrl-C, SIGTERM or SIGHUP (and Ctrl-\\ SIGQUIT, SIGALRM, SIGUSR1, SIGUSR2,
which would otherwise end procrun and orphan its processes) stops every process
(the stop signal to its process group, SIGKILL after the grace) and procrun
exits once all are gone; a second one sends SIGKILL at once. This holds when
nothing reads procrun's stdout: output stdout does not take is then dropped
(and counted on stderr) once it has taken nothing for the grace, or at the
second signal.

Exit status (as coreutils 'timeout'): the process's exit code; 128+N if
signal N killed it; 124 if it timed out and the stop signal ended it, 137 if
it timed out and SIGKILL ended it (see --preserve-status); 127 if the
program was not found, 126 if it cannot be executed (no permission, not a
program, a directory). With several processes, the first non-zero of those,
in the order they ended (0 if none); with --exit-with-first, that of the first
to end. 128+N when procrun itself was stopped by signal N (130 for Ctrl-C, 143
for SIGTERM); 141 when procrun's stdout was closed; 2 for bad usage of procrun
(unknown option, bad duration, bad --env, --cwd not found, script
unreadable); 1 when procrun itself failed (such as the process limit reached
at a start, or its output could not be written: a full disk).

--raw stands in for 'timeout': the process's stdout and stderr reach
procrun's byte for byte, with no prefix and no note (-v prints the notes on
stderr). A signal procrun takes (INT, TERM, HUP, QUIT, USR1, USR2) is sent
to the process as it is, SIGKILL follows after the grace if it is still
alive, and procrun exits with the process's status (killed by a signal
that was not the timeout's, procrun dies of that signal, without a core
dump); SIGALRM times the process out now (124, or 137). procrun's own
failures, bad usage included, exit 125 instead of 1 or 2.";

pub const START_AFTER: &str = "\
Procfile: one 'name: command' a line (name: letters, digits, '_', '-';
the command is all after the first ':', as foreman and honcho read it);
blank lines and lines starting with '#' are skipped. A Procfile or .env
file past 16 MiB, or holding a NUL byte, is refused (exit status 2).

Where entries run, as foreman has it: in the Procfile's directory (-f
app/Procfile runs them in app/ and reads app/.env), or in the root that
-d/--root DIR names, whose Procfile and .env are read unless -f or -e name
others; -e FILE and -f FILE are taken from procrun's own directory, and -C
DIR still runs the entries there instead.

.env: KEY=VALUE lines, '#' comments, an optional 'export ', values in single
quotes (as they are) or double quotes (\\n \\t \\\" \\\\ \\$ unescaped); unquoted
values are trimmed and ' #' starts a comment. Without -e, .env is read when
there is one.

The options mean what they mean for 'procrun run' (see 'procrun run --help').

Exit status: that of the first entry to end, as 'procrun run' gives one
process's (0, its code, 128+N, 124, 137, 127, 126); 130 or 143 when procrun
was stopped by Ctrl-C or SIGTERM; 2 for bad usage, a bad Procfile or .env
line (named as FILE:LINE), or an -e FILE that cannot be read.";

pub const PS_AFTER: &str = "\
--state, --name and --count combine: list (or with --count, count) the
processes in STATE whose name contains NAME.

A listing (--state, --name, or all processes with -o or --json) is a table of
PID, STATE, COMM under a header unless -o pid or --json says otherwise.

States: running (R), sleep (S), blocked (D), idle (I), stop (T),
tracing-stop (t), zombie (Z), dead (X), parked (P).";

pub const COMPLETIONS_AFTER: &str = "\
Installed where each shell looks for them, for example:
  procrun completions bash > ~/.local/share/bash-completion/completions/procrun
  procrun completions zsh > ~/.zfunc/_procrun   (with fpath+=~/.zfunc in .zshrc)
  procrun completions fish > ~/.config/fish/completions/procrun.fish";

pub const MAN_AFTER: &str = "\
Installed for man to find, for example:
  mkdir -p ~/.local/share/man/man1
  procrun man > ~/.local/share/man/man1/procrun.1
  for c in run start ps; do procrun man $c > ~/.local/share/man/man1/procrun-$c.1; done";
