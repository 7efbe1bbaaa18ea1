//! Supervisor ⇄ worker messages and their wire format.
//!
//! The supervisor opens an [`ipc_channel::ipc::IpcOneShotServer`] of type
//! [`Bootstrap`] and starts the worker with its name. The worker connects, makes
//! one byte channel per direction and sends the supervisor its ends. From then
//! on every message is one bincode-2 frame ([`encode`]/[`decode`]); bulk image
//! data never travels here, only specs, progress and results.

use std::path::PathBuf;

use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::identity::FileIdentity;
use crate::stages::StageReport;
use crate::task::TaskSpec;

/// Bumped whenever a message changes shape; `Hello` carries it so a mismatch is refused, not misread.
pub const PROTOCOL_VERSION: u32 = 4;

/// The parent-death signal the supervisor arms for each worker. Not SIGKILL:
/// the worker catches it and SIGKILLs its whole process group, so children a
/// task started die with it (see the worker's `parent_death` module).
pub const PARENT_DEATH_SIGNAL: nix::sys::signal::Signal = nix::sys::signal::Signal::SIGUSR2;

/// What the worker sends through the one-shot server: the supervisor's sending
/// end of the supervisor→worker channel and its receiving end of worker→supervisor.
pub type Bootstrap = (IpcBytesSender, IpcBytesReceiver);

/// Supervisor → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Run one task attempt and answer with `Finished`.
    Run(Box<TaskSpec>),
    /// Finish up and exit 0.
    Shutdown,
}

/// Worker → supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// First message after connecting.
    Hello {
        /// The worker's process id (as the worker sees it).
        pid: u32,
        /// The worker's package version.
        version: String,
        /// [`PROTOCOL_VERSION`] the worker speaks.
        protocol: u32,
    },
    /// A stage started or advanced.
    Progress {
        /// Task id.
        task: String,
        /// Stage name (`copy`, `segment`, …, or `run` for single-step pipelines).
        stage: String,
        /// 0.0–1.0 within the task.
        fraction: f32,
        /// Free text for logs and progress bars.
        message: String,
    },
    /// The attempt ended inside the worker (it did not crash).
    Finished {
        /// Task id.
        task: String,
        /// How it ended.
        outcome: Outcome,
        /// Absolute paths of the task's final outputs.
        outputs: Vec<PathBuf>,
        /// The worker's own RSS when the task started, bytes.
        rss_before: u64,
        /// The worker's own RSS after the task, bytes.
        rss_after: u64,
        /// The worker's own RSS high-water mark during the task (VmHWM), bytes.
        rss_peak: u64,
        /// One report per stage, for multi-stage pipelines (empty otherwise).
        stages: Vec<StageReport>,
        /// The identity of every input and tracked file as the attempt found it.
        inputs: Vec<FileIdentity>,
    },
}

/// How a task ended, as far as the worker can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Completed; outputs are final.
    Done,
    /// The task reported an error (verdict `failed:error`).
    Error(String),
    /// The input is not what the pipeline needs (verdict `failed:invalid-input`).
    InvalidInput(String),
    /// A program the task ran died of a signal (verdict `failed:crashed`).
    Crashed(String),
}

/// A frame that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Serialisation failed (a bug, not an input problem).
    #[error("cannot encode IPC message: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    /// The peer sent something this side does not understand.
    #[error("cannot decode IPC message: {0}")]
    Decode(#[from] bincode::error::DecodeError),
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes one message as a frame.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, ProtocolError> {
    Ok(bincode::serde::encode_to_vec(msg, config())?)
}

/// Decodes one frame; trailing bytes are an error (a sign of a version mismatch).
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<T, ProtocolError> {
    let (msg, used) = bincode::serde::decode_from_slice(frame, config())?;
    if used != frame.len() {
        return Err(ProtocolError::Decode(
            bincode::error::DecodeError::OtherString(format!(
                "{} trailing bytes after message",
                frame.len() - used
            )),
        ));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Pipeline;

    #[test]
    fn frames_round_trip() {
        let spec = TaskSpec {
            position: None,
            task: "a_b".into(),
            attempt: 2,
            pipeline: Pipeline::Exec,
            inputs: vec!["/in/a b;c.tif".into()],
            fields: vec![("fov".into(), "a".into())],
            task_dir: "/out/a_b".into(),
            log_path: "/out/.isobatch/logs/a_b/attempt-2.log".into(),
            params: [("k".to_string(), "v".to_string())].into(),
            argv: vec!["python3".into(), "x.py".into()],
            stages: crate::StageControl::default(),
            tracked: vec!["/lab/x.py".into()],
            checksum: true,
            reuse_from: Some("/out/a_b".into()),
        };
        let msg = ToWorker::Run(Box::new(spec));
        let frame = encode(&msg).unwrap();
        assert_eq!(decode::<ToWorker>(&frame).unwrap(), msg);
        let fin = FromWorker::Finished {
            task: "t".into(),
            outcome: Outcome::InvalidInput("bad".into()),
            outputs: vec![],
            rss_before: 1,
            rss_after: 2,
            rss_peak: 3,
            stages: vec![
                StageReport {
                    name: "copy".into(),
                    action: crate::StageAction::Reused,
                    seconds: 0.01,
                    peak_rss_bytes: 4,
                    reason: String::new(),
                    qc: None,
                },
                StageReport {
                    name: "segment".into(),
                    action: crate::StageAction::Computed,
                    seconds: 1.5,
                    peak_rss_bytes: 4,
                    reason: "parameter threshold_k changed (3 → 4)".into(),
                    qc: Some(crate::StageQc {
                        frames: vec![crate::FrameQc {
                            cells: 3,
                            covered: 0.25,
                        }],
                        decisions: vec![("polarity".into(), "dark (auto)".into())],
                        warnings: vec!["frame 2: 0 cells".into()],
                    }),
                },
            ],
            inputs: vec![FileIdentity {
                path: "/in/a.tif".into(),
                bytes: 1,
                mtime_ns: 2,
                inode: 3,
                ctime_ns: -4,
                xxh3: Some("ab".into()),
            }],
        };
        assert_eq!(decode::<FromWorker>(&encode(&fin).unwrap()).unwrap(), fin);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode::<FromWorker>(&[0xff; 3]).is_err());
        let mut frame = encode(&ToWorker::Shutdown).unwrap();
        frame.push(0);
        assert!(decode::<ToWorker>(&frame).is_err());
    }
}
