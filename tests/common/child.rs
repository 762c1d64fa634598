//! A child process a test started, killed and reaped when the guard drops (panics included).

use std::process::Child;

pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
