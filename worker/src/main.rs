//! `isobatch-worker --connect SERVER_NAME`: a worker process started by the isobatch supervisor.

fn main() {
    std::process::exit(isobatch_worker::main_with_args(std::env::args().skip(1)));
}
