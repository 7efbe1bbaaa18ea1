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
    /// Reads plane (t, c, z) of the position into `out` (raw samples of the input dtype).
    fn read(
        &self,
        file: &mut dyn PlaneFile,
        t: usize,
        c: usize,
        z: usize,
        out: &mut [u8],
    ) -> Result<(), StageError> {
        let f = self.0;
        file.read_plane(f.position.unwrap_or(0), f.layout.plane(t, c, z), out)
            .map_err(|e| StageError::Image(e.at_position(f.position)))
    }

    fn copy_as<T: Pixel>(&self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        let f = self.0;
        let (mut file, _, _) = crate::fov::open(&f.input, f.position, f.config)
            .map_err(|e| StageError::InvalidInput(e.to_string()))?;
        let mut sinks = (0..f.layout.channels)
            .map(|c| f.sink::<T>(&format!("copy_c{c}")))
            .collect::<Result<Vec<_>, _>>()?;
        let n = f.frame_len();
        let mut raw = vec![0u32; (n * f.input_dtype.bytes()).div_ceil(4)];
        let raw = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut raw)[..n * f.input_dtype.bytes()];
        let mut page = vec![T::default(); n];
        let mut acc = vec![0f32; if T::DTYPE == f.input_dtype { 0 } else { n }];
        let zs = f.layout.z_range();
        for t in 0..f.layout.frames {
            for (c, sink) in sinks.iter_mut().enumerate() {
                if T::DTYPE == f.input_dtype {
                    // One plane, or a maximum projection: the input's own samples.
                    for (k, z) in zs.clone().enumerate() {
                        if k == 0 {
                            self.read(file.as_mut(), t, c, z, bytemuck::cast_slice_mut(&mut page))?;
                        } else {
                            self.read(file.as_mut(), t, c, z, raw)?;
                            let plane: &[T] = bytemuck::try_cast_slice(raw)
                                .map_err(|e| StageError::Failed(format!("{e:?}")))?;
                            for (o, &v) in page.iter_mut().zip(plane) {
                                if v.to_f32() > o.to_f32() {
                                    *o = v;
                                }
                            }
                        }
                    }
                } else {
                    // Mean projection, in float32.
                    acc.fill(0.0);
                    let mut plane = vec![0f32; n];
                    for z in zs.clone() {
                        self.read(file.as_mut(), t, c, z, raw)?;
                        crate::image::convert_to_f32(f.input_dtype, raw, &mut plane)
                            .map_err(|e| StageError::Failed(e.to_string()))?;
                        for (a, v) in acc.iter_mut().zip(&plane) {
                            *a += v;
                        }
                    }
                    let k = zs.len() as f32;
                    for (o, a) in page.iter_mut().zip(&acc) {
                        *o = T::from_f32(a / k);
                    }
                }
                sink.write_frame(t, &page).map_err(StageError::Image)?;
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
