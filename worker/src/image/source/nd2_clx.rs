//! ND2's CLX-lite metadata (the `…LV!` chunks) parsed into a small tree, the
//! way the `nd2` crate parses it, with every size bounded: nesting depth,
//! entry count, byte arrays and inflated metadata. A hostile chunk is an error
//! here, never an allocation or a recursion the worker cannot survive.

use std::io::Read;

/// Largest inflated metadata accepted (and largest metadata chunk read).
pub(super) const MAX_METADATA: u64 = 16 << 20;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;
/// Most entries one chunk may hold (real files hold a few thousand).
const MAX_ENTRIES: usize = 200_000;
/// CLX-lite type codes that are not scalars.
pub(super) const LEVEL: u8 = 11;
const BYTES: u8 = 9;
const COMPRESS: u8 = 76;

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number of any CLX-lite numeric type (bool, ints, double).
    Num(f64),
    /// A UTF-16 string.
    Text(String),
    /// A byte array that is not itself metadata (flags such as an
    /// `NETimeLoop`'s `pPeriodValid`); as long as the metadata chunk allows.
    Bytes(Vec<u8>),
    /// A named level: its entries in file order.
    Level(Vec<(String, Value)>),
}

impl Value {
    /// The entry `name` of a level, `None` for other values or when absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Level(items) => items.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number, when this is one.
    pub fn num(&self) -> Option<f64> {
        match self {
            Value::Num(v) => Some(*v),
            _ => None,
        }
    }

    /// The entries of a level (empty for other values).
    pub fn items(&self) -> &[(String, Value)] {
        match self {
            Value::Level(items) => items,
            _ => &[],
        }
    }
}

/// Why parsing stopped: a hazard (the crate would allocate or recurse without
/// bound) or plain malformation (the crate reports it itself).
#[derive(Debug)]
pub enum Walk {
    /// Parsing would cost what the file says, unbounded.
    Hazard(String),
    /// The bytes are not CLX-lite.
    Malformed(String),
}

impl Walk {
    /// The reason, for messages.
    pub fn text(self) -> String {
        match self {
            Walk::Hazard(m) | Walk::Malformed(m) => m,
        }
    }
}

/// Parses one metadata chunk: its top-level entries.
pub fn parse(data: &[u8]) -> Result<Vec<(String, Value)>, Walk> {
    let mut budget = MAX_ENTRIES;
    let mut out = Vec::new();
    entries(data, 1, 0, &mut budget, &mut out)?;
    Ok(out)
}

fn take<'a>(d: &mut &'a [u8], n: usize) -> Result<&'a [u8], Walk> {
    if d.len() < n {
        return Err(Walk::Malformed("metadata ends inside an entry".into()));
    }
    let (head, rest) = d.split_at(n);
    *d = rest;
    Ok(head)
}

fn fixed<const N: usize>(d: &mut &[u8]) -> Result<[u8; N], Walk> {
    let mut a = [0u8; N];
    a.copy_from_slice(take(d, N)?);
    Ok(a)
}

fn utf16(b: &[u8]) -> Result<String, Walk> {
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    let text = char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| Walk::Malformed(format!("a name or string is not UTF-16: {e}")))?;
    Ok(text.trim_end_matches('\0').to_string())
}

/// Parses `count` entries of `d` into `out`; returns the bytes used.
fn entries(
    mut d: &[u8],
    count: usize,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<(String, Value)>,
) -> Result<usize, Walk> {
    if depth > MAX_DEPTH {
        return Err(Walk::Hazard(format!(
            "metadata nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let start = d.len();
    for _ in 0..count {
        *budget = budget.checked_sub(1).ok_or_else(|| {
            Walk::Hazard(format!("metadata holds more than {MAX_ENTRIES} entries"))
        })?;
        let [kind, name_len] = fixed::<2>(&mut d)?;
        if kind == COMPRESS {
            take(&mut d, 10)?;
            let mut inflated = Vec::new();
            flate2::read::ZlibDecoder::new(d)
                .take(MAX_METADATA + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| Walk::Malformed(format!("compressed metadata: {e}")))?;
            if inflated.len() as u64 > MAX_METADATA {
                return Err(Walk::Hazard(format!(
                    "compressed metadata inflates past {MAX_METADATA} bytes"
                )));
            }
            entries(&inflated, 1, depth, budget, out)?;
            return Ok(start);
        }
        let name = utf16(take(&mut d, usize::from(name_len) * 2)?)?;
        let value = match kind {
            1 => Value::Num(f64::from(fixed::<1>(&mut d)?[0])),
            2 => Value::Num(f64::from(i32::from_le_bytes(fixed(&mut d)?))),
            3 => Value::Num(f64::from(u32::from_le_bytes(fixed(&mut d)?))),
            4 => Value::Num(i64::from_le_bytes(fixed(&mut d)?) as f64),
            5 | 7 => Value::Num(u64::from_le_bytes(fixed(&mut d)?) as f64),
            6 => Value::Num(f64::from_le_bytes(fixed(&mut d)?)),
            8 => {
                let end = d.chunks_exact(2).position(|c| c == [0, 0]).ok_or_else(|| {
                    Walk::Malformed("a string runs to the end of the metadata".into())
                })?;
                Value::Text(utf16(take(&mut d, end * 2 + 2)?)?)
            }
            BYTES => {
                let size = u64::from_le_bytes(fixed(&mut d)?);
                if size > d.len() as u64 {
                    return Err(Walk::Hazard(format!(
                        "a byte array claims {size} bytes, more than remain"
                    )));
                }
                let bytes = take(&mut d, size as usize)?;
                // The crate parses a byte array that looks like metadata (and keeps
                // the bytes when that fails): only hazards matter inside.
                let mut inner = Vec::new();
                match entries(bytes, 1, depth + 1, budget, &mut inner) {
                    Ok(_) if looks_like_metadata(bytes) => Value::Level(inner),
                    Err(Walk::Hazard(m)) => return Err(Walk::Hazard(m)),
                    _ => Value::Bytes(bytes.to_vec()),
                }
            }
            LEVEL => {
                let items = u32::from_le_bytes(fixed(&mut d)?) as usize;
                take(&mut d, 8)?;
                if items > d.len() / 2 {
                    return Err(Walk::Malformed(format!(
                        "a metadata level claims {items} entries, more than fit"
                    )));
                }
                let mut inner = Vec::new();
                let used = entries(d, items, depth + 1, budget, &mut inner)?;
                take(&mut d, used)?;
                let offsets = items.saturating_mul(8).min(d.len());
                take(&mut d, offsets)?;
                Value::Level(inner)
            }
            other => {
                return Err(Walk::Malformed(format!("unknown metadata type {other}")));
            }
        };
        out.push((name, value));
    }
    Ok(start - d.len())
}

/// The crate's test for a byte array holding metadata: a known type and a
/// name of at least one character.
fn looks_like_metadata(b: &[u8]) -> bool {
    match b {
        [COMPRESS, ..] => true,
        [kind, n, ..] if (1..=LEVEL).contains(kind) && *n > 1 => {
            let end = 2 + usize::from(*n) * 2;
            b.len() >= end && b[end - 2..end] == [0, 0]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn header(out: &mut Vec<u8>, kind: u8, name: &str) {
        out.extend_from_slice(&[kind, name.len() as u8 + 1]);
        for u in name.encode_utf16().chain([0]) {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }

    fn hazard(data: &[u8]) -> String {
        match parse(data) {
            Err(Walk::Hazard(m)) => m,
            Err(Walk::Malformed(m)) => panic!("malformed, not a hazard: {m}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn hazards_the_crate_would_not_survive_are_caught_first() {
        // Levels nested deeper than the crate's recursion can bear.
        let mut deep = Vec::new();
        for _ in 0..200 {
            header(&mut deep, LEVEL, "a");
            deep.extend_from_slice(&1u32.to_le_bytes());
            deep.extend_from_slice(&0u64.to_le_bytes());
        }
        assert!(hazard(&deep).contains("nested deeper"));
        // A byte array claiming a terabyte (the crate would allocate it).
        let mut big = Vec::new();
        header(&mut big, BYTES, "b");
        big.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(hazard(&big).contains("byte array claims"));
        // The same inside a byte array the crate parses as nested metadata.
        let mut outer = Vec::new();
        header(&mut outer, BYTES, "outer");
        outer.extend_from_slice(&(big.len() as u64).to_le_bytes());
        outer.extend_from_slice(&big);
        assert!(hazard(&outer).contains("byte array claims"));
        // Compressed metadata that inflates past the limit (the crate inflates without bound).
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; (MAX_METADATA + 1024) as usize])
            .unwrap();
        let mut bomb = vec![COMPRESS, 0];
        bomb.extend_from_slice(&[0; 10]);
        bomb.extend_from_slice(&z.finish().unwrap());
        assert!(hazard(&bomb).contains("inflates past"));
        // More entries than any real file holds: a tree that size would not fit.
        let mut wide = Vec::new();
        header(&mut wide, LEVEL, "w");
        wide.extend_from_slice(&300_000u32.to_le_bytes());
        wide.extend_from_slice(&0u64.to_le_bytes());
        for _ in 0..300_000 {
            wide.extend_from_slice(&[1, 0, 1]);
        }
        assert!(hazard(&wide).contains("more than 200000 entries"));
    }

    #[test]
    fn levels_scalars_and_strings_are_read() {
        let mut items = Vec::new();
        header(&mut items, 3, "uiWidth");
        items.extend_from_slice(&640u32.to_le_bytes());
        header(&mut items, 8, "wsName");
        for u in "GFP".encode_utf16().chain([0]) {
            items.extend_from_slice(&u.to_le_bytes());
        }
        let mut root = Vec::new();
        header(&mut root, LEVEL, "SLxImageAttributes");
        root.extend_from_slice(&2u32.to_le_bytes());
        root.extend_from_slice(&(items.len() as u64).to_le_bytes());
        root.extend_from_slice(&items);
        root.extend_from_slice(&[0; 16]);
        let top = Value::Level(parse(&root).unwrap());
        let attrs = top.get("SLxImageAttributes").unwrap();
        assert_eq!(attrs.get("uiWidth"), Some(&Value::Num(640.0)));
        assert_eq!(attrs.get("wsName"), Some(&Value::Text("GFP".into())));
        // A lone surrogate is not a string.
        let mut bad = Vec::new();
        header(&mut bad, 8, "s");
        bad.extend_from_slice(&[0x00, 0xd8, 0, 0]);
        assert!(matches!(parse(&bad), Err(Walk::Malformed(m)) if m.contains("UTF-16")));
    }
}
