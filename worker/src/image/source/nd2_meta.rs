//! What an ND2 file's own metadata states, read from the trees
//! [`super::nd2_guard`] parsed, the way the Python `nd2` package reads them:
//!
//! - the order of the experiment loops (`ImageMetadataLV!`: `SLxExperiment`,
//!   each loop's `uiLoopType`, its children under `ppNextLevelEx`), which fixes
//!   how frame chunks are numbered;
//! - the frame interval: the time loop's `uLoopPars/dPeriod` in milliseconds;
//!   an `NETimeLoop` (`eType` 8) states one per period under
//!   `uLoopPars/pPeriod`, each with its `uiCount`, `pPeriodValid` a byte per
//!   period (0: not acquired); periods of different intervals state no single one;
//! - channel names: `SLxPictureMetadata/sPicturePlanes/sPlaneNew/aN/sDescription`
//!   (`ImageMetadataSeqLV|0!`), one per plane, when `uiCount` agrees;
//! - the pixel size: `SLxPictureMetadata/dCalibration` in µm when
//!   `bCalibrated`, which `SLxCalibration/dCalibration` (`ImageCalibrationLV|0!`)
//!   must not contradict.
//!
//! Anything absent, of the wrong type or inconsistent is `None`: never guessed.

use super::nd2_clx::Value;

/// An experiment loop's axis: `P` (XY positions), `T` or `Z`.
pub type LoopAxis = char;

/// Names the ND2 loop types that number frames (`uiLoopType`/`eType`).
fn loop_axis(kind: f64) -> Option<LoopAxis> {
    match kind as u32 {
        1 | 8 => Some('T'),
        2 => Some('P'),
        4 => Some('Z'),
        _ => None,
    }
}

/// One period of a time loop: its frames and the ms between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    /// Frames taken in the period (`uiCount`).
    pub count: f64,
    /// Time between them (`dPeriod`), ms; 0 is "no delay".
    pub ms: f64,
}

/// What the experiment states: loop axes from outermost to innermost, and
/// the time loop's period(s).
#[derive(Debug, Default, PartialEq)]
pub struct Experiment {
    /// Axes in nesting order (outermost first); frame chunks are numbered with
    /// the innermost varying fastest.
    pub axes: Vec<LoopAxis>,
    /// Periods the time loop states (several for an `NETimeLoop`), valid ones only.
    pub periods: Vec<Period>,
}

/// Unwraps the single-entry wrappers (`""`, `i0000000000`, `SLxExperiment`)
/// the crate unwraps.
fn unwrap(mut v: &Value) -> &Value {
    while let [(name, inner)] = v.items()
        && matches!(name.as_str(), "" | "i0000000000" | "SLxExperiment")
    {
        v = inner;
    }
    v
}

impl Experiment {
    /// Reads the loops of `SLxExperiment`; an axis looped twice is refused
    /// (the crate would number frames by one of them).
    pub fn read(root: &Value) -> Result<Experiment, String> {
        let mut out = Experiment::default();
        out.visit(unwrap(root))?;
        Ok(out)
    }

    fn visit(&mut self, node: &Value) -> Result<(), String> {
        let kind = node
            .get("uiLoopType")
            .or_else(|| node.get("eType"))
            .and_then(Value::num);
        let mut pars = node.get("uLoopPars").unwrap_or(node);
        if let [(name, inner)] = pars.items()
            && name == "i0000000000"
        {
            pars = inner;
        }
        let count = |v: &Value| v.get("uiCount").and_then(Value::num).unwrap_or(0.0);
        if let Some(axis) = kind.and_then(loop_axis) {
            let get = |k: &str| pars.get(k).or_else(|| node.get(k));
            let periods: Vec<Period> = match get("pPeriod") {
                Some(list) => {
                    let valid = flags(get("pPeriodValid"));
                    let mut items: Vec<&(String, Value)> = list.items().iter().collect();
                    items.sort_by(|a, b| a.0.cmp(&b.0));
                    (items.into_iter().enumerate())
                        .filter(|(i, _)| valid.as_ref().is_none_or(|v| v.get(*i) == Some(&true)))
                        .filter(|(_, (_, p))| count(p) > 0.0)
                        .filter_map(|(_, (_, p))| {
                            let ms = p.get("dPeriod").and_then(Value::num)?;
                            Some(Period {
                                count: count(p),
                                ms,
                            })
                        })
                        .collect()
                }
                None => (pars.get("dPeriod").and_then(Value::num))
                    .map(|ms| Period {
                        count: count(pars).max(count(node)),
                        ms,
                    })
                    .into_iter()
                    .collect(),
            };
            let counted = count(pars) > 0.0 || count(node) > 0.0 || !periods.is_empty();
            if counted {
                if self.axes.contains(&axis) {
                    return Err(format!(
                        "the experiment loops over {axis} twice; refused rather than guessed"
                    ));
                }
                self.axes.push(axis);
                if axis == 'T' {
                    self.periods = periods;
                }
            }
        }
        if let Some(next) = node.get("ppNextLevelEx") {
            if next.get("uiLoopType").is_some() || next.get("eType").is_some() {
                return self.visit(next);
            }
            let mut items: Vec<&(String, Value)> = next.items().iter().collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, item) in items {
                self.visit(unwrap(item))?;
            }
        }
        Ok(())
    }

    /// The frame interval when the time loop states one positive period:
    /// value and unit, in the largest of h, min, s that keeps it whole, else ms.
    /// `Err` says why there is none when the periods differ.
    pub fn interval(&self) -> Result<Option<(f64, String)>, String> {
        let Some(first) = self.periods.first() else {
            return Ok(None);
        };
        if self.periods.iter().any(|p| p.ms != first.ms) {
            let each: Vec<String> = (self.periods.iter())
                .map(|p| format!("{} × {}", p.count, show_ms(p.ms)))
                .collect();
            return Err(format!(
                "the ND2 time loop has {} periods of different intervals ({}), so no single \
                 frame interval",
                self.periods.len(),
                each.join(", ")
            ));
        }
        Ok((first.ms > 0.0 && first.ms.is_finite()).then(|| ms_interval(first.ms)))
    }
}

/// Per-item flags of a byte array (or a level of numbers), `None` when absent
/// or of another type: every item counts then, as the `nd2` crate counts them.
fn flags(v: Option<&Value>) -> Option<Vec<bool>> {
    match v? {
        Value::Bytes(b) => Some(b.iter().map(|x| *x != 0).collect()),
        Value::Level(items) => Some(items.iter().map(|(_, x)| x.num() != Some(0.0)).collect()),
        _ => None,
    }
}

/// `ms` milliseconds as text in the largest whole unit (`5 s`, `10 min`).
pub fn show_ms(ms: f64) -> String {
    let (v, unit) = ms_interval(ms);
    format!("{v} {unit}")
}

/// `ms` milliseconds in `unit` (one of [`ms_interval`]'s), to 0.01.
pub fn show_in(ms: f64, unit: &str) -> String {
    let per = UNITS.iter().find(|u| u.1 == unit).map_or(1.0, |u| u.0);
    let v = (ms / per * 100.0).round() / 100.0;
    format!("{v} {unit}")
}

/// Milliseconds per unit, largest first.
const UNITS: [(f64, &str); 3] = [(3_600_000.0, "h"), (60_000.0, "min"), (1000.0, "s")];

/// `ms` milliseconds in the largest whole unit.
pub fn ms_interval(ms: f64) -> (f64, String) {
    for (per, unit) in UNITS {
        if (ms / per).fract() == 0.0 {
            return (ms / per, unit.to_string());
        }
    }
    (ms, "ms".to_string())
}

/// Channel names from `SLxPictureMetadata`, one per channel, when the plane
/// list is a level of `channels` planes that `uiCount` agrees with and every
/// `sDescription` is a string; else `None`.
pub fn channel_names(picture: &Value, channels: usize) -> Option<Vec<Option<String>>> {
    let planes = picture.get("sPicturePlanes")?;
    let list = planes
        .get("sPlaneNew")
        .filter(|l| !l.items().is_empty())
        .or_else(|| planes.get("sPlane"))?;
    let stated = planes.get("uiCount").and_then(Value::num)?;
    if list.items().len() != channels || stated != channels as f64 {
        return None;
    }
    list.items()
        .iter()
        .map(|(_, plane)| match plane.get("sDescription") {
            Some(Value::Text(t)) => Some((!t.trim().is_empty()).then(|| t.trim().to_string())),
            Some(_) => None,
            None => Some(None),
        })
        .collect()
}

/// The pixel size in µm when the picture metadata says it is calibrated and
/// the calibration chunk (if any) agrees.
pub fn pixel_size(picture: &Value, calibration: Option<&Value>) -> Option<(f64, f64, String)> {
    let calibrated = picture.get("bCalibrated").and_then(Value::num)?;
    let um = picture
        .get("dCalibration")
        .and_then(Value::num)
        .filter(|v| *v > 0.0 && v.is_finite())?;
    if calibrated == 0.0 {
        return None;
    }
    if let Some(other) = calibration.and_then(|c| c.get("dCalibration")) {
        match other.num() {
            Some(v) if (v - um).abs() <= um * 1e-9 => {}
            _ => return None,
        }
    }
    Some((um, um, "µm".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(items: Vec<(&str, Value)>) -> Value {
        Value::Level(items.into_iter().map(|(n, v)| (n.to_string(), v)).collect())
    }

    fn lp(kind: f64, count: f64, period: Option<f64>, next: Option<Value>) -> Value {
        let mut pars = vec![("uiCount", Value::Num(count))];
        if let Some(p) = period {
            pars.push(("dPeriod", Value::Num(p)));
        }
        let mut items = vec![("uiLoopType", Value::Num(kind)), ("uLoopPars", level(pars))];
        if let Some(n) = next {
            items.push(("ppNextLevelEx", level(vec![("i0000000000", n)])));
        }
        level(items)
    }

    #[test]
    fn loops_are_read_outermost_first_with_the_period() {
        let z = lp(4.0, 3.0, None, None);
        let t = lp(1.0, 5.0, Some(600_000.0), Some(z));
        let root = lp(2.0, 4.0, None, Some(t));
        let e = Experiment::read(&level(vec![("SLxExperiment", root)])).unwrap();
        assert_eq!(e.axes, vec!['P', 'T', 'Z']);
        assert_eq!(e.interval(), Ok(Some((10.0, "min".into()))));
        let twice = lp(1.0, 2.0, Some(1.0), Some(lp(1.0, 3.0, Some(1.0), None)));
        assert!(Experiment::read(&twice).unwrap_err().contains("T twice"));
        // A loop of count 0 numbers nothing; a period of 0 states no interval.
        let e = Experiment::read(&lp(1.0, 4.0, Some(0.0), Some(lp(4.0, 0.0, None, None))));
        assert_eq!(e.as_ref().map(|e| e.axes.clone()), Ok(vec!['T']));
        assert_eq!(e.unwrap().interval(), Ok(None));
        // An NETimeLoop: periods under uLoopPars/pPeriod, those flagged 0 in the
        // pPeriodValid bytes (or of count 0) not acquired.
        let period = |count: f64, ms: f64| {
            let items = vec![("uiCount", Value::Num(count)), ("dPeriod", Value::Num(ms))];
            level(items)
        };
        let ne = |valid: Vec<u8>| {
            let periods = level(vec![
                ("i0000000000", period(3.0, 5000.0)),
                ("i0000000001", period(2.0, 60_000.0)),
                ("i0000000002", period(0.0, 1000.0)),
            ]);
            let pars = level(vec![
                ("uiPeriodCount", Value::Num(3.0)),
                ("pPeriod", periods),
                ("pPeriodValid", Value::Bytes(valid)),
            ]);
            level(vec![("eType", Value::Num(8.0)), ("uLoopPars", pars)])
        };
        let e = Experiment::read(&ne(vec![1, 0, 1])).unwrap();
        assert_eq!(e.axes, vec!['T']);
        assert_eq!(e.interval(), Ok(Some((5.0, "s".into()))));
        let e = Experiment::read(&ne(vec![1, 1, 1])).unwrap();
        let why = e.interval().unwrap_err();
        assert!(
            why.contains("2 periods of different intervals (3 × 5 s, 2 × 1 min)"),
            "{why}"
        );
        assert_eq!(ms_interval(90_000.0), (90.0, "s".into()));
        assert_eq!(ms_interval(1500.0), (1500.0, "ms".into()));
        assert_eq!(ms_interval(7_200_000.0), (2.0, "h".into()));
        assert_eq!(ms_interval(0.5), (0.5, "ms".into()));
    }

    #[test]
    fn names_and_pixel_size_only_when_consistent() {
        let plane = |name: Value| level(vec![("sDescription", name)]);
        let picture = |count: f64, planes: Vec<Value>| {
            let list = planes
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("a{i}"), p))
                .collect();
            level(vec![
                ("bCalibrated", Value::Num(1.0)),
                ("dCalibration", Value::Num(0.65)),
                (
                    "sPicturePlanes",
                    level(vec![
                        ("uiCount", Value::Num(count)),
                        ("sPlaneNew", Value::Level(list)),
                    ]),
                ),
            ])
        };
        let good = picture(
            2.0,
            vec![
                plane(Value::Text("Phase".into())),
                plane(Value::Text("".into())),
            ],
        );
        assert_eq!(
            channel_names(&good, 2),
            Some(vec![Some("Phase".into()), None])
        );
        assert_eq!(channel_names(&good, 3), None);
        let wrong_count = picture(3.0, vec![plane(Value::Num(1.0)), plane(Value::Num(2.0))]);
        assert_eq!(channel_names(&wrong_count, 2), None);
        let wrong_type = picture(
            2.0,
            vec![plane(Value::Num(1.0)), plane(Value::Bytes(Vec::new()))],
        );
        assert_eq!(channel_names(&wrong_type, 2), None);
        assert_eq!(pixel_size(&good, None), Some((0.65, 0.65, "µm".into())));
        let agree = level(vec![("dCalibration", Value::Num(0.65))]);
        assert!(pixel_size(&good, Some(&agree)).is_some());
        let contradicts = level(vec![("dCalibration", Value::Num(0.325))]);
        assert_eq!(pixel_size(&good, Some(&contradicts)), None);
    }
}
