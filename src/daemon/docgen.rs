//! Man pages and shell completions, generated from the command line's
//! own definition at package time (`callsign gen-man DIR`, `callsign
//! gen-completions DIR`, hidden), so they never drift from `--help`.
//! One man page per subcommand (`callsign-up.1`, `callsign-radio-plan.1`,
//! ...) plus `callsign.1`; completions for bash, zsh and fish.

use std::path::Path;

use clap::Command;
use clap_complete::Shell;

type Error = Box<dyn std::error::Error>;

fn page(cmd: &Command, name: &str, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    // clap wants a 'static name; a few dozen leaked page names, once, at
    // package time, are nothing.
    let cmd = cmd
        .clone()
        .name(&*Box::leak(name.to_string().into_boxed_str()));
    let file = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(&file, buf).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    out.push(file.display().to_string());
    // `help` is clap's own subcommand, not a page of ours.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        page(sub, &format!("{name}-{}", sub.get_name()), dir, out)?;
    }
    Ok(())
}

/// Write `callsign.1` and a page per visible subcommand into `dir`.
pub fn man(cmd: Command, dir: &Path) -> Result<Vec<String>, Error> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    let mut cmd = cmd;
    cmd.build();
    page(&cmd, "callsign", dir, &mut out)?;
    Ok(out)
}

/// Write `callsign.bash`, `_callsign` (zsh) and `callsign.fish` into `dir`.
pub fn completions(mut cmd: Command, dir: &Path) -> Result<Vec<String>, Error> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let p = clap_complete::generate_to(shell, &mut cmd, "callsign", dir)?;
        out.push(p.display().to_string());
    }
    Ok(out)
}
