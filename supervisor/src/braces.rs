//! The `{name}` placeholder syntax shared by `--pattern` and `--exec`:
//! `{name}` is a placeholder, `{{` and `}}` are literal braces, a lone `}`
//! is an error. Callers decide what names mean and how errors read.

/// One piece of a tokenized string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text to use as is (braces already unescaped).
    Literal(String),
    /// `{name}` (the name may be empty; the caller judges it).
    Name(String),
    /// One of the caller's special characters (e.g. `*` in patterns).
    Special(char),
}

/// Why a string is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BraceError {
    /// A `}` with no `{` before it (and not `}}`).
    UnmatchedClose,
    /// `{name` with no closing `}`; carries what was read of the name.
    Unclosed(String),
}

/// Splits `text` into literals, `{name}` placeholders and `specials`.
pub fn tokenize(text: &str, specials: &[char]) -> Result<Vec<Part>, BraceError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    let flush = |literal: &mut String, parts: &mut Vec<Part>| {
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(literal)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' if chars.peek() == Some(&c) => {
                chars.next();
                literal.push(c);
            }
            '}' => return Err(BraceError::UnmatchedClose),
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(BraceError::Unclosed(name));
                }
                flush(&mut literal, &mut parts);
                parts.push(Part::Name(name));
            }
            c if specials.contains(&c) => {
                flush(&mut literal, &mut parts);
                parts.push(Part::Special(c));
            }
            other => literal.push(other),
        }
    }
    flush(&mut literal, &mut parts);
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_escapes_and_errors() {
        assert_eq!(
            tokenize("a{{b}}{x}*c", &['*']),
            Ok(vec![
                Part::Literal("a{b}".into()),
                Part::Name("x".into()),
                Part::Special('*'),
                Part::Literal("c".into()),
            ])
        );
        assert_eq!(tokenize("a*b", &[]), Ok(vec![Part::Literal("a*b".into())]));
        assert_eq!(tokenize("{}", &[]), Ok(vec![Part::Name(String::new())]));
        assert_eq!(tokenize("a}b", &[]), Err(BraceError::UnmatchedClose));
        assert_eq!(tokenize("{ab", &[]), Err(BraceError::Unclosed("ab".into())));
    }
}
