//! The `capsim` command line: parse, run, map errors to exit codes.

fn main() {
    println!("capsim {}", env!("CARGO_PKG_VERSION"));
}
