//! The help texts: what `--help` prints for procrun, `run` and `ps`.

pub const USAGE: &str = "\
procrun: run and supervise commands, or look at the host's processes

Usage:
  procrun run [OPTIONS] -- PROGRAM [ARGS...]
  procrun run [OPTIONS] --script FILE
  procrun run [OPTIONS] --name NAME=COMMAND [--name NAME=COMMAND...]
  procrun start [-f Procfile] [-e .env] [OPTIONS] [NAME...]
  procrun ps [--state STATE] [--name NAME [--exact]] [--count] [-o pid | --json]
  procrun --help | --version

'procrun run --help', 'procrun start --help' and 'procrun ps --help' list
the options.
";

pub const RUN_USAGE: &str = "\
Run commands, print their output line by line, stop them on Ctrl-C.

Usage:
  procrun run [OPTIONS] -- PROGRAM [ARGS...]
  procrun run [OPTIONS] --script FILE            (runs: bash FILE)
  procrun run [OPTIONS] --name NAME=COMMAND...   (runs: bash -c COMMAND, all at once)

Options:
  -t, --timeout DURATION    stop each process after this long, restarts included
                            (0: no timeout); exit status 124
  -s, --signal SIGNAL       the signal a stop (timeout, Ctrl-C) starts with: a
                            name or number as 'kill' takes it (TERM, SIGINT, 9)
                            [default: TERM]
  -k, --kill-after DURATION time between the stop signal and SIGKILL on a stop
                            [default: 3s]; --grace is the same
  --preserve-status         after a timeout, exit with the process's own status
                            rather than 124 or 137
  --restart WHEN            restart a process: 'on-error' when it fails (non-zero
                            exit, or killed), 'always' whenever it ends; never
                            after a stop or a timeout
  --restart-on-error        the same as --restart on-error
  --restart-limit N         at most N restarts, 0 for no limit [default: 0]
  --restart-interval DUR    delay before a restart [default: 5s]
  --backoff                 double the delay after each restart, up to 60s
                            (--restart-limit, --restart-interval and --backoff
                            imply --restart on-error unless --restart is given)
  --detached                keep processes in procrun's process group; a stop
                            signals the process alone, not what it started
  --cgroup PARENT           run each process in a cgroup of its own below the
                            cgroup v2 directory PARENT: a stop kills all it
                            started, daemons included
  --kill-on-parent-death    kill the processes (SIGKILL) if procrun dies
  -e, --env KEY=VALUE       set an environment variable (repeatable)
  -C, --cwd DIR             working directory of the processes
  --max-line BYTES          print longer lines in pieces of BYTES [default: 65536]
  --stdin WHEN              'null': every process reads /dev/null, so
                            'echo hi | procrun run -- cat' prints nothing;
                            'inherit': they share procrun's stdin [default: null]
  --output FILE             append the lines ('NAME | line', 'NAME ! line') to
                            FILE instead of printing them; notes stay on stderr
  --timestamps[=WHEN]       prefix each line and note with a time: 'elapsed' (the
                            default), seconds since procrun started; 'wall', the
                            time of day in UTC (RFC 3339: 2024-05-01T09:30:00.250Z)
  --color WHEN              colour the prefixes: 'auto' when the stream is a
                            terminal, TERM is not 'dumb' and NO_COLOR is unset or
                            empty; 'always'; 'never' [default: auto]
  -q, --quiet               print neither output nor start/exit notes
  --exit-with-first         when one process ends (for good: after its restarts),
                            stop the others as on Ctrl-C, and exit with its
                            status, as foreman does; without it procrun waits
                            for all
  -h, --help                print this help

Short options take their value next or attached: -t 5s, -t5s, -sKILL.
Durations: a number with a unit (ns, us, ms, s, m, h, d), several added up
(1m30s, 1h30m, 1.5s); a bare number is seconds.

Output: each line as it arrives, as 'NAME | line' (stdout) or 'NAME ! line'
(stderr), on procrun's stdout; start, exit and restart notes as 'NAME * ...' on
stderr. NAME is the program's file name, the script's, or the --name given.
Prefixes are coloured as --color says.

Ctrl-C, SIGTERM or SIGHUP stops every process (the stop signal to its process
group, SIGKILL after the grace) and procrun exits once all are gone; a second one
sends SIGKILL at once. This holds when nothing reads procrun's stdout: output
stdout does not take is then dropped (and counted on stderr) once it has taken
nothing for the grace, or at the second signal.

Exit status (as coreutils 'timeout'): the process's exit code; 128+N if
signal N killed it; 124 if it timed out and the stop signal ended it, 137 if
it timed out and SIGKILL ended it (see --preserve-status); 127 if the
program was not found, 126 if it cannot be executed (no permission, not a
program, a directory). With several processes, the first non-zero of those,
in the order they ended (0 if none). 128+N when procrun itself was stopped
by signal N (130 for Ctrl-C, 143 for SIGTERM); 141 when procrun's stdout was
closed; 2 for bad usage of procrun (unknown option, bad duration, bad
--env, --cwd not found, script unreadable); 1 when procrun itself failed
(such as the process limit reached at a start).
";

pub const PS_USAGE: &str = "\
Look at the host's processes through /proc (or $HOST_PROC).

Usage:
  procrun ps                      count processes by state
  procrun ps --count              count processes
  procrun ps --state STATE        list processes in STATE
  procrun ps --name NAME          every process whose name contains NAME
                                  (exit status 1 when there is none, as pgrep)
  procrun ps --name NAME --exact  whether a process called NAME runs
                                  (exit status 0 if so, 1 if not)

--state, --name and --count combine: list (or with --count, count) the
processes in STATE whose name contains NAME.

A listing (--state, --name, or all processes with -o or --json) prints:
  (default)                       a table: PID, STATE, COMM under a header
  -o pid, --output pid            the pids alone, one per line, for scripts
  --json                          a JSON array of objects: pid, state, comm

States: running (R), sleep (S), blocked (D), idle (I), stop (T),
tracing-stop (t), zombie (Z), dead (X), parked (P).
";

pub const START_USAGE: &str = "\
Run a Procfile's entries as foreman does: each line 'name: command' runs
'bash -c command' with its output prefixed by the name; when one ends (for
good: after its restarts), the others are stopped (the stop signal, SIGKILL
after the grace) and procrun exits with the status of the one that ended.

Usage:
  procrun start [-f FILE] [-e FILE] [OPTIONS] [NAME...]

  NAME...                   run only these entries [default: all of them]
  -f, --procfile FILE       the Procfile [default: Procfile]
  -e, --env-file FILE       set every entry's environment from FILE: KEY=VALUE
                            lines, '#' comments, an optional 'export ', values
                            in single quotes (as is) or double quotes (\\n \\t
                            \\\" \\\\ \\$ unescaped) [default: .env, when there is one]

Procfile: one 'name: command' a line (name: letters, digits, '_', '-');
blank lines and lines starting with '#' are skipped.

Every option of 'procrun run' but --env, --script, --name and
--exit-with-first is taken, with the same meaning: -t, -s, -k/--grace,
--preserve-status, --restart..., --detached, --cgroup, --kill-on-parent-death,
-C, --max-line, --stdin, --output, --timestamps, --color, -q.
See 'procrun run --help'.

Exit status: that of the first entry to end, as 'procrun run' gives one
process's (0, its code, 128+N, 124, 137, 127, 126); 130 or 143 when procrun
was stopped by Ctrl-C or SIGTERM; 2 for bad usage, a bad Procfile or .env
line (named as FILE:LINE), or an -e FILE that cannot be read.
";
