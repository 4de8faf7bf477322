//! DNS_CHECK: one query of `type` for `name` over UDP; passes on a reply with the query's id and
//! rcode NOERROR. Replies with another id are ignored until the timeout.

use super::decide::Outcome;
use super::net::{io_text, within, Target};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct DnsProbe {
    pub target: Target,
    pub name: Name,
    pub qtype: RecordType,
}

impl DnsProbe {
    pub fn new(target: Target, name: &str, qtype: &str) -> Result<DnsProbe, String> {
        let name = Name::from_ascii(name).map_err(|e| format!("DNS_CHECK name '{name}': {e}"))?;
        let qtype =
            RecordType::from_str(qtype).map_err(|e| format!("DNS_CHECK type '{qtype}': {e}"))?;
        Ok(DnsProbe {
            target,
            name,
            qtype,
        })
    }

    pub async fn run(&self) -> Outcome {
        let name = self.target.name();
        match within(self.target.timeout, self.exchange()).await {
            Ok(Ok(())) => Outcome::pass(format!("DNS connection to {name} success")),
            Ok(Err(e)) | Err(e) => Outcome::fail(format!("DNS connection to {name} failed: {e}")),
        }
    }

    async fn exchange(&self) -> Result<(), String> {
        let id: u16 = rand::random();
        let mut msg = Message::query();
        msg.metadata.id = id;
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(self.name.clone(), self.qtype));
        let wire = msg
            .to_vec()
            .map_err(|e| format!("cannot encode the query: {e}"))?;
        let sock = self.target.connect_udp().map_err(|e| io_text(&e))?;
        sock.send(&wire).await.map_err(|e| io_text(&e))?;
        let mut buf = vec![0u8; 65535];
        loop {
            let n = sock.recv(&mut buf).await.map_err(|e| io_text(&e))?;
            if let Some(verdict) = judge_reply(&buf[..n], id) {
                return verdict;
            }
        }
    }
}

/// The verdict on a datagram answering query `id`; `None` for one to ignore (not DNS, another id).
pub fn judge_reply(datagram: &[u8], id: u16) -> Option<Result<(), String>> {
    let reply = Message::from_vec(datagram).ok()?;
    if reply.metadata.id != id {
        return None;
    }
    Some(match reply.metadata.response_code {
        ResponseCode::NoError => Ok(()),
        rc => Err(format!("rcode {rc}")),
    })
}
