//! procrun's command line, in one place: its definition, what it parses
//! into, its error lines, and the completions and man pages made from it.
//!
//! Its layers from the bottom up, each using only those before it:
//!
//! - `config`: what the command line asks for, once checked (`Request`
//!   and the arguments of each command). The rest of the tool reads only
//!   this, `parse` and `doc`, never clap's definition.
//! - `duration`, `values`: the parsers of single option values; `usage`:
//!   the help text clap cannot make from the options.
//! - `defs`: the clap definition (`CommandLine`), on the three above.
//! - `error`: clap's errors as one line, from their kind and context.
//! - `parse`: the command line through `defs` into a `Request`, with the
//!   checks clap cannot make; `doc`: completions and man pages of `defs`.

pub mod config;
mod defs;
pub mod doc;
mod duration;
mod error;
pub mod parse;
mod usage;
mod values;
