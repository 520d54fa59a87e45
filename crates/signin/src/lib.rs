//! Sign-in with the organisation's account: an OpenID Connect relying party for several
//! trusted issuers (Keycloak, ADFS, Entra ID…), configured by file ([`config`]).
//!
//! The flow (authorization code with PKCE S256, `state` and `nonce`):
//! 1. [`RelyingParty::begin`]: a fresh state, nonce and PKCE verifier, sealed with the store's
//!    flow key into a short-lived cookie (10 minutes) together with the chosen issuer and the
//!    page to return to; the browser goes to the issuer's authorization endpoint.
//! 2. [`RelyingParty::finish`] at the callback: the state equals the cookie's and was not used
//!    before; the `iss` response parameter (RFC 9207) equals the chosen issuer when the issuer
//!    sends it or announces it (two trusted providers cannot be mixed up); the code is
//!    exchanged with the verifier; the ID token is checked ([`provider::Provider::verify`]);
//!    its claims map to a role and administrations ([`mapping::access`]) or the login is
//!    refused saying what arrived and what is missing.

pub mod config;
pub mod mapping;
pub mod provider;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use engine::logins::Login;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

pub use config::{AuthConfig, IssuerConfig};
pub use mapping::Unmapped;
pub use provider::Provider;

/// How long a begun sign-in may take (the flow cookie's life).
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// The cookie of a begun sign-in.
pub const FLOW_COOKIE: &str = "__Host-efa-signin";

/// The path of the callback, after the public URL.
pub const CALLBACK_PATH: &str = "/auth/callback";

/// The id, in the store's key store, of the key that seals flow cookies (shared by every
/// server on the same store, so a callback may reach another one).
pub const FLOW_KEY: uuid::Uuid = uuid::Uuid::from_u128(0x10000000_0000_8000_8000_000000000002);

/// Why a sign-in did not succeed; each says it in German.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// No such issuer in the configuration.
    UnknownIssuer(String),
    /// The provider could not be reached or answered wrongly.
    Provider(String),
    /// The flow does not hold (cookie, state, issuer parameter).
    Flow(String),
    /// The provider said no (`error=access_denied` and the like).
    Denied(String),
    /// The ID token failed a check.
    Token(String),
    /// The claims map to no access.
    Unmapped(Unmapped),
}

impl std::fmt::Display for SignInError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignInError::UnknownIssuer(id) => {
                write!(f, "Der Anmeldedienst {id:?} ist hier nicht eingerichtet.")
            }
            SignInError::Provider(e) => {
                write!(f, "Der Anmeldedienst ist nicht erreichbar oder antwortet fehlerhaft: {e}")
            }
            SignInError::Flow(e) => write!(f, "Die Anmeldung ist ungültig: {e}"),
            SignInError::Denied(e) => write!(f, "Der Anmeldedienst hat die Anmeldung abgelehnt: {e}"),
            SignInError::Token(e) => write!(f, "Das ID-Token des Anmeldedienstes ist ungültig: {e}"),
            SignInError::Unmapped(u) => write!(f, "Keine Berechtigung: {}", u.missing),
        }
    }
}

/// What the flow cookie holds (sealed).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Flow {
    /// The issuer's id.
    i: String,
    /// State.
    s: String,
    /// Nonce.
    n: String,
    /// PKCE verifier.
    v: String,
    /// Where to return to (a path of this server).
    r: String,
    /// Begun, seconds since the epoch.
    t: u64,
}

/// A begun sign-in: where to send the browser, and the flow cookie's value.
#[derive(Debug)]
pub struct Begun {
    pub redirect: String,
    pub cookie: String,
}

/// The callback's query parameters.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A finished sign-in.
#[derive(Debug)]
pub struct Finished {
    pub login: Login,
    /// The page to return to.
    pub return_to: String,
}

/// The relying party: every trusted issuer, the flow key, the states already used.
#[derive(Debug)]
pub struct RelyingParty {
    pub config: AuthConfig,
    providers: Vec<Provider>,
    flow_key: store::Key,
    used: Mutex<HashMap<String, Instant>>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl RelyingParty {
    /// The relying party of `config`; `flow_key` seals flow cookies.
    pub fn new(config: AuthConfig, flow_key: store::Key) -> Result<RelyingParty, String> {
        let refetch = Duration::from_secs(config.keys_refetch_secs);
        let providers =
            config.issuers.iter().cloned().map(|i| Provider::new(i, refetch)).collect::<Result<_, _>>()?;
        Ok(RelyingParty { config, providers, flow_key, used: Mutex::default() })
    }

    /// The trusted issuers, in the file's order.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The issuer of `id` (its short name or its identifier).
    pub fn provider(&self, id: &str) -> Result<&Provider, SignInError> {
        self.providers
            .iter()
            .find(|p| p.config.id == id || p.config.issuer == id)
            .ok_or_else(|| SignInError::UnknownIssuer(id.to_owned()))
    }

    fn redirect_url(&self) -> Result<RedirectUrl, SignInError> {
        RedirectUrl::new(format!("{}{CALLBACK_PATH}", self.config.public_url))
            .map_err(|e| SignInError::Flow(e.to_string()))
    }

    fn client(&self, p: &Provider, metadata: provider::Metadata) -> Result<RpClient, SignInError> {
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.config.client_id.clone()),
            Some(ClientSecret::new(p.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect_url()?))
    }

    /// Begins a sign-in with issuer `id`, returning afterwards to `return_to` (a path here).
    pub async fn begin(&self, id: &str, return_to: &str) -> Result<Begun, SignInError> {
        let p = self.provider(id)?;
        let client = self.client(p, p.metadata().await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        // Beside `openid`: the person's name and e-mail, then the configuration's.
        for scope in "profile email".split(' ').map(str::to_owned).chain(p.config.scopes.iter().cloned()) {
            request = request.add_scope(Scope::new(scope));
        }
        let (url, state, nonce) = request.url();
        let return_to =
            if return_to.starts_with('/') && !return_to.starts_with("//") { return_to } else { "/" };
        let flow = Flow {
            i: p.config.id.clone(),
            s: state.secret().clone(),
            n: nonce.secret().clone(),
            v: verifier.secret().clone(),
            r: return_to.to_owned(),
            t: now_secs(),
        };
        let plain = serde_json::to_vec(&flow).map_err(|e| SignInError::Flow(e.to_string()))?;
        let sealed = self
            .flow_key
            .seal(FLOW_COOKIE.as_bytes(), &plain)
            .map_err(|e| SignInError::Flow(e.to_string()))?;
        Ok(Begun {
            redirect: url.to_string(),
            cookie: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// The flow of a cookie's value, if it opens and is young enough.
    fn flow(&self, cookie: Option<&str>) -> Result<Flow, SignInError> {
        let cookie = cookie.ok_or_else(|| {
            SignInError::Flow(
                "das Anmelde-Cookie fehlt (abgelaufen, oder die Anmeldung begann in einem anderen Browser)"
                    .into(),
            )
        })?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cookie)
            .map_err(|_| SignInError::Flow("das Anmelde-Cookie ist beschädigt".into()))?;
        let plain = self
            .flow_key
            .open(FLOW_COOKIE.as_bytes(), &sealed)
            .map_err(|_| SignInError::Flow("das Anmelde-Cookie ist beschädigt".into()))?;
        let flow: Flow = serde_json::from_slice(&plain)
            .map_err(|_| SignInError::Flow("das Anmelde-Cookie ist beschädigt".into()))?;
        if now_secs().saturating_sub(flow.t) > FLOW_TTL.as_secs() {
            return Err(SignInError::Flow("die Anmeldung hat länger als 10 Minuten gedauert".into()));
        }
        Ok(flow)
    }

    /// Takes `state` as used; false if it was used before (a replayed callback).
    fn take_state(&self, state: &str) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        used.retain(|_, at| at.elapsed() < FLOW_TTL);
        used.insert(state.to_owned(), Instant::now()).is_none()
    }

    // Long: the callback's checks in the order the specifications give them.
    /// Finishes a sign-in at the callback: every check of the flow and the ID token, then the
    /// claims mapped. `cookie`: the flow cookie's value.
    pub async fn finish(&self, cookie: Option<&str>, callback: &Callback) -> Result<Finished, SignInError> {
        let flow = self.flow(cookie)?;
        let p = self.provider(&flow.i)?;
        let state = callback.state.as_deref().unwrap_or_default();
        if state.is_empty() || state != flow.s {
            return Err(SignInError::Flow("der Parameter state passt nicht zu dieser Anmeldung".into()));
        }
        if !self.take_state(state) {
            return Err(SignInError::Flow("diese Anmeldung wurde bereits verwendet".into()));
        }
        let metadata = p.metadata().await?;
        match callback.iss.as_deref() {
            Some(iss) if iss != p.config.issuer => {
                return Err(SignInError::Flow(format!(
                    "die Antwort kommt von {iss:?}, die Anmeldung begann bei {:?}",
                    p.config.issuer
                )))
            }
            None if metadata.additional_metadata().authorization_response_iss_parameter_supported => {
                return Err(SignInError::Flow(
                    "der Anmeldedienst sendet sonst den Parameter iss; er fehlt".into(),
                ))
            }
            _ => {}
        }
        if let Some(error) = &callback.error {
            let description = callback.error_description.as_deref().unwrap_or_default();
            return Err(SignInError::Denied(format!("{error} {description}").trim().to_owned()));
        }
        let code =
            callback.code.clone().ok_or_else(|| SignInError::Flow("der Parameter code fehlt".into()))?;
        let keys = metadata.jwks().clone();
        let client = self.client(p, metadata)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.v.clone()))
            .request_async(&p.http)
            .await
            .map_err(|e| SignInError::Provider(format!("Code-Einlösung: {}", provider::chain(&e))))?;
        let token = response
            .id_token()
            .ok_or_else(|| SignInError::Token("die Antwort enthält kein ID-Token".into()))?;
        let claims = p.verify(token, keys, &Nonce::new(flow.n.clone())).await?;
        let access = mapping::access(&p.config, &claims).map_err(SignInError::Unmapped)?;
        let text =
            |key: &str| claims.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
        let subject = text("sub").ok_or_else(|| SignInError::Token("sub fehlt".into()))?.to_owned();
        let name = text("name")
            .map(str::to_owned)
            .or_else(|| Some(format!("{} {}", text("given_name")?, text("family_name")?)))
            .or_else(|| text("preferred_username").map(str::to_owned))
            .or_else(|| text("email").map(str::to_owned))
            .unwrap_or_else(|| format!("Person von {}", p.config.label));
        let login = Login {
            issuer: p.config.issuer.clone(),
            issuer_label: p.config.label.clone(),
            subject,
            name,
            email: text("email").map(str::to_owned),
            access,
        };
        Ok(Finished { login, return_to: flow.r })
    }

    /// Where to send the browser to sign out at issuer `id` too (RP-initiated logout), if the
    /// provider offers it: back to the dashboard afterwards.
    pub async fn end_session_url(&self, id: &str) -> Option<String> {
        let p = self.provider(id).ok()?;
        let endpoint = p.metadata().await.ok()?.additional_metadata().end_session_endpoint.clone()?;
        let mut url = openidconnect::url::Url::parse(&endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &p.config.client_id)
            .append_pair("post_logout_redirect_uri", &format!("{}/", self.config.public_url));
        Some(url.to_string())
    }
}

/// The client type the flow uses (endpoints from discovery, redirect set).
type RpClient = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;
