//! TLS for SSL_GET and genhash: rustls with the ring provider. As keepalived, the server's certificate
//! is not verified by default (a health check asks "does it answer", not "is it who it claims");
//! handshake signatures are still checked so the session itself is sound. `tls_verify_ca` (lvsd
//! only) turns on the full web PKI check: chain to the given CAs, validity, and the name.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::net::IpAddr;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Certificate verification for SSL_GET (lvsd only): the CAs and, when given, the name the
/// certificate must carry instead of the handshake's.
#[derive(Debug, Clone)]
pub struct Verify {
    pub roots: Arc<RootCertStore>,
    pub name: Option<ServerName<'static>>,
}

impl Verify {
    /// Reads the CA certificates of a PEM file.
    pub fn load(ca_file: &str, name: Option<&str>) -> Result<Verify, String> {
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| format!("tls_verify_ca {ca_file}: {e}"))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("tls_verify_ca {ca_file}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("tls_verify_ca {ca_file}: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!(
                "tls_verify_ca {ca_file}: no certificate in the file"
            ));
        }
        let name = match name {
            Some(n) => Some(
                ServerName::try_from(n.to_string())
                    .map_err(|e| format!("tls_verify_name {n}: {e}"))?,
            ),
            None => None,
        };
        Ok(Verify {
            roots: Arc::new(roots),
            name,
        })
    }
}

/// The web PKI verifier, checking the certificate against a fixed name rather than the
/// handshake's (which may be an SNI name of another form, or the address).
#[derive(Debug)]
struct AgainstName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for AgainstName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A connector: without `verify` it accepts any certificate, as keepalived; `sni` false sends no
/// server name.
/// `identity`: the client certificate to present when the server asks (keepalived's SSL block).
pub fn connector(
    sni: bool,
    verify: Option<&Verify>,
    identity: Option<&super::tls_identity::ClientIdentity>,
) -> Result<TlsConnector, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        None => Arc::new(AcceptAnyCert(provider.clone())),
        Some(v) => {
            let inner =
                WebPkiServerVerifier::builder_with_provider(v.roots.clone(), provider.clone())
                    .build()
                    .map_err(|e| rustls::Error::General(e.to_string()))?;
            match &v.name {
                Some(name) => Arc::new(AgainstName {
                    inner,
                    name: name.clone(),
                }),
                None => inner,
            }
        }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = sni;
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name for the handshake: the SNI name when one is given and valid, else the server's address
/// (rustls never sends an address as SNI).
pub fn server_name(sni_name: Option<&str>, ip: IpAddr) -> ServerName<'static> {
    sni_name
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or(ServerName::IpAddress(ip.into()))
}
