//! Bounds a zstd-compressed CZI subblock before [`super::czi_decode`] inflates it.
//!
//! The inflation writes into the plane's buffer, so it cannot overrun it, but
//! zstd checks each frame's decoded size against the size its header states
//! only once the frame ends, and a frame may leave its size unstated. So the
//! frame and block headers are walked first (no decoding): every frame must
//! state its size, the sizes must add up to the plane, and the most the blocks
//! can produce must stay within the page limit, so a lying subblock is refused
//! before any work.

/// Largest block a zstd decoder produces.
const BLOCK_MAX: u64 = 128 << 10;
/// Frame magic, and the range of skippable-frame magics.
const MAGIC: u32 = 0xFD2F_B528;
const SKIPPABLE: std::ops::RangeInclusive<u32> = 0x184D_2A50..=0x184D_2A5F;

/// Checks a subblock's data: `prefixed` for CZI's `zstd1` (a one- or three-byte
/// header before the stream), `plane` the bytes the plane needs, `limit` the
/// most any decoding may produce.
pub fn check(data: &[u8], prefixed: bool, plane: u64, limit: u64) -> Result<(), String> {
    let stream = if prefixed {
        match data {
            [1, rest @ ..] => rest,
            [3, 1, _, rest @ ..] => rest,
            _ => return Err("a zstd1 subblock with an unknown header".into()),
        }
    } else {
        data
    };
    let (stated, most) = walk(stream)?;
    if stated != plane {
        return Err(format!(
            "a zstd subblock inflates to {stated} bytes, its plane needs {plane}"
        ));
    }
    if most > limit {
        return Err(format!(
            "a zstd subblock whose blocks could inflate to {most} bytes (limit {limit})"
        ));
    }
    Ok(())
}

/// Sums the frames' stated sizes and the blocks' largest output.
fn walk(mut d: &[u8]) -> Result<(u64, u64), String> {
    let (mut stated, mut most) = (0u64, 0u64);
    if d.is_empty() {
        return Err("an empty zstd subblock".into());
    }
    while !d.is_empty() {
        let magic = u32::from_le_bytes(take::<4>(&mut d)?);
        if SKIPPABLE.contains(&magic) {
            let n = u32::from_le_bytes(take::<4>(&mut d)?) as usize;
            d = d
                .get(n..)
                .ok_or("a skippable zstd frame runs past its subblock")?;
            continue;
        }
        if magic != MAGIC {
            return Err(format!("no zstd frame magic (found {magic:#x})"));
        }
        let [fhd] = take::<1>(&mut d)?;
        let single = fhd & 0x20 != 0;
        let window = if single {
            None
        } else {
            let [wd] = take::<1>(&mut d)?;
            let base = 1u64 << (10 + (wd >> 3));
            Some(base + base / 8 * u64::from(wd & 7))
        };
        let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
        d = d
            .get(dict..)
            .ok_or("a zstd frame header runs past its subblock")?;
        let size = match (fhd >> 6, single) {
            (0, false) => return Err("a zstd frame that does not state its size".into()),
            (0, true) => u64::from(take::<1>(&mut d)?[0]),
            (1, _) => u64::from(u16::from_le_bytes(take::<2>(&mut d)?)) + 256,
            (2, _) => u64::from(u32::from_le_bytes(take::<4>(&mut d)?)),
            _ => u64::from_le_bytes(take::<8>(&mut d)?),
        };
        stated = stated.saturating_add(size);
        let block_max = window.unwrap_or(size).min(BLOCK_MAX);
        loop {
            let [a, b, c] = take::<3>(&mut d)?;
            let h = u32::from_le_bytes([a, b, c, 0]);
            let n = (h >> 3) as usize;
            let (out, skip) = match (h >> 1) & 3 {
                0 => (n as u64, n),
                1 => (n as u64, 1),
                2 => (block_max, n),
                _ => return Err("a zstd block of reserved type".into()),
            };
            most = most.saturating_add(out);
            d = d.get(skip..).ok_or("a zstd block runs past its subblock")?;
            if h & 1 == 1 {
                break;
            }
        }
        if fhd & 4 != 0 {
            take::<4>(&mut d)?;
        }
    }
    Ok((stated, most))
}

fn take<const N: usize>(d: &mut &[u8]) -> Result<[u8; N], String> {
    let (head, rest) = d
        .split_first_chunk::<N>()
        .ok_or("a zstd frame runs past its subblock")?;
    *d = rest;
    Ok(*head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_streams_pass_and_lies_are_caught() {
        let plane = vec![7u8; 300_000];
        let z = zstd::bulk::compress(&plane, 3).unwrap();
        assert_eq!(check(&z, false, 300_000, 1 << 30), Ok(()));
        let mut p = vec![1u8];
        p.extend_from_slice(&z);
        assert_eq!(check(&p, true, 300_000, 1 << 30), Ok(()));
        assert!(
            check(&z, false, 600_000, 1 << 30)
                .unwrap_err()
                .contains("needs")
        );
        assert!(
            check(&z, false, 300_000, 1000)
                .unwrap_err()
                .contains("limit")
        );
        assert!(check(&z[..z.len() - 2], false, 300_000, 1 << 30).is_err());
        // A frame without a stated size (streamed), refused rather than trusted.
        let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        e.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut e, &plane).unwrap();
        let unsized_frame = e.finish().unwrap();
        assert!(
            check(&unsized_frame, false, 300_000, 1 << 30)
                .unwrap_err()
                .contains("state")
        );
    }
}
