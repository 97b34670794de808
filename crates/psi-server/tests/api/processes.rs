//! Programs the tests run as child processes (the receiver examples under `examples/`, the
//! official Standard Webhooks libraries under `tests/standard-webhooks/`): a receiver that prints
//! `listening on <url>` and then a line per call, and a check that the program can run here.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running receiver, stopped when dropped.
pub struct ChildReceiver {
    child: Child,
    pub url: String,
    /// What it printed after `listening on`, line by line.
    printed: Arc<Mutex<Vec<String>>>,
}

impl ChildReceiver {
    /// Starts `command` (its stdout piped here) and waits for its `listening on <url>` line.
    pub async fn start(mut command: Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::inherit());
        // Off the test's runtime: a receiver may call the server the test runs.
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("the receiver starts");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let Some(url) = first.strip_prefix("listening on ").map(str::to_owned) else {
                let _ = child.kill();
                panic!("the receiver did not start: {first:?}");
            };
            // Its later lines go to the test's output, and to `printed` for the test to look at.
            let printed = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&printed);
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    println!("receiver: {line}");
                    sink.lock().unwrap().push(line);
                }
            });
            ChildReceiver {
                child,
                url,
                printed,
            }
        })
        .await
        .expect("the receiver starts")
    }

    /// Waits (up to 15 s) for a printed line containing `text`; returns the line.
    pub async fn wait_for_line(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found = self
                .printed
                .lock()
                .unwrap()
                .iter()
                .find(|line| line.contains(text))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver never printed {text:?}: {:#?}",
                self.printed.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ChildReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why `program probe...` cannot run here, if it cannot: it is missing or the probe fails.
pub fn missing(program: &str, probe: &[&str], dir: &str) -> Option<String> {
    match Command::new(program).args(probe).current_dir(dir).output() {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!(
            "{program} {probe:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(e) => Some(format!("{program} is not installed: {e}")),
    }
}

/// Fails the test when what it runs is missing (`why` set): a test that cannot run never
/// passes. `bash tests/setup.sh` installs it.
pub fn require(what: &str, why: Option<String>) {
    if let Some(why) = why {
        panic!("{what} cannot run here: {why} (run `bash tests/setup.sh`)");
    }
}
