//! An encrypted dump judged without its key: a broken structure is CRITICAL (naming the
//! format and the offset); a whole one is WARNING by default, because nobody can see without
//! the key whether the encrypted stream holds a whole dump (a dump killed mid-way, piped
//! through gzip and gpg, encrypts into a perfect file). `--encrypted-without-key` sets that
//! state; OK says what was and was not verified.

use super::{Check, Finding, State};
use crate::facts::EncryptedFacts;
use crate::text::safe;

/// `--encrypted-without-key`: the state of an encrypted dump whose structure is whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// WARNING: completeness cannot be verified without the key (the default).
    #[default]
    Warning,
    /// OK: the operator accepts what can be verified without the key.
    Ok,
    /// CRITICAL: an encrypted dump that cannot be verified is not acceptable.
    Critical,
}

impl Policy {
    /// Every value, as the command line names them.
    pub const NAMES: [&'static str; 3] = ["warning", "ok", "critical"];

    /// The policy of that name.
    pub fn from_name(name: &str) -> Option<Policy> {
        match name {
            "warning" => Some(Policy::Warning),
            "ok" => Some(Policy::Ok),
            "critical" => Some(Policy::Critical),
            _ => None,
        }
    }

    /// The command line's name.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Warning => "warning",
            Policy::Ok => "ok",
            Policy::Critical => "critical",
        }
    }
}

/// `--expect-recipient`: an OpenPGP dump must be encrypted to each of these key IDs (long
/// IDs or fingerprints, of the encryption subkey gpg encrypts to). A dump not encrypted to
/// one of them is CRITICAL: whoever holds only that key cannot restore it (a wrong or
/// rotated key is an unrestorable backup). When the file hides its recipients (`gpg
/// --throw-keyids`) nothing can be told: WARNING saying so. Other formats do not show their
/// recipients' identities (age stanzas name only their type): None.
pub fn expected_recipients(facts: &EncryptedFacts, expected: &[String]) -> Option<Finding> {
    if expected.is_empty()
        || !matches!(
            facts.encryption,
            crate::facts::Encryption::OpenPgp | crate::facts::Encryption::OpenPgpArmored
        )
        || facts.problem.is_some()
    {
        return None;
    }
    let norm = |s: &str| {
        let s = s.trim().to_ascii_uppercase().replace(' ', "");
        s.strip_prefix("0X").map(str::to_string).unwrap_or(s)
    };
    let present: Vec<String> = facts.recipients.iter().map(|r| norm(r)).collect();
    // A v4 fingerprint ends with its long key ID.
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| {
            let e = norm(e);
            !present
                .iter()
                .any(|p| !p.is_empty() && (e == *p || e.ends_with(p.as_str())))
        })
        .collect();
    if missing.is_empty() {
        return Some(Finding::new(
            Check::Stream,
            State::Ok,
            format!(
                "encrypted to the expected recipient(s) {}",
                safe(&expected.join(", "), 200)
            ),
        ));
    }
    let missing = safe(
        &missing
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        200,
    );
    // A hidden recipient (gpg --throw-keyids) may be the expected key: not provable
    // either way, so not OK, but no cry of an unrestorable backup either.
    if facts.recipients.iter().any(|r| r == "hidden recipient") {
        return Some(Finding::new(
            Check::Stream,
            State::Warning,
            format!(
                "cannot tell whether the dump is encrypted to the expected recipient(s) {missing}: it hides its recipients' key IDs (gpg --throw-keyids){}",
                recipients(facts)
            ),
        ));
    }
    Some(Finding::new(
        Check::Stream,
        State::Critical,
        format!(
            "not encrypted to the expected recipient(s) {missing}: that key cannot restore it (wrong key, or a key rotated on one side only){}",
            recipients(facts)
        ),
    ))
}

/// An encrypted dump decrypted whole by its tool (`--decrypt-with`): OK, naming the tool,
/// the format and the recipients; the plaintext's own findings follow.
pub fn decrypted(facts: &EncryptedFacts) -> Finding {
    let tool = facts.decrypted_with.as_deref().unwrap_or("?");
    let cipher = if facts.cipher.is_empty() {
        String::new()
    } else {
        format!(", {}", safe(&facts.cipher, 80))
    };
    let recipients = recipients(facts);
    Finding::new(
        Check::Stream,
        State::Ok,
        format!(
            "decrypted with {} ({}{cipher}){recipients}",
            safe(tool, 10),
            facts.encryption.name()
        ),
    )
}

/// "; to A, B" for the recipients as far as visible.
fn recipients(facts: &EncryptedFacts) -> String {
    if facts.recipients.is_empty() {
        return String::new();
    }
    let mut list: Vec<String> = facts
        .recipients
        .iter()
        .take(8)
        // CMS names a recipient by its certificate's issuer and serial number.
        .map(|r| safe(r, 160))
        .collect();
    if facts.recipients.len() > 8 {
        list.push(format!("{} more", facts.recipients.len() - 8));
    }
    format!("; to {}", list.join(", "))
}

/// The rules for encrypted dumps: `--encrypted-without-key` and `--expect-recipient`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// The state of a whole encrypted dump judged without the key.
    pub without_key: Policy,
    /// Key IDs the dump must be encrypted to.
    pub recipients: Vec<String>,
}

/// Judges what walking an encrypted dump without its key established.
pub fn evaluate(facts: &EncryptedFacts, policy: Policy) -> Finding {
    let format = facts.encryption.name();
    if let Some(problem) = &facts.problem {
        let at = facts
            .offset
            .map_or(String::new(), |o| format!(" at byte offset {o}"));
        return Finding::new(
            Check::Stream,
            State::Critical,
            format!(
                "encrypted dump broken ({format}){at}: {}",
                safe(problem, 300)
            ),
        );
    }
    let what = if facts.cipher.is_empty() {
        format.to_string()
    } else {
        format!("{format}, {}", safe(&facts.cipher, 80))
    };
    let recipients = recipients(facts);
    let mut caveats = String::new();
    if !facts.integrity {
        caveats.push_str("; the format carries no integrity protection");
    }
    if !facts.blind_spot.is_empty() {
        caveats.push_str(&format!("; {}", safe(&facts.blind_spot, 160)));
    }
    let state = match policy {
        Policy::Warning => State::Warning,
        Policy::Ok => State::Ok,
        Policy::Critical => State::Critical,
    };
    if let Some(doubt) = &facts.doubt {
        // Not provably whole: never OK, even for an operator who accepts keyless verdicts.
        return Finding::new(
            Check::Stream,
            state.max(State::Warning),
            format!(
                "encrypted ({format}): {}{caveats}{recipients}",
                safe(doubt, 300)
            ),
        );
    }
    let message = if state == State::Ok {
        format!(
            "encrypted ({what}): structure whole (verified without the key: {}); not verified: the decrypted content, its compression and completion marker{caveats}{recipients}",
            safe(&facts.verified, 300)
        )
    } else {
        format!(
            "encrypted ({what}): whole as far as can be seen, completeness cannot be verified without the key{caveats}{recipients}"
        )
    };
    Finding::new(Check::Stream, state, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Encryption;

    fn facts(problem: Option<&str>) -> EncryptedFacts {
        EncryptedFacts {
            encryption: Encryption::OpenPgp,
            cipher: "AES256 via SEIPD".into(),
            recipients: vec!["0102030405060708".into()],
            verified: "1 session-key packet(s) and one encrypted data packet".into(),
            blind_spot: String::new(),
            integrity: true,
            problem: problem.map(Into::into),
            offset: problem.map(|_| 42),
            doubt: None,
            decrypted_with: None,
        }
    }

    #[test]
    fn expected_recipients_by_long_id_or_fingerprint() {
        let f = facts(None);
        assert!(expected_recipients(&f, &[]).is_none());
        let ok = expected_recipients(&f, &["0x0102030405060708".into()]).unwrap();
        assert_eq!(ok.state, State::Ok);
        let fpr = "AAAABBBBCCCCDDDDEEEEFFFF0102030405060708".to_string();
        assert_eq!(expected_recipients(&f, &[fpr]).unwrap().state, State::Ok);
        let w = expected_recipients(&f, &["0102030405060708".into(), "1111222233334444".into()])
            .unwrap();
        assert_eq!(w.state, State::Critical);
        assert!(
            w.message.starts_with(
                "not encrypted to the expected recipient(s) 1111222233334444: that key cannot restore it"
            ),
            "{}",
            w.message
        );
        // Hidden recipients: nothing can be told, never OK.
        let hidden = EncryptedFacts {
            recipients: vec!["hidden recipient".into()],
            ..facts(None)
        };
        let h = expected_recipients(&hidden, &["1111222233334444".into()]).unwrap();
        assert_eq!(h.state, State::Warning);
        assert!(h.message.contains("gpg --throw-keyids"), "{}", h.message);
        // Not for a broken file (its own CRITICAL says more), nor for age (no identities).
        assert!(expected_recipients(&facts(Some("cut")), &["1".into()]).is_none());
        let age = EncryptedFacts {
            encryption: Encryption::Age,
            ..facts(None)
        };
        assert!(expected_recipients(&age, &["1".into()]).is_none());
    }

    #[test]
    fn whole_is_warning_unless_accepted() {
        let f = evaluate(&facts(None), Policy::default());
        assert_eq!(f.state, State::Warning);
        assert!(f.message.starts_with("encrypted (OpenPGP, AES256 via SEIPD): whole as far as can be seen, completeness cannot be verified without the key"), "{}", f.message);
        let f = evaluate(&facts(None), Policy::Ok);
        assert_eq!(f.state, State::Ok);
        assert!(f.message.contains("not verified: the decrypted content"));
        assert_eq!(
            evaluate(&facts(None), Policy::Critical).state,
            State::Critical
        );
    }

    #[test]
    fn broken_is_critical_whatever_the_policy() {
        for policy in [Policy::Warning, Policy::Ok, Policy::Critical] {
            let f = evaluate(&facts(Some("file cut")), policy);
            assert_eq!(f.state, State::Critical);
            assert!(f.message.contains("OpenPGP"));
            assert!(f.message.contains("at byte offset 42"));
        }
    }

    #[test]
    fn a_doubt_is_never_ok() {
        let mut f = facts(None);
        f.doubt = Some("31 bytes of ciphertext, not whole 16-byte blocks".into());
        for (policy, state) in [
            (Policy::Ok, State::Warning),
            (Policy::Warning, State::Warning),
            (Policy::Critical, State::Critical),
        ] {
            let found = evaluate(&f, policy);
            assert_eq!(found.state, state, "{policy:?}");
            assert!(
                found.message.contains("31 bytes of ciphertext"),
                "{}",
                found.message
            );
        }
    }

    #[test]
    fn no_integrity_is_said() {
        let mut f = facts(None);
        f.integrity = false;
        assert!(evaluate(&f, Policy::Ok)
            .message
            .contains("no integrity protection"));
    }
}
