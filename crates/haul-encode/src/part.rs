//! One multipart part's bytes, optionally compressed.
//!
//! Each part is compressed as its own gzip member or zstd frame. Both formats
//! define a file of concatenated members/frames as the concatenation of their
//! contents (RFC 1952 §2.2; zstd's format spec, "Frames"), so `gunzip` and
//! `zstd -d` restore the whole export, and a resumed export can start a new
//! part without the compressor state of the crashed one. The cost is one
//! header and a dictionary reset per part (a few bytes per 8 MiB).

use flate2::write::GzEncoder;
use std::io::Write;

/// gzip level 3 and zstd level 3: well past the knee of the
/// ratio/speed curve for text, and fast enough to keep pace with the reader.
const GZIP_LEVEL: u32 = 3;
const ZSTD_LEVEL: i32 = 3;

pub enum PartWriter {
    Plain(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

/// Which compression a part writer applies (mirrors haul-core's `Compression`
/// without depending on it, to keep this crate a leaf).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Zstd,
}

impl PartWriter {
    pub fn new(codec: Codec, capacity: usize) -> Self {
        let buf = Vec::with_capacity(capacity);
        match codec {
            Codec::None => PartWriter::Plain(buf),
            Codec::Gzip => {
                PartWriter::Gzip(GzEncoder::new(buf, flate2::Compression::new(GZIP_LEVEL)))
            }
            Codec::Zstd => PartWriter::Zstd(
                zstd::stream::write::Encoder::new(buf, ZSTD_LEVEL).expect("zstd accepts level 3"),
            ),
        }
    }

    pub fn write(&mut self, data: &[u8]) {
        // Writing into a Vec cannot fail; compressors only fail on I/O.
        match self {
            PartWriter::Plain(v) => v.extend_from_slice(data),
            PartWriter::Gzip(e) => e.write_all(data).expect("in-memory gzip"),
            PartWriter::Zstd(e) => e.write_all(data).expect("in-memory zstd"),
        }
    }

    /// Output bytes produced so far (compressed, for a compressing writer).
    pub fn len(&self) -> usize {
        match self {
            PartWriter::Plain(v) => v.len(),
            PartWriter::Gzip(e) => e.get_ref().len(),
            PartWriter::Zstd(e) => e.get_ref().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends the member/frame and returns the part's bytes.
    pub fn finish(self) -> Vec<u8> {
        match self {
            PartWriter::Plain(v) => v,
            PartWriter::Gzip(e) => e.finish().expect("in-memory gzip"),
            PartWriter::Zstd(e) => e.finish().expect("in-memory zstd"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Read;

    fn parts(codec: Codec, chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut file = Vec::new();
        for c in chunks {
            let mut w = PartWriter::new(codec, 0);
            w.write(c);
            file.extend(w.finish());
        }
        file
    }

    proptest! {
        /// Parts written in many small writes (empty ones included), some
        /// parts empty: the concatenated members or frames decompress with
        /// the standard multi-member decoders to every byte written, and the
        /// writer's `len` is the size of what it finally returns or less.
        #[test]
        fn many_writes_per_part_round_trip(
            parts in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
                1..5,
            ),
        ) {
            let whole: Vec<u8> = parts.iter().flatten().flatten().copied().collect();
            for codec in [Codec::None, Codec::Gzip, Codec::Zstd] {
                let mut file = Vec::new();
                for writes in &parts {
                    let mut w = PartWriter::new(codec, 16);
                    for data in writes {
                        w.write(data);
                    }
                    let before = w.len();
                    let bytes = w.finish();
                    prop_assert!(before <= bytes.len());
                    file.extend(bytes);
                }
                let out = match codec {
                    Codec::None => file,
                    Codec::Gzip => {
                        let mut out = Vec::new();
                        flate2::read::MultiGzDecoder::new(&file[..]).read_to_end(&mut out).unwrap();
                        out
                    }
                    Codec::Zstd => zstd::stream::decode_all(&file[..]).unwrap(),
                };
                prop_assert_eq!(&out, &whole);
            }
        }
    }

    proptest! {
        /// Concatenated per-part members decompress to the concatenated input.
        #[test]
        fn members_concatenate(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2000), 1..5)) {
            let whole: Vec<u8> = chunks.concat();
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&parts(Codec::Gzip, &chunks)[..]).read_to_end(&mut out).unwrap();
            prop_assert_eq!(&out, &whole);
            let out = zstd::stream::decode_all(&parts(Codec::Zstd, &chunks)[..]).unwrap();
            prop_assert_eq!(&out, &whole);
            prop_assert_eq!(parts(Codec::None, &chunks), whole);
        }
    }
}
