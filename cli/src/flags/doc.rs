//! `procrun completions SHELL` and `procrun man [COMMAND]`: generated from
//! the parser's own definition, so they name every option it takes and
//! nothing else. Made here, written out by `main.rs`.

use clap::CommandFactory;

use crate::failure::Failure;
use crate::flags::defs::CommandLine;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut CommandLine::command(), "procrun", &mut out);
    out
}

/// The roff of procrun(1), or of procrun-COMMAND(1).
pub fn man(command: Option<&str>) -> Result<Vec<u8>, Failure> {
    let mut cmd = CommandLine::command();
    // Built, so that a subcommand knows its full name (`procrun-run`, the
    // page's title) and its usage line says `procrun run`.
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| Failure::Usage(format!("man: no command '{name}'")))?,
    };
    // clap_mangen leaves out the aliases that --help and the completions
    // list (`--grace`): said after each option's help, as --help says them.
    let page = page.mut_args(|arg| {
        let aliases: Vec<String> = arg
            .get_visible_aliases()
            .unwrap_or_default()
            .iter()
            .map(|a| format!("--{a}"))
            .collect();
        if aliases.is_empty() {
            return arg;
        }
        let word = if aliases.len() == 1 {
            "alias"
        } else {
            "aliases"
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string());
        let help = format!(
            "{} [{word}: {}]",
            help.unwrap_or_default(),
            aliases.join(", ")
        );
        arg.long_help(help)
    });
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| Failure::Runtime(format!("man: {e}")))?;
    Ok(out)
}
