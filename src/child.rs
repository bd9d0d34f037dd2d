//! The words every layer shares about a child: [`ChildId`], the handle to
//! one supervised child, [`Stream`], which of its output streams a line
//! came from, and [`OutputLine`], a line as the handle APIs hand it out. They sit on the ground floor, below the reactor that
//! hands them out and the [`Exit`](crate::Exit) that names its child.

use std::fmt;

/// A handle to one supervised child: an index plus a generation, so a handle
/// kept after its child is gone never touches a newer child that reuses the
/// slot, and the identity of the reactor that issued it, so a handle given
/// to another reactor names nothing there (ids of two reactors are never
/// equal). Small (12 bytes) and `Copy`.
///
/// A handle whose child is done stays known to its reactor: stopping,
/// signalling, killing, pausing or resuming it does nothing and succeeds,
/// as tokio's `Child::kill` after `wait` does. Only a handle the reactor
/// never issued is [`Error::UnknownChild`](crate::Error::UnknownChild).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
    /// The issuing reactor, unique among the reactors of the process
    /// (they are counted from 1, and 4 billion of them would have to be
    /// made before one number came back).
    pub(crate) reactor: u32,
}

impl fmt::Debug for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChildId({}v{}@{})",
            self.index, self.generation, self.reactor
        )
    }
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The child's stdout.
    Stdout,
    /// The child's stderr.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line a child wrote, owned: what the handle APIs (blocking and
/// async) give out, where the reactor's [`Event::Line`](crate::Event::Line)
/// lends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// The stream it came from.
    pub stream: Stream,
    /// The line without its line ending.
    pub bytes: Vec<u8>,
    /// Whether this is a piece of a longer line that goes on.
    pub partial: bool,
}

impl OutputLine {
    /// The line as text, invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}
