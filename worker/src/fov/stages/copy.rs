//! Stage 1, copy: the input position's planes to one checkpoint stack per channel.

use std::path::PathBuf;

use super::{Fov, commit_all, tick};
use crate::image::source::PlaneFile;
use crate::image::{Dtype, Pixel};
use crate::stage::{Stage, StageError};

/// Stage 1: every channel of the input position to its own (T,H,W) stack, plane by
/// plane (focal planes projected or picked per `--param z`).
pub struct Copy<'a>(pub &'a Fov<'a>);

impl Copy<'_> {
    /// Reads every channel of focal plane `z` of frame `t` into `outs` (raw samples
    /// of the input dtype, one plane per channel) in one call, so a reader whose
    /// frames interleave the channels splits each frame once.
    fn read<'b>(
        &self,
        file: &mut dyn PlaneFile,
        t: usize,
        z: usize,
        outs: impl Iterator<Item = &'b mut [u8]>,
    ) -> Result<(), StageError> {
        let f = self.0;
        let mut planes: Vec<(usize, &mut [u8])> = outs
            .enumerate()
            .map(|(c, out)| (f.layout.plane(t, c, z), out))
            .collect();
        file.read_planes(f.position.unwrap_or(0), &mut planes)
            .map_err(|e| StageError::Image(e.at_position(f.position)))
    }

    fn copy_as<T: Pixel>(&self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        let f = self.0;
        let (mut file, _, _) = crate::fov::open(&f.input, f.position, f.config)
            .map_err(|e| StageError::InvalidInput(e.to_string()))?;
        let mut sinks = (0..f.layout.channels)
            .map(|c| f.sink::<T>(&format!("copy_c{c}")))
            .collect::<Result<Vec<_>, _>>()?;
        let (n, channels) = (f.frame_len(), f.layout.channels);
        let zs = f.layout.z_range();
        // Mean projection (float32) when the stored dtype is not the input's.
        let mean = T::DTYPE != f.input_dtype;
        let bytes = n * f.input_dtype.bytes();
        // Per channel: the frame written, and (projections only) a focal plane as read,
        // u32-aligned so it casts to any input dtype, and the mean's sums.
        let mut pages = vec![vec![T::default(); n]; channels];
        let projected = if mean || zs.len() > 1 { channels } else { 0 };
        let mut raws = vec![vec![0u32; bytes.div_ceil(4)]; projected];
        let mut accs: Vec<Vec<f32>> = vec![Vec::new(); channels];
        let mut plane = vec![0f32; if mean { n } else { 0 }];
        for t in 0..f.layout.frames {
            for (k, z) in zs.clone().enumerate() {
                if k == 0 && !mean {
                    // One plane, or a maximum projection's first: straight into the frame.
                    let outs = pages.iter_mut().map(|p| bytemuck::cast_slice_mut(p));
                    self.read(file.as_mut(), t, z, outs)?;
                    continue;
                }
                let outs = raws
                    .iter_mut()
                    .map(|r| &mut bytemuck::cast_slice_mut::<u32, u8>(r)[..bytes]);
                self.read(file.as_mut(), t, z, outs)?;
                for ((raw, page), acc) in raws.iter().zip(&mut pages).zip(&mut accs) {
                    let raw = &bytemuck::cast_slice::<u32, u8>(raw)[..bytes];
                    if !mean {
                        let raw: &[T] = bytemuck::try_cast_slice(raw)
                            .map_err(|e| StageError::Failed(format!("{e:?}")))?;
                        for (o, &v) in page.iter_mut().zip(raw) {
                            if v.to_f32() > o.to_f32() {
                                *o = v;
                            }
                        }
                        continue;
                    }
                    crate::image::convert_to_f32(f.input_dtype, raw, &mut plane)
                        .map_err(|e| StageError::Failed(e.to_string()))?;
                    if k == 0 {
                        acc.clear();
                        acc.extend_from_slice(&plane);
                    } else {
                        for (a, v) in acc.iter_mut().zip(&plane) {
                            *a += v;
                        }
                    }
                }
            }
            for ((sink, page), acc) in sinks.iter_mut().zip(&mut pages).zip(&accs) {
                if mean {
                    let k = zs.len() as f32;
                    for (o, a) in page.iter_mut().zip(acc) {
                        *o = T::from_f32(a / k);
                    }
                }
                sink.write_frame(t, page).map_err(StageError::Image)?;
            }
            tick(progress, t, f.layout.frames);
        }
        commit_all(sinks)
    }
}

impl Stage for Copy<'_> {
    fn name(&self) -> &'static str {
        "copy"
    }
    fn version(&self) -> u32 {
        1
    }
    fn params(&self) -> Vec<(String, String)> {
        let l = &self.0.layout;
        vec![
            ("channels".into(), l.channels.to_string()),
            ("format".into(), self.0.format.to_string()),
            ("position".into(), format!("{:?}", self.0.position)),
            ("order".into(), l.order.to_string()),
            ("z".into(), format!("{} of {}", l.z, l.z_planes)),
        ]
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.0.input.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        (0..self.0.layout.channels)
            .flat_map(|c| self.0.files(&format!("copy_c{c}")))
            .collect()
    }
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        match self.0.dtype {
            Dtype::U8 => self.copy_as::<u8>(progress),
            Dtype::U16 => self.copy_as::<u16>(progress),
            Dtype::U32 => self.copy_as::<u32>(progress),
            Dtype::F32 => self.copy_as::<f32>(progress),
        }
    }
}
