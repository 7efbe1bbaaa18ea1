//! A small seeded generator (SplitMix64) and stream mixing.

/// SplitMix64: fast, seedable, good enough for synthetic images.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

/// Mixes values into one well-spread seed (for independent per-frame streams).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut r = SplitMix64(a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.next_u64();
    r.next_u64()
}

impl SplitMix64 {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.uniform() * n as f64) as usize % n
        }
    }

    /// Approximately standard normal (sum of four 16-bit uniforms): one draw per call.
    pub fn gauss(&mut self) -> f32 {
        let r = self.next_u64();
        let s = (r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48);
        (s as f32 - 131_070.0) * (1.0 / 37_836.0)
    }

    /// Shuffles `v` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_has_unit_spread() {
        let mut r = SplitMix64::new(3);
        let n = 20000;
        let v: Vec<f32> = (0..n).map(|_| r.gauss()).collect();
        let m = v.iter().sum::<f32>() / n as f32;
        let s = (v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / n as f32).sqrt();
        assert!(m.abs() < 0.03 && (s - 1.0).abs() < 0.03, "{m} {s}");
        assert_eq!(SplitMix64::new(9).next_u64(), SplitMix64::new(9).next_u64());
    }
}
