//! The client certificate of keepalived's `SSL` block, presented by SSL_GET to servers that ask for
//! one: the certificate chain and its key from PEM files. A key encrypted as PKCS#8 (`ENCRYPTED
//! PRIVATE KEY`) is decrypted with the block's password; OpenSSL's older per-key encryption
//! (`Proc-Type: 4,ENCRYPTED`) is refused with the command that converts it.

use crate::config::model::SslClient;
use pkcs8::der::Decode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate chain and its key, ready for `ClientConfig::with_client_auth_cert`.
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientIdentity({} certificates, key <redacted>)",
            self.chain.len()
        )
    }
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ClientIdentity {
    /// Reads the block's files; None when it names no certificate (keepalived then presents none).
    /// The CA file must be readable, as keepalived requires, though nothing is verified against it.
    pub fn load(ssl: &SslClient) -> Result<Option<ClientIdentity>, String> {
        if let Some(ca) = &ssl.ca {
            std::fs::metadata(ca).map_err(|e| format!("SSL ca {ca}: {e}"))?;
        }
        let Some(cert) = &ssl.certificate else {
            if let Some(key) = &ssl.key {
                return Err(format!("SSL key {key}: no certificate to go with it"));
            }
            return Ok(None);
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("SSL certificate {cert}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("SSL certificate {cert}: {e}"))?;
        if chain.is_empty() {
            return Err(format!(
                "SSL certificate {cert}: no certificate in the file"
            ));
        }
        // Without `key`, the key is looked for in the certificate's file (one PEM with both).
        let key_file = ssl.key.as_deref().unwrap_or(cert);
        let pem = std::fs::read(key_file).map_err(|e| format!("SSL key {key_file}: {e}"))?;
        let password = ssl.password.as_ref().map(|p| p.expose());
        let key = private_key(&pem, password).map_err(|e| format!("SSL key {key_file}: {e}"))?;
        Ok(Some(ClientIdentity { chain, key }))
    }
}

/// The private key of a PEM file, decrypted with `password` when it is encrypted.
fn private_key(pem: &[u8], password: Option<&str>) -> Result<PrivateKeyDer<'static>, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(
            "encrypted in OpenSSL's legacy format, which lvsd does not read; convert it \
             with `openssl pkcs8 -topk8 -in KEY -out NEW` (it stays encrypted with the password)"
                .into(),
        );
    }
    if let Some(der) = encrypted_pkcs8(&text)? {
        let Some(password) = password else {
            return Err("the key is encrypted and the SSL block has no password".into());
        };
        let info = pkcs8::EncryptedPrivateKeyInfo::from_der(&der)
            .map_err(|e| format!("not a PKCS#8 encrypted key: {e}"))?;
        let doc = info
            .decrypt(password)
            .map_err(|_| "cannot decrypt the key with the SSL block's password".to_string())?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            doc.as_bytes().to_vec(),
        )));
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => "no private key in the file".to_string(),
        e => e.to_string(),
    })
}

/// The DER of an `ENCRYPTED PRIVATE KEY` PEM section, if the text has one.
fn encrypted_pkcs8(text: &str) -> Result<Option<Vec<u8>>, String> {
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let Some(start) = text.find(BEGIN) else {
        return Ok(None);
    };
    let end = text[start..]
        .find(END)
        .map(|e| start + e + END.len())
        .ok_or("an ENCRYPTED PRIVATE KEY section without its END line")?;
    let (label, der) = pkcs8::der::pem::decode_vec(&text.as_bytes()[start..end])
        .map_err(|e| format!("bad PEM: {e}"))?;
    debug_assert_eq!(label, "ENCRYPTED PRIVATE KEY");
    Ok(Some(der))
}
