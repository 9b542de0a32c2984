//! The `wirelab` command line: parses the arguments and dispatches each subcommand to its own
//! function in `cli`. Errors, exit codes and a closed stdout are dealt with here, once.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::args::{Cli, Command, Serve};
use cli::exit;

fn main() -> ExitCode {
    match dispatch(Cli::parse().command) {
        Ok(code) => ExitCode::from(code),
        // `wirelab analyze big.pcap --packets | head`: the reader has what it wanted.
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("wirelab: error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Analyze(a) => cli::analyze::analyze(a),
        Command::Follow(a) => cli::follow::follow(a),
        Command::Capture(a) => cli::capture::capture(a),
        Command::Serve(Serve::Http(a)) => cli::serve::http(a),
        Command::Serve(Serve::Ws(a)) => cli::serve::ws(a),
        Command::Serve(Serve::Danmaku(a)) => cli::serve::danmaku(a),
        Command::Fetch(a) => cli::clients::fetch(a),
        Command::WsEcho(a) => cli::clients::ws_echo(a),
        Command::DanmakuLoad(a) => cli::clients::danmaku_load(a),
        Command::RunScenario(a) => cli::scenario::run_scenario(a),
        Command::Link(a) => cli::link::link(a),
        Command::Report(a) => cli::report::report(a),
    }
}
