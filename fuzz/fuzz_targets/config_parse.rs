//! Config parsing on arbitrary text: never panics; errors always carry a position or origin.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match ravens_config::parse_with(text, "fuzz.toml", &String::new) {
            Ok(_) => {}
            Err(e) => assert!(e.to_string().starts_with("fuzz.toml")),
        }
    }
});
