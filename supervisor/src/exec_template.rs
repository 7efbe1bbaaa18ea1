//! `--exec` templates: split once like a shell, substitute placeholders per argument, never
//! re-split or interpret the substituted values (DESIGN.md, "Command line").

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::braces::{self, BraceError, Part};
use crate::discovery::Task;

/// The placeholders every template may use, besides the pattern's fields.
const BUILTINS: [&str; 5] = ["input", "inputs", "task", "task_dir", "attempt"];

/// One piece of a template argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text used as is (`{{`/`}}` already unescaped).
    Literal(String),
    /// `{input}`: the task's first input.
    Input,
    /// `{inputs}` inside a larger argument: the inputs joined by one space.
    Inputs,
    /// `{task}`: the task id.
    Task,
    /// `{task_dir}`: the task's output folder.
    TaskDir,
    /// `{attempt}`: the attempt number.
    Attempt,
    /// `{field}`: a pattern field's captured value.
    Field(String),
    /// `{param.KEY}`: the value of `--param KEY=VALUE`.
    Param(String),
}

/// One argument of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    /// An argument that is exactly `{inputs}`: one argv entry per input.
    EachInput,
    /// Anything else: the pieces are concatenated into one argv entry.
    Pieces(Vec<Piece>),
}

/// A parsed `--exec` template: the program and its argument templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTemplate {
    /// The program (first word); it has no placeholders.
    program: String,
    /// The arguments after the program.
    args: Vec<Arg>,
}

/// Why an `--exec` template or its program cannot be used (a usage error, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ExecTemplateError {
    /// The template has no words.
    #[error(
        "the --exec template is empty; give a program and its arguments, e.g. --exec 'tool {{input}} {{task_dir}}'."
    )]
    Empty,
    /// The template's quotes do not balance.
    #[error("the --exec template `{template}` has an unbalanced quote or a trailing backslash.")]
    Unbalanced {
        /// The template as given.
        template: String,
    },
    /// A `{name}` that is neither a built-in placeholder nor a pattern field.
    #[error(
        "the --exec template `{template}` uses the unknown placeholder `{{{name}}}`; valid \
         placeholders are {valid} (write `{{{{` and `}}}}` for literal braces)."
    )]
    UnknownPlaceholder {
        /// The template as given.
        template: String,
        /// The name between the braces.
        name: String,
        /// The valid placeholders, listed.
        valid: String,
    },
    /// A `{` without its `}` in one argument.
    #[error(
        "the --exec template `{template}` has a `{{` without a closing `}}` in the argument \
         `{argument}` (write `{{{{` for a literal brace); valid placeholders are {valid}."
    )]
    UnclosedBrace {
        /// The template as given.
        template: String,
        /// The argument (after shell splitting).
        argument: String,
        /// The valid placeholders, listed.
        valid: String,
    },
    /// A `}` without a `{`.
    #[error(
        "the --exec template `{template}` has a `}}` without an opening `{{` in the argument \
         `{argument}` (write `}}}}` for a literal brace)."
    )]
    UnmatchedClose {
        /// The template as given.
        template: String,
        /// The argument (after shell splitting).
        argument: String,
    },
    /// The program word contains a placeholder.
    #[error(
        "the program `{program}` of the --exec template contains a placeholder; the program is \
         resolved once at start, so only its arguments may use placeholders."
    )]
    PlaceholderInProgram {
        /// The program word.
        program: String,
    },
    /// A pattern field has the name of a built-in placeholder.
    #[error(
        "the pattern field `{field}` has the same name as the built-in --exec placeholder \
         `{{{field}}}`; rename the field in --pattern."
    )]
    FieldShadowsBuiltin {
        /// The field name.
        field: String,
    },
    /// The program does not exist (path) or is not on PATH.
    #[error("the --exec program `{program}` was not found{where_}.")]
    ProgramNotFound {
        /// The program as given.
        program: String,
        /// Where it was looked for (starts with a space, or is empty).
        where_: String,
    },
    /// `{param.KEY}` without a `--param KEY=VALUE`.
    #[error(
        "the --exec template `{template}` uses `{{param.{key}}}`, but no --param {key}=VALUE was \
         given (given: {given})."
    )]
    ParamNotGiven {
        /// The template as given.
        template: String,
        /// The key between `param.` and `}}`.
        key: String,
        /// The keys that were given, listed.
        given: String,
    },
    /// The program exists but cannot be executed.
    #[error("the --exec program {} is not an executable file.", path.display())]
    ProgramNotExecutable {
        /// The program's path.
        path: PathBuf,
    },
}

impl ExecTemplate {
    /// Splits `template` once like a shell and parses the placeholders of each argument;
    /// `field_names` are the pattern's fields, usable as `{field}`.
    pub fn parse(
        template: &str,
        field_names: &[String],
    ) -> Result<ExecTemplate, ExecTemplateError> {
        if let Some(field) = field_names.iter().find(|f| BUILTINS.contains(&f.as_str())) {
            return Err(ExecTemplateError::FieldShadowsBuiltin {
                field: field.clone(),
            });
        }
        let words = shell_words::split(template).map_err(|_| ExecTemplateError::Unbalanced {
            template: template.to_string(),
        })?;
        let mut words = words.into_iter();
        let program_word = words.next().ok_or(ExecTemplateError::Empty)?;
        let valid = || {
            BUILTINS
                .iter()
                .map(|s| s.to_string())
                .chain(field_names.iter().cloned())
                .chain(["param.KEY".to_string()])
                .map(|n| format!("{{{n}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let parse_word = |word: &str| parse_argument(word, template, field_names, &valid);
        let program = match parse_word(&program_word)?.as_slice() {
            [] => String::new(),
            [Piece::Literal(text)] => text.clone(),
            _ => {
                return Err(ExecTemplateError::PlaceholderInProgram {
                    program: program_word,
                });
            }
        };
        if program.is_empty() {
            return Err(ExecTemplateError::Empty);
        }
        let mut args = Vec::new();
        for word in words {
            let pieces = parse_word(&word)?;
            args.push(if pieces == [Piece::Inputs] {
                Arg::EachInput
            } else {
                Arg::Pieces(pieces)
            });
        }
        Ok(ExecTemplate { program, args })
    }

    /// Refuses a `{param.KEY}` placeholder whose `--param KEY=VALUE` was not
    /// given: the command would otherwise get an empty argument silently.
    pub fn check_params(
        &self,
        template: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<(), ExecTemplateError> {
        let used = self.args.iter().flat_map(|a| match a {
            Arg::Pieces(p) => p.as_slice(),
            Arg::EachInput => &[],
        });
        for piece in used {
            if let Piece::Param(key) = piece
                && !params.contains_key(key)
            {
                return Err(ExecTemplateError::ParamNotGiven {
                    template: template.to_string(),
                    key: key.clone(),
                    given: if params.is_empty() {
                        "none".into()
                    } else {
                        params.keys().cloned().collect::<Vec<_>>().join(", ")
                    },
                });
            }
        }
        Ok(())
    }

    /// The program word (a name to look up on PATH, or a path); see [`resolve_program`].
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The argv for one attempt of `task`: the program word as written (start the path from
    /// [`resolve_program`] instead, with `argv[1..]`), then every argument with its
    /// placeholders substituted (`{param.KEY}` from `params`). Values are inserted verbatim
    /// and never re-split; paths that are not UTF-8 are converted lossily.
    pub fn render(
        &self,
        task: &Task,
        task_dir: &Path,
        attempt: u32,
        params: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut argv = vec![self.program.clone()];
        for arg in &self.args {
            match arg {
                Arg::EachInput => argv.extend(task.inputs.iter().map(|p| lossy(p))),
                Arg::Pieces(pieces) => {
                    let mut out = String::new();
                    for piece in pieces {
                        match piece {
                            Piece::Literal(text) => out.push_str(text),
                            Piece::Input => {
                                if let Some(first) = task.inputs.first() {
                                    out.push_str(&lossy(first));
                                }
                            }
                            Piece::Inputs => {
                                let all: Vec<String> =
                                    task.inputs.iter().map(|p| lossy(p)).collect();
                                out.push_str(&all.join(" "));
                            }
                            Piece::Task => out.push_str(&task.id),
                            Piece::TaskDir => out.push_str(&lossy(task_dir)),
                            Piece::Attempt => out.push_str(&attempt.to_string()),
                            Piece::Field(name) => out.push_str(task.field(name).unwrap_or("")),
                            Piece::Param(key) => {
                                out.push_str(params.get(key).map_or("", String::as_str));
                            }
                        }
                    }
                    argv.push(out);
                }
            }
        }
        argv
    }
}

/// Resolves the program of a template: a name containing `/` must be an existing executable
/// file (made absolute against the current folder); any other name is searched on `PATH`.
pub fn resolve_program(program: &str) -> Result<PathBuf, ExecTemplateError> {
    resolve_in(program, std::env::var_os("PATH").as_deref())
}

/// [`resolve_program`] against an explicit `PATH` value.
fn resolve_in(program: &str, path_var: Option<&OsStr>) -> Result<PathBuf, ExecTemplateError> {
    if program.is_empty() {
        return Err(ExecTemplateError::Empty);
    }
    if program.contains('/') {
        let path = Path::new(program);
        if !path.exists() {
            return Err(ExecTemplateError::ProgramNotFound {
                program: program.to_string(),
                where_: String::new(),
            });
        }
        if !is_executable(path) {
            return Err(ExecTemplateError::ProgramNotExecutable {
                path: path.to_path_buf(),
            });
        }
        return Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    }
    let dirs: Vec<PathBuf> = path_var
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    // An empty PATH entry means the current folder; it is skipped on purpose.
    for dir in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return Ok(std::path::absolute(&candidate).unwrap_or(candidate));
        }
    }
    Err(ExecTemplateError::ProgramNotFound {
        program: program.to_string(),
        where_: match path_var {
            Some(p) => format!(" on PATH ({})", p.to_string_lossy()),
            None => " (PATH is not set)".to_string(),
        },
    })
}

/// Whether `path` is a file the current user may execute (any execute bit, on Unix).
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// A path as a `String`, lossily if it is not UTF-8.
fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Parses the placeholders of one (already shell-split) argument.
fn parse_argument(
    word: &str,
    template: &str,
    field_names: &[String],
    valid: &dyn Fn() -> String,
) -> Result<Vec<Piece>, ExecTemplateError> {
    let parts = braces::tokenize(word, &[]).map_err(|e| match e {
        BraceError::UnmatchedClose => ExecTemplateError::UnmatchedClose {
            template: template.to_string(),
            argument: word.to_string(),
        },
        BraceError::Unclosed(_) => ExecTemplateError::UnclosedBrace {
            template: template.to_string(),
            argument: word.to_string(),
            valid: valid(),
        },
    })?;
    parts
        .into_iter()
        .map(|part| {
            let name = match part {
                Part::Literal(text) => return Ok(Piece::Literal(text)),
                // No specials were requested, so this never occurs; keep it literal.
                Part::Special(c) => return Ok(Piece::Literal(c.to_string())),
                Part::Name(name) => name,
            };
            Ok(match name.as_str() {
                "input" => Piece::Input,
                "inputs" => Piece::Inputs,
                "task" => Piece::Task,
                "task_dir" => Piece::TaskDir,
                "attempt" => Piece::Attempt,
                field if field_names.iter().any(|f| f == field) => Piece::Field(name),
                other if other.starts_with("param.") && other.len() > "param.".len() => {
                    Piece::Param(other["param.".len()..].to_string())
                }
                _ => {
                    return Err(ExecTemplateError::UnknownPlaceholder {
                        template: template.to_string(),
                        name,
                        valid: valid(),
                    });
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn task(inputs: &[&str]) -> Task {
        Task {
            id: "s1_red".into(),
            fields: vec![("sample".into(), "s1".into()), ("dye".into(), "red".into())],
            inputs: inputs.iter().map(PathBuf::from).collect(),
            position: None,
        }
    }

    fn render(template: &str, inputs: &[&str]) -> Vec<String> {
        ExecTemplate::parse(template, &fields(&["sample", "dye"]))
            .expect("template")
            .render(&task(inputs), Path::new("/out/s1_red"), 2, &BTreeMap::new())
    }

    #[test]
    fn substitutes_every_placeholder_per_argument() {
        assert_eq!(
            render(
                "tool --in={input} -o '{task_dir}/x.tif' {task} {attempt} {sample}-{dye}",
                &["/raw/a.tif", "/raw/b.tif"]
            ),
            [
                "tool",
                "--in=/raw/a.tif",
                "-o",
                "/out/s1_red/x.tif",
                "s1_red",
                "2",
                "s1-red"
            ]
        );
    }

    #[test]
    fn hostile_file_name_is_exactly_one_argument() {
        let hostile = "/raw/a b'\";rm -rf x.tif";
        assert_eq!(
            render("tool {input} --name={sample}", &[hostile]),
            ["tool", hostile, "--name=s1"]
        );
        assert_eq!(
            render("tool {inputs}", &[hostile, "/raw/$(x).tif"]),
            ["tool", hostile, "/raw/$(x).tif"]
        );
        let t = Task {
            id: "x".into(),
            fields: vec![
                ("sample".into(), "$(reboot) `a` 'b'".into()),
                ("dye".into(), "d".into()),
            ],
            inputs: vec![],
            position: None,
        };
        let tpl = ExecTemplate::parse("echo {sample}", &fields(&["sample", "dye"])).expect("tpl");
        assert_eq!(
            tpl.render(&t, Path::new("/o"), 1, &BTreeMap::new()),
            ["echo", "$(reboot) `a` 'b'"]
        );
    }

    #[test]
    fn inputs_expand_alone_and_join_inside_an_argument() {
        let inputs = ["/r/a.tif", "/r/b c.tif", "/r/d.tif"];
        assert_eq!(
            render("tool {inputs} --all={inputs}", &inputs),
            [
                "tool",
                "/r/a.tif",
                "/r/b c.tif",
                "/r/d.tif",
                "--all=/r/a.tif /r/b c.tif /r/d.tif"
            ]
        );
        assert_eq!(
            render("tool {inputs} {input} end", &[]),
            ["tool", "", "end"]
        );
        // Quoting does not change the expansion: the argument is still exactly `{inputs}`.
        assert_eq!(render("tool '{inputs}'", &inputs).len(), 4);
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(
            render("awk '{{print $1}}' {{input}} {{{input}}}", &["/r/a.tif"]),
            ["awk", "{print $1}", "{input}", "{/r/a.tif}"]
        );
    }

    #[test]
    fn shell_splitting_happens_once() {
        assert_eq!(
            render(r#"sh -c "echo \"{task}\"; ls" 'a b' c\ d"#, &[]),
            ["sh", "-c", "echo \"s1_red\"; ls", "a b", "c d"]
        );
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let f = fields(&["sample", "dye"]);
        let err = ExecTemplate::parse("tool {inptu}", &f).expect_err("unknown");
        let text = err.to_string();
        assert!(
            matches!(err, ExecTemplateError::UnknownPlaceholder { .. }),
            "{text}"
        );
        assert!(
            text.contains("`{inptu}`") && text.contains("tool {inptu}"),
            "{text}"
        );
        assert!(
            text.contains(
                "{input}, {inputs}, {task}, {task_dir}, {attempt}, {sample}, {dye}, {param.KEY}"
            ),
            "{text}"
        );
        let err = ExecTemplate::parse("tool {input", &f).expect_err("unclosed");
        assert!(
            matches!(err, ExecTemplateError::UnclosedBrace { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("{sample}"), "{err}");
        let err = ExecTemplate::parse("tool input}", &f).expect_err("close");
        assert!(
            matches!(err, ExecTemplateError::UnmatchedClose { .. }),
            "{err}"
        );
        for empty in ["", "   ", "''"] {
            let err = ExecTemplate::parse(empty, &f).expect_err("empty");
            assert!(matches!(err, ExecTemplateError::Empty), "{err}");
        }
        let err = ExecTemplate::parse("tool 'unbalanced", &f).expect_err("quote");
        assert!(err.to_string().contains("tool 'unbalanced"), "{err}");
        let err = ExecTemplate::parse("{task_dir}/run.sh", &f).expect_err("program");
        assert!(
            matches!(err, ExecTemplateError::PlaceholderInProgram { .. }),
            "{err}"
        );
        let err = ExecTemplate::parse("tool {dye}", &fields(&["task", "dye"])).expect_err("clash");
        assert!(
            matches!(err, ExecTemplateError::FieldShadowsBuiltin { .. }),
            "{err}"
        );
    }

    #[test]
    fn program_is_the_first_word() {
        let tpl = ExecTemplate::parse("'./my tool' {input}", &[]).expect("tpl");
        assert_eq!(tpl.program(), "./my tool");
        assert_eq!(
            tpl.render(&task(&["/a"]), Path::new("/o"), 1, &BTreeMap::new()),
            ["./my tool", "/a"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn resolves_programs_by_path_and_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("mytool");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").expect("write");
        let path_var = std::env::join_paths(["/nonexistent", dir.path().to_str().expect("utf8")])
            .expect("join");

        assert_eq!(resolve_in("mytool", Some(&path_var)).expect("on PATH"), exe);
        let exe_str = exe.to_str().expect("utf8");
        assert_eq!(resolve_in(exe_str, None).expect("by path"), exe);
        let err = resolve_in("plain", Some(&path_var)).expect_err("not executable on PATH");
        assert!(
            matches!(err, ExecTemplateError::ProgramNotFound { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent"), "{err}");
        let err = resolve_in(plain.to_str().expect("utf8"), None).expect_err("not executable");
        assert!(
            matches!(err, ExecTemplateError::ProgramNotExecutable { .. }),
            "{err}"
        );
        let err = resolve_in(dir.path().to_str().expect("utf8"), None).expect_err("dir");
        assert!(
            matches!(err, ExecTemplateError::ProgramNotExecutable { .. }),
            "{err}"
        );
        let err = resolve_in("./no/such/tool", None).expect_err("missing");
        assert!(
            err.to_string().contains("`./no/such/tool` was not found."),
            "{err}"
        );
        let err = resolve_in("tool", None).expect_err("no PATH");
        assert!(err.to_string().contains("PATH is not set"), "{err}");
        // The real PATH has `sh`.
        assert!(resolve_program("sh").expect("sh").is_absolute());
    }
}
