//! What a scan hands out: the state of a process, one process seen in a
//! scan, and the processes of a scan grouped by state.

use std::fmt;

use super::parse::{Ids, Stat};

/// The scheduler state of a process, the third field of `/proc/PID/stat`.
///
/// The letters are the kernel's (`fs/proc/array.c`); [`as_str`](State::as_str)
/// gives the names gpud groups processes under.
///
/// # Examples
///
/// ```
/// use procrun::procfs::State;
///
/// assert_eq!(State::from_letter(b'D'), State::DiskSleep);
/// assert_eq!(State::DiskSleep.as_str(), "blocked");
/// assert_eq!(State::from_letter(b'W'), State::Other(b'W'));
/// assert_eq!(State::from_letter(b'x').letter(), b'X');
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum State {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep, waiting for an event.
    Sleeping,
    /// `D`: uninterruptible ("disk") sleep, usually in I/O or a driver; many
    /// processes stuck here point to a wedged device.
    DiskSleep,
    /// `I`: an idle kernel thread.
    Idle,
    /// `T`: stopped by a signal (`SIGSTOP`, `SIGTSTP`, …).
    Stopped,
    /// `t`: stopped by a tracer.
    TracingStop,
    /// `Z`: exited, not yet reaped by its parent.
    Zombie,
    /// `X` (or `x` on old kernels): being torn down; rarely seen.
    Dead,
    /// `P`: a parked kernel thread.
    Parked,
    /// Any other letter, as read (`W`, `K` on old kernels).
    Other(u8),
}

impl State {
    /// The state a letter of `/proc/PID/stat` stands for.
    pub fn from_letter(letter: u8) -> State {
        match letter {
            b'R' => State::Running,
            b'S' => State::Sleeping,
            b'D' => State::DiskSleep,
            b'I' => State::Idle,
            b'T' => State::Stopped,
            b't' => State::TracingStop,
            b'Z' => State::Zombie,
            b'X' | b'x' => State::Dead,
            b'P' => State::Parked,
            other => State::Other(other),
        }
    }

    /// The letter the kernel writes for this state (`X` for [`State::Dead`]).
    pub fn letter(self) -> u8 {
        match self {
            State::Running => b'R',
            State::Sleeping => b'S',
            State::DiskSleep => b'D',
            State::Idle => b'I',
            State::Stopped => b'T',
            State::TracingStop => b't',
            State::Zombie => b'Z',
            State::Dead => b'X',
            State::Parked => b'P',
            State::Other(letter) => letter,
        }
    }

    /// A lower-case name: the key gpud (through gopsutil) groups processes
    /// under where it has one (`running`, `sleep`, `blocked`, `idle`, `stop`,
    /// `zombie`), else the kernel's (`tracing stop`, `dead`, `parked`), and
    /// `unknown` for [`State::Other`].
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Sleeping => "sleep",
            State::DiskSleep => "blocked",
            State::Idle => "idle",
            State::Stopped => "stop",
            State::TracingStop => "tracing stop",
            State::Zombie => "zombie",
            State::Dead => "dead",
            State::Parked => "parked",
            State::Other(_) => "unknown",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One process as a scan saw it: pid, comm and state, and the ids of its
/// parent, process group and session.
///
/// # Examples
///
/// ```
/// use procrun::procfs::{Procfs, State};
///
/// let me = Procfs::with_root("/proc").process(std::process::id())?;
/// assert_eq!(me.pid(), std::process::id());
/// assert!(!me.comm().is_empty());
/// assert_ne!(me.state(), State::Zombie);
/// assert_eq!(me.ppid(), Some(std::os::unix::process::parent_id()));
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcessEntry {
    pid: u32,
    state: State,
    ids: Ids,
    comm: Box<str>,
}

impl ProcessEntry {
    pub(super) fn new(pid: u32, comm: &[u8], state: State) -> ProcessEntry {
        ProcessEntry {
            pid,
            state,
            ids: Ids::default(),
            comm: String::from_utf8_lossy(comm).into(),
        }
    }

    /// The entry of process `pid` from its parsed stat line.
    pub(super) fn from_stat(pid: u32, stat: &Stat<'_>) -> ProcessEntry {
        ProcessEntry {
            ids: stat.ids,
            ..ProcessEntry::new(pid, stat.comm, State::from_letter(stat.state))
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The command name the kernel keeps (at most 15 bytes for a program,
    /// longer for some kernel threads), decoded lossily: bytes that are not
    /// UTF-8 become U+FFFD.
    pub fn comm(&self) -> &str {
        &self.comm
    }

    /// The state at the time of the scan.
    pub fn state(&self) -> State {
        self.state
    }

    /// The parent's pid.
    ///
    /// The ids are as the pid namespace of the procfs root sees them: 0 for
    /// an id outside it (the parent of init and of kthreadd; a container's
    /// first process's). `None` only under a root whose stat file stops
    /// before the id or holds something else there: the kernel's always
    /// holds all three.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    ///
    /// let procfs = procrun::procfs::Procfs::with_root("/proc");
    /// let mut child = std::process::Command::new("sleep")
    ///     .arg("10")
    ///     .process_group(0)
    ///     .spawn()?;
    /// let entry = procfs.process(child.id())?;
    /// assert_eq!(entry.ppid(), Some(std::process::id()));
    /// assert_eq!(entry.pgrp(), Some(child.id()));
    /// assert_eq!(entry.session(), procfs.process(std::process::id())?.session());
    /// child.kill()?;
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ppid(&self) -> Option<u32> {
        self.ids.ppid
    }

    /// The process group id (as [`ppid`](ProcessEntry::ppid)).
    pub fn pgrp(&self) -> Option<u32> {
        self.ids.pgrp
    }

    /// The session id (as [`ppid`](ProcessEntry::ppid)).
    pub fn session(&self) -> Option<u32> {
        self.ids.session
    }
}

/// The processes of one scan grouped by state, and how many could not be
/// read.
///
/// Entries are ordered by state (in the order of [`State`]'s variants), and
/// by pid within a state.
///
/// # Examples
///
/// ```
/// use procrun::procfs::{Procfs, State};
///
/// let procs = Procfs::with_root("/proc").processes_by_state()?;
/// assert!(procs.len() > 0);
/// let total: usize = procs.groups().map(|(_, group)| group.len()).sum();
/// assert_eq!(total, procs.len());
/// for zombie in procs.get(State::Zombie) {
///     assert_eq!(zombie.state(), State::Zombie);
/// }
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByState {
    entries: Vec<ProcessEntry>,
    unreadable: usize,
    malformed: usize,
}

impl ByState {
    pub(super) fn new(
        mut entries: Vec<ProcessEntry>,
        unreadable: usize,
        malformed: usize,
    ) -> ByState {
        // Pids are unique, so the unstable sort is deterministic and needs
        // no scratch allocation.
        entries.sort_unstable_by_key(|e| (e.state, e.pid));
        ByState {
            entries,
            unreadable,
            malformed,
        }
    }

    /// The processes in `state`, by pid.
    pub fn get(&self, state: State) -> &[ProcessEntry] {
        let start = self.entries.partition_point(|e| e.state < state);
        let end = start + self.entries[start..].partition_point(|e| e.state == state);
        &self.entries[start..end]
    }

    /// How many processes are in `state`.
    pub fn count(&self, state: State) -> usize {
        self.get(state).len()
    }

    /// Each state some process was in, with its processes; states no process
    /// was in are left out.
    pub fn groups(&self) -> impl Iterator<Item = (State, &[ProcessEntry])> + '_ {
        self.entries
            .chunk_by(|a, b| a.state == b.state)
            .map(|group| (group[0].state, group))
    }

    /// Every process read, grouped by state.
    pub fn iter(&self) -> std::slice::Iter<'_, ProcessEntry> {
        self.entries.iter()
    }

    /// How many processes were read.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no process was read.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many processes were skipped because their stat file could not be
    /// read for lack of permission (`EACCES`, `EPERM`). Processes that exited
    /// during the scan are not counted anywhere.
    pub fn unreadable(&self) -> usize {
        self.unreadable
    }

    /// How many processes were skipped because their stat file did not have
    /// the kernel's shape (only ever seen under a procfs root that is not the
    /// kernel's).
    pub fn malformed(&self) -> usize {
        self.malformed
    }
}

impl<'a> IntoIterator for &'a ByState {
    type Item = &'a ProcessEntry;
    type IntoIter = std::slice::Iter<'a, ProcessEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_letter_round_trips_through_state() {
        for letter in 0..=u8::MAX {
            let state = State::from_letter(letter);
            let expected = if letter == b'x' { b'X' } else { letter };
            assert_eq!(state.letter(), expected);
        }
    }

    #[test]
    fn groups_are_by_state_then_pid_and_get_finds_each() {
        let letters = b"SRZSDSTtZIXPWRS";
        let entries = letters
            .iter()
            .enumerate()
            .map(|(i, &l)| ProcessEntry::new(100 - i as u32, b"p", State::from_letter(l)))
            .collect();
        let by = ByState::new(entries, 2, 3);
        assert_eq!((by.len(), by.unreadable(), by.malformed()), (15, 2, 3));
        let mut seen = 0;
        let mut last_state = None;
        for (state, group) in by.groups() {
            assert!(Some(state) > last_state, "each state once, in order");
            last_state = Some(state);
            assert_eq!(by.get(state), group);
            assert!(group.iter().all(|e| e.state() == state));
            assert!(group.windows(2).all(|w| w[0].pid() < w[1].pid()));
            assert_eq!(
                group.len(),
                letters
                    .iter()
                    .filter(|&&l| State::from_letter(l) == state)
                    .count()
            );
            seen += group.len();
        }
        assert_eq!(seen, 15);
        assert_eq!(by.count(State::Sleeping), 4);
        assert!(by.get(State::Other(b'K')).is_empty());
        assert!(by.get(State::Other(b'W')).len() == 1);
    }

    #[test]
    fn comm_that_is_not_utf8_is_decoded_lossily() {
        let entry = ProcessEntry::new(1, b"a\xffb", State::Running);
        assert_eq!(entry.comm(), "a\u{fffd}b");
    }
}
