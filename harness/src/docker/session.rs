//! An agent session: one long-lived `docker exec` of `agent.pl serve` per
//! container, carrying every later command of a trial as a request on its
//! stdin. A fresh exec costs ~60 ms of runc and API round trips on these
//! machines, a request about a millisecond, and a trial makes a dozen.
//!
//! The wire format (see containers/agent/agent.pl, `serve`): a request is
//! `x<TAB>STDIN_LEN|-<TAB>hex(arg)...\n` then the raw stdin; an answer is
//! `R<TAB>exit<TAB>out_len<TAB>err_len\n` then the whole stdout and stderr.
//! A session whose request was abandoned (timeout, cancelled future, output
//! over its cap) is never reused: its stream position is unknown.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{DockerError, ExecLimits, ExecOutput};

/// Where every approach image keeps the agent (containers/*/Dockerfile).
pub const AGENT: &str = "/usr/local/lib/mistake-cost/agent.pl";

/// What `agent.pl serve` prints first.
const GREETING: &str = "agent serve 1";

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

pub struct Session {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    /// Answer bytes read but not yet consumed.
    buf: Vec<u8>,
    /// The server's own complaints (its stderr), for error messages.
    diagnostics: Vec<u8>,
    /// `Sandbox::restarts` when the session was opened: a session from
    /// before a container restart talks to a dead process.
    pub generation: u64,
}

/// Why a request did not produce an answer.
pub enum Failure {
    /// The answer is longer than the caller's cap: refused, never cut.
    TooLarge(usize),
    /// The session broke (its exec ended, the engine went away).
    Broken(String),
}

impl Session {
    pub async fn open(
        docker: &Docker,
        container: &str,
        generation: u64,
    ) -> Result<Session, DockerError> {
        let created = docker
            .create_exec(
                container,
                CreateExecOptions::<String> {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(vec!["perl".into(), AGENT.into(), "serve".into()]),
                    ..Default::default()
                },
            )
            .await
            .map_err(DockerError::api("creating the agent session"))?;
        match docker
            .start_exec(&created.id, None)
            .await
            .map_err(DockerError::api("starting the agent session"))?
        {
            StartExecResults::Attached { output, input } => {
                let mut session = Session {
                    input,
                    output,
                    buf: Vec::new(),
                    diagnostics: Vec::new(),
                    generation,
                };
                match session.line().await {
                    Ok(greeting) if greeting == GREETING => Ok(session),
                    Ok(other) => Err(DockerError::Other(format!(
                        "the agent does not serve (it said {other:?})"
                    ))),
                    Err(why) => Err(DockerError::Other(why)),
                }
            }
            StartExecResults::Detached => Err(DockerError::Other(
                "the agent session started detached".into(),
            )),
        }
    }

    /// Runs `cmd` with `stdin` (None: /dev/null) and returns its exit code
    /// and whole output.
    pub async fn call(
        &mut self,
        cmd: &[String],
        stdin: Option<&[u8]>,
        limits: ExecLimits,
    ) -> Result<ExecOutput, Failure> {
        let mut request = match stdin {
            Some(data) => format!("x\t{}", data.len()),
            None => "x\t-".to_string(),
        };
        for arg in cmd {
            request.push('\t');
            request.push_str(&hex(arg.as_bytes()));
        }
        request.push('\n');
        let mut bytes = request.into_bytes();
        if let Some(data) = stdin {
            bytes.extend_from_slice(data);
        }
        self.input
            .write_all(&bytes)
            .await
            .map_err(|e| Failure::Broken(self.broken(format!("writing a request: {e}"))))?;
        self.input
            .flush()
            .await
            .map_err(|e| Failure::Broken(self.broken(format!("writing a request: {e}"))))?;

        let header = self.line().await.map_err(Failure::Broken)?;
        let (code, out_len, err_len) = parse_header(&header)
            .ok_or_else(|| Failure::Broken(self.broken(format!("malformed answer {header:?}"))))?;
        if out_len.saturating_add(err_len) > limits.max_output_bytes {
            return Err(Failure::TooLarge(limits.max_output_bytes));
        }
        while self.buf.len() < out_len + err_len {
            self.fill().await.map_err(Failure::Broken)?;
        }
        let stdout: Vec<u8> = self.buf.drain(..out_len).collect();
        let stderr: Vec<u8> = self.buf.drain(..err_len).collect();
        Ok(ExecOutput {
            exit_code: code,
            stdout,
            stderr,
        })
    }

    /// The next line of the server's stdout, without its newline.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            self.fill().await?;
        }
    }

    /// Reads the next chunk of the server's stdout into `buf`.
    async fn fill(&mut self) -> Result<(), String> {
        loop {
            match self.output.next().await {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    self.buf.extend_from_slice(&message);
                    return Ok(());
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    self.diagnostics.extend_from_slice(&message);
                    let cut = self.diagnostics.len().saturating_sub(4096);
                    self.diagnostics.drain(..cut);
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => return Err(self.broken(format!("reading an answer: {e}"))),
                None => return Err(self.broken("the session ended".into())),
            }
        }
    }

    fn broken(&self, what: String) -> String {
        let said = String::from_utf8_lossy(&self.diagnostics);
        let said = said.trim();
        if said.is_empty() {
            format!("agent session: {what}")
        } else {
            format!("agent session: {what} ({said})")
        }
    }
}

fn parse_header(line: &str) -> Option<(i64, usize, usize)> {
    let mut f = line.split('\t');
    if f.next()? != "R" {
        return None;
    }
    let code = f.next()?.parse().ok()?;
    let out = f.next()?.parse().ok()?;
    let err = f.next()?.parse().ok()?;
    f.next().is_none().then_some((code, out, err))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_strictly() {
        assert_eq!(parse_header("R\t0\t12\t3"), Some((0, 12, 3)));
        assert_eq!(parse_header("R\t-1\t0\t0"), Some((-1, 0, 0)));
        for bad in [
            "",
            "R\t0\t1",
            "X\t0\t1\t2",
            "R\t0\t1\t2\t3",
            "R\tx\t1\t2",
            "R\t0\t-1\t2",
        ] {
            assert_eq!(parse_header(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arguments_travel_as_hex() {
        assert_eq!(hex(b"sh -c 'a\tb'\n\0"), "7368202d632027610962270a00");
        assert_eq!(hex(&[0xff, 0x00]), "ff00");
    }
}
