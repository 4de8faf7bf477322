//! The control socket's request line and the catch-up datagram.

use crate::control::proto;
use crate::director::catchup::Msg;

/// A request line as the server reads it; a command it accepts is one the client can send.
pub fn control(data: &[u8]) {
    let line = data.strip_suffix(b"\n").unwrap_or(data);
    if let Ok(cmd) = proto::parse(line) {
        let again = proto::request(&cmd);
        let again = again.strip_suffix('\n').unwrap_or(&again);
        assert_eq!(
            proto::parse(again.as_bytes()),
            Ok(cmd),
            "a request changed in a round trip"
        );
    }
}

/// A catch-up datagram; what decodes encodes back to the same message.
pub fn catchup(data: &[u8]) {
    if let Some(m) = Msg::decode(data) {
        assert_eq!(
            Msg::decode(m.encode().as_bytes()),
            Some(m),
            "a catch-up message changed in a round trip"
        );
    }
}
