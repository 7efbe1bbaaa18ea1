//! Numbers for `traces.csv`, written as `format!("{x:.p$}")` writes them, faster.
//!
//! std's fixed-precision formatting rounds the exact binary value, and for
//! most values it takes its slow bignum path (Dragon4) to do so. Here the value
//! is scaled by 10^p in f64 and rounded to an integer: the scaled product is off
//! by under 2^-13 while it stays below 2^40, so whenever its fraction is not
//! within 2^-12 of one half, the rounding is the one the exact value gets. The
//! rest (near-ties, huge values, NaN, infinities) goes through std.

use std::fmt::Write as _;

/// 10^p for the precisions served by the fast path.
const POW10: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
/// Scaled values from here on go through std (the product's error grows with it).
const LIMIT: f64 = (1u64 << 40) as f64;
/// Scaled values whose fraction is this close to one half go through std.
const MARGIN: f64 = 1.0 / 4096.0;

/// Appends the decimal digits of `n`, zero-padded to at least `width`.
pub fn push_uint(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n > 0 || buf.len() - i < width.clamp(1, buf.len()) {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(buf[i..].iter().map(|&b| char::from(b)));
}

/// Appends `x` with `p` decimals, byte for byte as `write!(out, "{x:.p$}")`.
pub fn push_fixed(out: &mut String, x: f64, p: usize) {
    let Some(&scale) = POW10.get(p) else {
        // Writing to a String cannot fail.
        let _ = write!(out, "{x:.p$}");
        return;
    };
    let s = x.abs() * scale;
    let frac = s - s.floor();
    // NaN fails both comparisons, so it goes through std too.
    if !(s < LIMIT && (frac - 0.5).abs() > MARGIN) {
        let _ = write!(out, "{x:.p$}");
        return;
    }
    let n = s.round() as u64;
    let unit = POW10[p] as u64;
    if x.is_sign_negative() {
        out.push('-');
    }
    push_uint(out, n / unit, 1);
    if p > 0 {
        out.push('.');
        push_uint(out, n % unit, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rng::SplitMix64;

    fn check(x: f64) {
        for p in [0, 1, 3, 4, 9, 12] {
            let mut got = String::new();
            push_fixed(&mut got, x, p);
            assert_eq!(got, format!("{x:.p$}"), "{x:e} ({:#x}) at {p}", x.to_bits());
        }
    }

    #[test]
    fn writes_what_std_writes() {
        let mut rng = SplitMix64::new(20);
        for x in [
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE / 3.0,
            f64::EPSILON,
            0.0005,
            f64::from_bits(0.0005f64.to_bits() - 1),
            -0.0005,
            0.125,
            2.5,
            -2.5,
            0.5,
            1.5,
            1e-300,
            -1e-7,
            LIMIT / 1e3,
            LIMIT / 1e4,
            LIMIT / 1e3 - 0.0005,
            1e15 + 0.5,
        ] {
            check(x);
        }
        for _ in 0..60_000 {
            // Any bit pattern; numbers of traces' range; exact halves and near-halves
            // at 3 and 4 decimals (dyadic ties such as k/16, their neighbours).
            let bits = f64::from_bits(rng.next_u64());
            let mag = 10f64.powi(rng.below(14) as i32 - 4);
            let plain = rng.range(-1.0, 1.0) * mag;
            let tie = (rng.below(1 << 20) as f64 * 2.0 + 1.0) / [2.0, 16.0, 32.0][rng.below(3)];
            let halves = [tie / 1e3, tie / 1e4, -tie / 1e3];
            let near = halves.map(|h| f64::from_bits(h.to_bits() + rng.below(3) as u64 - 1));
            for x in [bits, plain, plain.round() / 1e3, plain.round() / 1e4]
                .into_iter()
                .chain(halves)
                .chain(near)
            {
                check(x);
            }
        }
    }

    #[test]
    fn integers_are_padded_to_the_width() {
        for (n, width, want) in [
            (0, 1, "0"),
            (0, 3, "000"),
            (7, 4, "0007"),
            (1234, 2, "1234"),
            (u64::MAX, 1, "18446744073709551615"),
        ] {
            let mut s = String::new();
            push_uint(&mut s, n, width);
            assert_eq!(s, want);
        }
    }
}
