//! Encoding of TIFF image file directories (IFDs), classic and BigTIFF.
//!
//! The writer streams pixel data first and appends every IFD at the end, so
//! it needs to know each encoded block's size before it knows where the next
//! one goes: [`block_len`] gives it, [`encode`] then lays the block out at a
//! known file offset (entries, next-IFD link, then out-of-line values).

/// An IFD that classic TIFF cannot hold (the writer then needs BigTIFF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IfdError {
    /// An offset past 4 GiB.
    #[error("offsets beyond 4 GiB need BigTIFF")]
    Offset,
    /// More than 65535 tags.
    #[error("too many tags")]
    TooManyTags,
    /// A 64-bit value.
    #[error("LONG8 values need BigTIFF")]
    Long8,
    /// A value with more than 2^32 - 1 elements.
    #[error("tag value too long")]
    TooLong,
}

/// Field types used by the writer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// TIFF SHORT (3).
    Short(Vec<u16>),
    /// TIFF LONG (4).
    Long(Vec<u32>),
    /// BigTIFF LONG8 (16).
    Long8(Vec<u64>),
    /// TIFF ASCII (2); the terminating NUL is added on encoding.
    Ascii(String),
}

impl Value {
    fn type_code(&self) -> u16 {
        match self {
            Value::Short(_) => 3,
            Value::Long(_) => 4,
            Value::Long8(_) => 16,
            Value::Ascii(_) => 2,
        }
    }

    fn count(&self) -> u64 {
        match self {
            Value::Short(v) => v.len() as u64,
            Value::Long(v) => v.len() as u64,
            Value::Long8(v) => v.len() as u64,
            Value::Ascii(s) => s.len() as u64 + 1,
        }
    }

    fn byte_len(&self) -> u64 {
        match self {
            Value::Short(v) => 2 * v.len() as u64,
            Value::Long(v) => 4 * v.len() as u64,
            Value::Long8(v) => 8 * v.len() as u64,
            Value::Ascii(s) => s.len() as u64 + 1,
        }
    }

    fn write_le(&self, out: &mut Vec<u8>) {
        match self {
            Value::Short(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Value::Long(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Value::Long8(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Value::Ascii(s) => {
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
        }
    }
}

/// One tag of an IFD.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub tag: u16,
    pub value: Value,
}

/// Alignment of IFDs and out-of-line values: 2 bytes (classic) or 8 (BigTIFF).
pub(crate) const fn alignment(big: bool) -> u64 {
    if big { 8 } else { 2 }
}

/// Rounds `pos` up to the IFD alignment.
pub(crate) const fn align(pos: u64, big: bool) -> u64 {
    pos.next_multiple_of(alignment(big))
}

const fn inline_bytes(big: bool) -> u64 {
    if big { 8 } else { 4 }
}

fn out_of_line(entries: &[Entry], big: bool) -> u64 {
    entries
        .iter()
        .map(|e| e.value.byte_len())
        .filter(|&n| n > inline_bytes(big))
        .map(|n| align(n, big))
        .sum()
}

fn table_len(entries: &[Entry], big: bool) -> u64 {
    let n = entries.len() as u64;
    if big { 8 + 20 * n + 8 } else { 2 + 12 * n + 4 }
}

/// Bytes [`encode`] produces for `entries` (a multiple of the alignment).
pub(crate) fn block_len(entries: &[Entry], big: bool) -> u64 {
    align(table_len(entries, big), big) + out_of_line(entries, big)
}

/// Encodes `entries` (sorted by tag) as an IFD placed at file offset `at`,
/// linking to the IFD at `next` (0 for the last). `Err` when an offset or
/// value does not fit classic TIFF.
pub(crate) fn encode(
    entries: &[Entry],
    at: u64,
    next: u64,
    big: bool,
) -> Result<Vec<u8>, IfdError> {
    debug_assert!(entries.windows(2).all(|w| w[0].tag < w[1].tag));
    let fits = |x: u64| big || x <= u64::from(u32::MAX);
    let total = block_len(entries, big);
    if !fits(at.saturating_add(total)) || !fits(next) {
        return Err(IfdError::Offset);
    }
    if !big && entries.len() > usize::from(u16::MAX) {
        return Err(IfdError::TooManyTags);
    }
    let mut table = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut values = Vec::new();
    let mut value_pos = at + align(table_len(entries, big), big);
    let n = entries.len() as u64;
    if big {
        table.extend_from_slice(&n.to_le_bytes());
    } else {
        table.extend_from_slice(&(n as u16).to_le_bytes());
    }
    for e in entries {
        if !big && matches!(e.value, Value::Long8(_)) {
            return Err(IfdError::Long8);
        }
        table.extend_from_slice(&e.tag.to_le_bytes());
        table.extend_from_slice(&e.value.type_code().to_le_bytes());
        let count = e.value.count();
        if big {
            table.extend_from_slice(&count.to_le_bytes());
        } else {
            let c = u32::try_from(count).map_err(|_| IfdError::TooLong)?;
            table.extend_from_slice(&c.to_le_bytes());
        }
        let mut bytes = Vec::new();
        e.value.write_le(&mut bytes);
        let slot = inline_bytes(big) as usize;
        if bytes.len() <= slot {
            bytes.resize(slot, 0);
            table.extend_from_slice(&bytes);
        } else {
            if big {
                table.extend_from_slice(&value_pos.to_le_bytes());
            } else {
                table.extend_from_slice(&(value_pos as u32).to_le_bytes());
            }
            let padded = align(bytes.len() as u64, big);
            bytes.resize(padded as usize, 0);
            values.extend_from_slice(&bytes);
            value_pos += padded;
        }
    }
    if big {
        table.extend_from_slice(&next.to_le_bytes());
    } else {
        table.extend_from_slice(&(next as u32).to_le_bytes());
    }
    table.resize(align(table.len() as u64, big) as usize, 0);
    table.extend_from_slice(&values);
    debug_assert_eq!(table.len() as u64, total);
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                tag: 256,
                value: Value::Long(vec![64]),
            },
            Entry {
                tag: 270,
                value: Value::Ascii("ImageJ=1.11a\n".into()),
            },
            Entry {
                tag: 273,
                value: Value::Long(vec![8, 1000]),
            },
        ]
    }

    #[test]
    fn classic_layout() {
        let e = entries();
        let block = encode(&e, 100, 500, false).unwrap();
        assert_eq!(block.len() as u64, block_len(&e, false));
        assert_eq!(u16::from_le_bytes([block[0], block[1]]), 3);
        // Entry 0: inline LONG 64.
        assert_eq!(&block[2..14], &[0, 1, 4, 0, 1, 0, 0, 0, 64, 0, 0, 0]);
        // Next-IFD link after 3 entries.
        assert_eq!(&block[38..42], &500u32.to_le_bytes());
        // Entry 1's value lives after the table, NUL-terminated.
        let off = u32::from_le_bytes(block[22..26].try_into().unwrap()) as usize - 100;
        assert_eq!(&block[off..off + 14], b"ImageJ=1.11a\n\0");
        assert!(encode(&e, u64::from(u32::MAX), 0, false).is_err());
    }

    #[test]
    fn bigtiff_layout() {
        let e = entries();
        let block = encode(&e, 16, 0, true).unwrap();
        assert_eq!(block.len() as u64, block_len(&e, true));
        assert_eq!(block.len() % 8, 0);
        assert_eq!(u64::from_le_bytes(block[0..8].try_into().unwrap()), 3);
        // Two LONGs (8 bytes) fit inline in BigTIFF.
        assert_eq!(
            &block[8 + 40 + 12..8 + 40 + 20],
            &[8, 0, 0, 0, 232, 3, 0, 0]
        );
    }
}
