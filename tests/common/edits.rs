//! The site of the editing tests (`site_edits_api.rs`, `ui_edit.rs`) and how they ask it.

use super::client::dig;
use super::daemon::Daemon;

/// Lists blocking one upstream name each: `kids` for no group until a group names it,
/// `ads` and `custom-block` for everyone.
pub fn site(upstream: &str) -> String {
    format!(
        "[dns]\nupstreams = [\"{upstream}\"]\nupstream_timeout = \"1s\"\n\n\
         # the house rules\n[[list]]\nname = \"kids\"\ngroups = []\nentries = [\"h00001.test\"]\n\n\
         [[list]]\nname = \"ads\"\nentries = [\"h00002.test\"]\n\n\
         [[list]]\nname = \"custom-block\"\nentries = [\"h00003.test\"]\n\n\
         [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"192.168.1.10\"\n"
    )
}

/// The A answer for `name` asked from `from` (a loopback address).
pub fn a_from(d: &Daemon, from: &str, name: &str) -> String {
    dig(d.dns, &["-b", from, name, "A", "+short"]).trim().to_string()
}

/// True when `name` asked from `from` gets the block answer.
pub fn blocked(d: &Daemon, from: &str, name: &str) -> bool {
    a_from(d, from, name) == "0.0.0.0"
}
