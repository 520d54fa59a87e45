//! One trusted issuer: its discovery document and signing keys, fetched when first needed,
//! kept an hour, and fetched again when an ID token names a key id they lack (at most once a
//! minute), so a provider that rotates its key locks no one out until a restart.

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType, CoreIdToken,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalProviderMetadata, ClientId, ClientSecret, IssuerUrl, ProviderMetadata};
use serde::{Deserialize, Serialize};

use crate::config::IssuerConfig;
use crate::SignInError;

/// How long discovery and keys are kept.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);
/// How often keys are fetched again for an unknown key id, at most (by default; the
/// configuration's `keys.refetch_seconds`).
pub const KEYS_REFETCH_MIN: Duration = Duration::from_secs(60);
/// The algorithms an ID token may be signed with (never `none`, never a shared secret).
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 3] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
];
/// How far in the future an ID token's `iat` may be (clock skew).
pub const SKEW: Duration = Duration::from_secs(60);

/// The discovery fields beyond the core ones that the flow reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Extra {
    /// RFC 9207: the provider sends `iss` with its authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for Extra {}

/// A provider's discovery document.
pub type Metadata = ProviderMetadata<
    Extra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

#[derive(Clone, Debug)]
struct Known {
    metadata: Metadata,
    fetched: Instant,
    keys_fetched: Instant,
}

/// A trusted issuer and what is known of it.
#[derive(Debug)]
pub struct Provider {
    pub config: IssuerConfig,
    pub(crate) http: openidconnect::reqwest::Client,
    known: tokio::sync::Mutex<Option<Known>>,
    refetch_min: Duration,
}

impl Provider {
    /// The provider of `config`, its HTTP client trusting the extra root CA if one is named
    /// and following no redirect.
    pub fn new(config: IssuerConfig, refetch_min: Duration) -> Result<Provider, String> {
        let mut builder = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10));
        if let Some(pem) = &config.extra_root_ca {
            let ca = openidconnect::reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("{}: extra_root_ca: {e}", config.id))?;
            builder = builder.add_root_certificate(ca);
        }
        let http = builder.build().map_err(|e| format!("{}: HTTP client: {e}", config.id))?;
        Ok(Provider { config, http, known: tokio::sync::Mutex::new(None), refetch_min })
    }

    fn issuer_url(&self) -> Result<IssuerUrl, SignInError> {
        IssuerUrl::new(self.config.issuer.clone()).map_err(|e| SignInError::Provider(e.to_string()))
    }

    /// The discovery document with the signing keys: kept, fetched when older than an hour.
    pub async fn metadata(&self) -> Result<Metadata, SignInError> {
        let mut known = self.known.lock().await;
        if let Some(k) = known.as_ref().filter(|k| k.fetched.elapsed() < KEYS_TTL) {
            return Ok(k.metadata.clone());
        }
        let metadata = Metadata::discover_async(self.issuer_url()?, &self.http).await.map_err(|e| {
            SignInError::Provider(format!("{}: Discovery fehlgeschlagen: {}", self.config.issuer, chain(&e)))
        })?;
        let now = Instant::now();
        *known = Some(Known { metadata: metadata.clone(), fetched: now, keys_fetched: now });
        Ok(metadata)
    }

    /// The signing keys fetched again, unless that happened less than a minute ago; `None`
    /// then (the token stays refused).
    async fn refetch_keys(&self) -> Result<Option<CoreJsonWebKeySet>, SignInError> {
        let mut known = self.known.lock().await;
        let Some(k) = known.as_mut() else { return Ok(None) };
        if k.keys_fetched.elapsed() < self.refetch_min {
            return Ok(None);
        }
        k.keys_fetched = Instant::now();
        let keys = CoreJsonWebKeySet::fetch_async(k.metadata.jwks_uri(), &self.http).await.map_err(|e| {
            SignInError::Provider(format!("{}: Schlüssel nicht abrufbar: {}", self.config.issuer, chain(&e)))
        })?;
        k.metadata = k.metadata.clone().set_jwks(keys.clone());
        tracing::info!(issuer = %self.config.issuer, keys = keys.keys().len(), "signing keys fetched again");
        Ok(Some(keys))
    }

    /// The ID token's claims after every check (signature by key id with an allowed
    /// algorithm, issuer, audience and authorized party, expiry and issue time, nonce); keys
    /// fetched again once when none matches. Returns the whole payload as JSON.
    pub async fn verify(
        &self,
        token: &CoreIdToken,
        keys: CoreJsonWebKeySet,
        nonce: &openidconnect::Nonce,
    ) -> Result<serde_json::Value, SignInError> {
        match self.check(token, keys, nonce) {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => match self.refetch_keys().await? {
                Some(fresh) => self.check(token, fresh, nonce).map_err(refused)?,
                None => {
                    return Err(SignInError::Token(
                        "kein passender Signaturschlüssel des Anmeldedienstes".into(),
                    ))
                }
            },
            other => other.map_err(refused)?,
        };
        payload(token)
    }

    fn check(
        &self,
        token: &CoreIdToken,
        keys: CoreJsonWebKeySet,
        nonce: &openidconnect::Nonce,
    ) -> Result<(), openidconnect::ClaimsVerificationError> {
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| openidconnect::ClaimsVerificationError::Other(e.to_string()))?;
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(self.config.client_id.clone()),
            ClientSecret::new(self.config.client_secret.clone()),
            issuer,
            keys,
        )
        .set_allowed_algs(ALLOWED_ALGS)
        .set_issue_time_verifier_fn(|iat| {
            let latest = std::time::SystemTime::now() + SKEW;
            if std::time::SystemTime::from(iat) > latest {
                Err(format!("ausgestellt in der Zukunft ({iat})"))
            } else {
                Ok(())
            }
        });
        token.claims(&verifier, nonce).map(|_| ())
    }
}

fn refused(e: openidconnect::ClaimsVerificationError) -> SignInError {
    SignInError::Token(e.to_string())
}

/// The payload of a verified ID token, as JSON (for the claims the core type does not keep).
fn payload(token: &CoreIdToken) -> Result<serde_json::Value, SignInError> {
    use base64::Engine as _;
    let text = token.to_string();
    let part = text.split('.').nth(1).ok_or_else(|| SignInError::Token("kein JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| SignInError::Token(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| SignInError::Token(e.to_string()))
}

/// An error with its causes, for the log and the refusal page.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
