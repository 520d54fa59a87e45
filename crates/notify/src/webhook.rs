//! Standard Webhooks 1.0 signatures: a secret `whsec_<base64>` per endpoint (24 to 64 bytes),
//! and for each delivery the headers `webhook-id` (the same across retries: the receiver's
//! idempotency key), `webhook-timestamp` (seconds since the epoch) and `webhook-signature`
//! `v1,<base64 of HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>` — verifiable with any
//! implementation of the standard (the tests hold it to the standard's published example).

use base64::Engine as _;
use hmac::{KeyInit, Mac};

/// The prefix of a secret's text.
pub const SECRET_PREFIX: &str = "whsec_";

/// Bytes of a secret this server makes (the standard allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new secret's text, `whsec_<base64 of 32 random bytes>` (shown once to who registers).
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random numbers: {e}"))?;
    Ok(format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// The key of a secret's text (with or without its prefix); 24 to 64 bytes.
pub fn secret_key(text: &str) -> Result<Vec<u8>, String> {
    let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "Das Webhook-Geheimnis ist kein Base64-Text (whsec_…).".to_owned())?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!("Das Webhook-Geheimnis hat {} Bytes; erlaubt sind 24 bis 64.", key.len()));
    }
    Ok(key)
}

/// The `webhook-signature` value of a delivery.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the standard's reference libraries (checked here with the Python
    /// package `standardwebhooks` 1.0: `Webhook(secret).sign(id, timestamp, body)`).
    #[test]
    fn the_standards_example_signs_the_same() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
        let signed = signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let changed = signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, br#"{"test": 2432232314}"#);
        assert_ne!(changed, signed, "the timestamp is signed");
    }

    #[test]
    fn secrets_are_new_each_time_and_their_length_is_checked() {
        let (a, b) = (new_secret().expect("a"), new_secret().expect("b"));
        assert_ne!(a, b);
        assert_eq!(secret_key(&a).expect("a's key").len(), 32);
        assert!(secret_key("whsec_AAAA").expect_err("short").contains("3 Bytes"));
        assert!(secret_key("whsec_!!").expect_err("not base64").contains("Base64"));
    }
}
