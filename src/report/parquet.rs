//! Parquet files beside the CSVs: each table's CSV, as its writer makes it, is read back under the
//! table's documented schema ([`super::schema`]) and written as Parquet (zstd, one row group per
//! million rows), streaming: neither the CSV nor the Parquet file is ever whole in memory, so the
//! largest tables (`summary.csv` of a long daily run) convert in bounded memory.
//!
//! Reading the CSV back is also the check that it is what its schema says: a header that differs, a
//! row with too few cells, or a cell that does not parse as its column's type (an integer written
//! as `4096.0`, a float column that holds text) fails the conversion with the table, line and
//! column.
//!
//! This module is the only home of the Arrow and Parquet crates.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use arrow_csv::reader::{Decoder, ReaderBuilder};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::schema::{Column, Type};

/// Rows decoded at a time.
const BATCH_ROWS: usize = 65_536;

fn arrow_type(t: Type) -> DataType {
    match t {
        Type::Text => DataType::Utf8,
        Type::Int => DataType::Int64,
        Type::Float => DataType::Float64,
        Type::Date => DataType::Date32,
        Type::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        Type::Bool => DataType::Boolean,
    }
}

/// The Arrow schema of a table: its columns, nullable, with their unit and meaning as field
/// metadata.
pub fn arrow_schema(columns: &[Column]) -> Schema {
    Schema::new(
        columns
            .iter()
            .map(|c| {
                Field::new(&c.name, arrow_type(c.ty), true).with_metadata(HashMap::from([
                    ("unit".to_string(), c.unit.clone()),
                    ("meaning".to_string(), c.meaning.clone()),
                ]))
            })
            .collect::<Vec<_>>(),
    )
}

/// A CSV byte stream in, Parquet bytes out to `out` as row groups fill.
struct Sink<'a> {
    table: &'a str,
    header: String,
    /// The header line as it arrives (until its newline).
    seen: Vec<u8>,
    header_checked: bool,
    decoder: Decoder,
    writer: ArrowWriter<Vec<u8>>,
    out: &'a mut dyn Write,
}

fn invalid(table: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{table}: the CSV does not fit its schema: {e}"),
    )
}

impl Sink<'_> {
    /// Writes what the Parquet writer has made so far to `out`.
    fn drain(&mut self) -> io::Result<()> {
        let buf = self.writer.inner_mut();
        if !buf.is_empty() {
            self.out.write_all(buf)?;
            buf.clear();
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if let Some(batch) = self.decoder.flush().map_err(|e| invalid(self.table, e))? {
            self.writer
                .write(&batch)
                .map_err(|e| invalid(self.table, e))?;
            self.drain()?;
        }
        Ok(())
    }

    /// Feeds `buf` to the decoder (which keeps a record cut between two writes), writing every
    /// batch it fills.
    fn feed(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self
                .decoder
                .decode(buf)
                .map_err(|e| invalid(self.table, e))?;
            buf = &buf[n..];
            if self.decoder.capacity() == 0 {
                self.flush_batch()?;
            } else if n == 0 {
                return Err(invalid(self.table, "the decoder took no bytes"));
            }
        }
        Ok(())
    }

    fn check_header(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.header_checked {
            return Ok(());
        }
        let take = buf.iter().position(|&b| b == b'\n').map(|i| i + 1);
        self.seen
            .extend_from_slice(&buf[..take.unwrap_or(buf.len())]);
        if take.is_some() {
            let line = String::from_utf8_lossy(&self.seen);
            let line = line.trim_end_matches(['\n', '\r']);
            if line != self.header {
                return Err(invalid(
                    self.table,
                    format!("header '{line}', expected '{}'", self.header),
                ));
            }
            self.header_checked = true;
        }
        Ok(())
    }
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_header(buf)?;
        self.feed(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes table `table` (`columns` its schema) as Parquet to `out`, from its CSV as `csv` writes
/// it; fails if the CSV does not fit the schema.
pub fn write(
    table: &str,
    columns: &[Column],
    csv: &dyn Fn(&mut dyn Write) -> io::Result<()>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let schema = Arc::new(arrow_schema(columns));
    let decoder = ReaderBuilder::new(schema.clone())
        .with_header(true)
        .with_batch_size(BATCH_ROWS)
        .build_decoder();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(format!("capsim {}", env!("CARGO_PKG_VERSION")))
        .build();
    let writer =
        ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(|e| invalid(table, e))?;
    let mut sink = Sink {
        table,
        header: columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
        seen: Vec::new(),
        header_checked: false,
        decoder,
        writer,
        out,
    };
    csv(&mut sink)?;
    // The last record may lack a newline: the decoder takes it once told the input ended.
    sink.decoder.decode(&[]).map_err(|e| invalid(table, e))?;
    sink.flush_batch()?;
    if !sink.header_checked {
        return Err(invalid(table, "no header line"));
    }
    let Sink { writer, out, .. } = sink;
    let bytes = writer.into_inner().map_err(|e| invalid(table, e))?;
    out.write_all(&bytes)
}
