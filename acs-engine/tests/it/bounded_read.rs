//! `read_bounded` and `read_file`: what the CLI and the bindings read input documents,
//! stub tables and rule test inputs with.

use std::io::Read;

use acs_engine::{read_bounded, read_file, ReadError};

/// An endless stream that counts what it gave.
struct Endless {
    served: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        buf.fill(b'y');
        self.served += buf.len();
        Ok(buf.len())
    }
}

#[test]
fn read_bounded_stops_just_past_the_limit_of_an_endless_stream() {
    let mut endless = Endless { served: 0 };
    let error = read_bounded(&mut endless, 1000).unwrap_err();
    assert!(
        matches!(error, ReadError::TooLarge { limit: 1000 }),
        "{error}"
    );
    assert!(endless.served < 1000 + 64 * 1024, "{}", endless.served);
    assert_eq!(read_bounded(&b"12345"[..], 5).unwrap(), b"12345");
    assert!(read_bounded(&b"123456"[..], 5).is_err());
}

#[test]
fn read_file_refuses_devices_and_directories_and_bounds_files() {
    for (path, kind) in [("/dev/zero", "a device"), ("/", "a directory")] {
        let error = read_file(std::path::Path::new(path), 10).unwrap_err();
        assert_eq!(error.to_string(), format!("not a regular file ({kind})"));
    }
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    assert!(matches!(
        read_file(&manifest, 10),
        Err(ReadError::TooLarge { limit: 10 })
    ));
    assert!(read_file(&manifest, 1 << 20)
        .unwrap()
        .starts_with(b"[package]"));
}
