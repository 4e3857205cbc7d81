//! Splits a YAML stream into documents while reading it, without parsing.
//!
//! A line that starts with `---` followed by a blank or the end of the line is
//! a document marker in YAML 1.2 wherever it appears (even inside a block
//! scalar), so splitting on those lines is exact. Splitting first lets one
//! malformed document fail alone, keeps memory bounded by the largest
//! document rather than the file, and lets documents be parsed in parallel.

use std::io::BufRead;

use super::node::Pos;

/// The text of one document (or a prelude of comments), with its first line.
#[derive(Debug)]
pub struct Chunk {
    pub first_line: u32,
    pub text: Result<String, ChunkError>,
}

/// A document that could not be turned into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkError {
    pub pos: Pos,
    pub message: String,
}

/// A problem that stops the reading of a whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: Option<u32>,
    pub message: String,
}

/// Iterator over the documents of one input.
pub struct Chunker<R> {
    reader: R,
    line: u32,
    total: u64,
    max_document_bytes: usize,
    max_file_bytes: u64,
    current: Vec<u8>,
    current_first_line: u32,
    oversized: bool,
    started: bool,
    done: bool,
    buf: Vec<u8>,
}

impl<R: BufRead> Chunker<R> {
    pub fn new(reader: R, max_document_bytes: usize, max_file_bytes: u64) -> Self {
        Chunker {
            reader,
            line: 0,
            total: 0,
            max_document_bytes,
            max_file_bytes,
            current: Vec::new(),
            current_first_line: 1,
            oversized: false,
            started: false,
            done: false,
            buf: Vec::new(),
        }
    }

    fn take_current(&mut self, next_first_line: u32) -> Chunk {
        let first_line = self.current_first_line;
        // The next document is likely the size of this one: one allocation
        // per document instead of a doubling series.
        let capacity = self.current.len().min(self.max_document_bytes);
        let bytes = std::mem::replace(&mut self.current, Vec::with_capacity(capacity));
        let oversized = std::mem::replace(&mut self.oversized, false);
        self.current_first_line = next_first_line;
        let text = if oversized {
            Err(ChunkError {
                pos: Pos {
                    line: first_line,
                    column: 1,
                },
                message: format!(
                    "document is larger than the limit of {} bytes",
                    self.max_document_bytes
                ),
            })
        } else {
            String::from_utf8(bytes).map_err(|e| {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = first_line + valid.iter().filter(|&&b| b == b'\n').count() as u32;
                let column = valid.iter().rev().take_while(|&&b| b != b'\n').count() as u32 + 1;
                ChunkError {
                    pos: Pos { line, column },
                    message: "invalid UTF-8: YAML input must be UTF-8 text".into(),
                }
            })
        };
        Chunk { first_line, text }
    }
}

fn is_document_marker(line: &[u8]) -> bool {
    line.starts_with(b"---") && matches!(line.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

/// What one line of input leads to.
enum Step {
    /// Keep reading.
    More,
    /// A document (or an error that stops the file) is ready.
    Emit(Result<Chunk, FileError>),
    /// The input is exhausted.
    End,
}

impl<R: BufRead> Iterator for Chunker<R> {
    type Item = Result<Chunk, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let read = self.reader.read_until(b'\n', &mut buf);
            let step = self.consume_line(&buf, read);
            self.buf = buf;
            match step {
                Step::More => {}
                Step::Emit(item) => return Some(item),
                Step::End => return None,
            }
        }
        None
    }
}

impl<R: BufRead> Chunker<R> {
    /// An error that stops the reading of this file.
    fn fail(&mut self, line: Option<u32>, message: String) -> Step {
        self.done = true;
        Step::Emit(Err(FileError { line, message }))
    }

    /// Handle one line read from the input (`read` is its length, 0 at the end).
    fn consume_line(&mut self, buf: &[u8], read: std::io::Result<usize>) -> Step {
        let n = match read {
            Ok(n) => n,
            Err(e) => return self.fail(None, format!("cannot read: {e}")),
        };
        if n == 0 {
            self.done = true;
            if self.current.is_empty() && !self.oversized {
                return Step::End;
            }
            let next = self.line + 1;
            return Step::Emit(Ok(self.take_current(next)));
        }
        self.line += 1;
        self.total += n as u64;
        if self.total > self.max_file_bytes {
            let message = format!(
                "file is larger than the limit of {} bytes",
                self.max_file_bytes
            );
            return self.fail(Some(self.line), message);
        }
        let mut line: &[u8] = buf;
        if !self.started {
            self.started = true;
            if line.starts_with(&[0xFF, 0xFE]) || line.starts_with(&[0xFE, 0xFF]) {
                return self.fail(
                    Some(1),
                    "file is UTF-16 encoded; YAML input must be UTF-8 text".into(),
                );
            }
            if let Some(rest) = line.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
                line = rest;
            }
        }
        if line.contains(&0) {
            let message = "binary data (a NUL byte): this is not a YAML text file".into();
            return self.fail(Some(self.line), message);
        }
        let mut step = Step::More;
        if is_document_marker(line) && (!self.current.is_empty() || self.oversized) {
            let first = self.line;
            step = Step::Emit(Ok(self.take_current(first)));
        } else if self.current.is_empty() && !self.oversized {
            self.current_first_line = self.line;
        }
        if !self.oversized {
            if self.current.len() + line.len() > self.max_document_bytes {
                self.oversized = true;
                self.current.clear();
                self.current.shrink_to_fit();
            } else {
                self.current.extend_from_slice(line);
            }
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &[u8]) -> Vec<Result<Chunk, FileError>> {
        Chunker::new(text, 1024, 1 << 20).collect()
    }

    #[test]
    fn splits_on_document_markers_and_keeps_line_numbers() {
        let out = chunks(b"a: 1\n---\nb: 2\n--- # c\nc: 3\n");
        let got: Vec<(u32, String)> = out
            .into_iter()
            .map(|c| c.unwrap())
            .map(|c| (c.first_line, c.text.unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "a: 1\n".into()),
                (2, "---\nb: 2\n".into()),
                (4, "--- # c\nc: 3\n".into())
            ]
        );
    }

    #[test]
    fn a_dashed_word_is_not_a_marker() {
        let out = chunks(b"a: |\n  ---x\n----\n");
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn binary_input_stops_the_file_with_its_line() {
        let out = chunks(b"a: 1\nb: \0\n");
        let err = out.into_iter().find_map(|c| c.err()).unwrap();
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn invalid_utf8_fails_only_its_document() {
        let out = chunks(b"a: 1\n---\nb: \xff\n---\nc: 3\n");
        let texts: Vec<_> = out.into_iter().map(|c| c.unwrap().text).collect();
        assert!(texts[0].is_ok());
        assert_eq!(
            texts[1].as_ref().unwrap_err().pos,
            Pos { line: 3, column: 4 }
        );
        assert!(texts[2].is_ok());
    }

    #[test]
    fn oversized_documents_fail_alone() {
        let mut input = b"a: 1\n---\n".to_vec();
        input.extend(std::iter::repeat_n(b"x: 1\n".as_slice(), 400).flatten());
        input.extend_from_slice(b"---\nc: 3\n");
        let texts: Vec<_> = chunks(&input)
            .into_iter()
            .map(|c| c.unwrap().text)
            .collect();
        assert_eq!(texts.len(), 3);
        assert!(
            texts[1]
                .as_ref()
                .unwrap_err()
                .message
                .contains("larger than")
        );
        assert_eq!(texts[2].as_ref().unwrap(), "---\nc: 3\n");
    }
}
