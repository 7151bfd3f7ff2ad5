//! Parquet in a build without the `parquet` feature (the fuzz crate's): no Arrow or Parquet is
//! compiled, and a table asked for as Parquet fails, saying how to get a build that writes it.

use std::io::{self, Write};

use super::schema::Column;

/// Fails: this build cannot write Parquet (see the module docs).
pub fn write(
    table: &str,
    _columns: &[Column],
    _csv: &dyn Fn(&mut dyn Write) -> io::Result<()>,
    _out: &mut dyn Write,
) -> io::Result<()> {
    Err(io::Error::other(format!(
        "cannot write {table}.parquet: this capsim was built without the `parquet` feature; \
         build it with the default features (cargo build --release), or ask for --format csv"
    )))
}
