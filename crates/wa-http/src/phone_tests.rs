//! Tests of the one phone parser: the contract's shapes, seed 004's table verbatim, and what is
//! refused and why.

#![allow(clippy::unwrap_used)]

use super::*;

fn indonesia() -> Option<CountryCode> {
    Some("62".parse().unwrap())
}

#[test]
fn phones_with_or_without_plus_or_server() {
    for v in [
        "5511999990001",
        "+5511999990001",
        "5511999990001@s.whatsapp.net",
    ] {
        assert_eq!(
            parse_phone(v).unwrap().to_string(),
            "5511999990001@s.whatsapp.net"
        );
    }
    assert_eq!(
        parse_phone("5511999990001@c.us").unwrap().to_string(),
        "5511999990001@s.whatsapp.net"
    );
    assert!(parse_phone("120363000000000001@g.us").unwrap().is_group());
    assert_eq!(parse_phone("123456789@lid").unwrap().server(), &Server::Lid);
}

#[test]
fn bad_phones_are_refused_with_the_contract_text() {
    for v in ["", "@s.whatsapp.net", "abc", "55 11"] {
        let e = parse_phone(v).unwrap_err();
        assert_eq!(e.to_string(), "could not parse Phone", "{v:?}");
    }
}

/// Seed 004's "Phone Number Format Examples", verbatim: input → normalised output.
pub(crate) const SEED_004_TABLE: [(&str, &str); 5] = [
    ("08123456789", "628123456789"),
    ("+628123456789", "628123456789"),
    ("628123456789", "628123456789"),
    ("8123456789", "628123456789"),
    ("+15551234567", "15551234567"),
];

#[test]
fn seed_004_table_with_country_code_62() {
    let cc = indonesia();
    for (input, want) in SEED_004_TABLE {
        let got = normalize_phone(input, cc.as_ref()).unwrap();
        assert_eq!(got.as_str(), want, "{input}");
    }
}

#[test]
fn punctuation_and_international_prefixes() {
    let cc = indonesia();
    for (input, want) in [
        ("+62 812-3456-789", "628123456789"),
        ("(0812) 3456.789", "628123456789"),
        ("0062 812 3456 789", "628123456789"),
        ("+1 (555) 123-4567", "15551234567"),
        ("15551234567", "15551234567"),
    ] {
        assert_eq!(
            normalize_phone(input, cc.as_ref()).unwrap().as_str(),
            want,
            "{input}"
        );
    }
    // Without a default country code, only national numbers are refused.
    assert_eq!(
        normalize_phone("+628123456789", None).unwrap().as_str(),
        "628123456789"
    );
    assert_eq!(
        normalize_phone("8123456789", None).unwrap().as_str(),
        "8123456789"
    );
    assert_eq!(
        normalize_phone("08123456789", None),
        Err(PhoneProblem::NeedsCountryCode)
    );
    // Another country gets the trunk rule only.
    let uk: Option<CountryCode> = Some("+44".parse().unwrap());
    assert_eq!(
        normalize_phone("07700900123", uk.as_ref())
            .unwrap()
            .as_str(),
        "447700900123"
    );
    assert_eq!(
        normalize_phone("8123456789", uk.as_ref()).unwrap().as_str(),
        "8123456789"
    );
}

#[test]
fn what_is_not_a_phone_number_says_why() {
    let cc = indonesia();
    for (input, problem) in [
        ("", PhoneProblem::Empty),
        ("  - ", PhoneProblem::Empty),
        ("abc", PhoneProblem::NotDigits),
        ("0812x3456", PhoneProblem::NotDigits),
        ("++628123", PhoneProblem::NotDigits),
        ("0812", PhoneProblem::TooShort(5)),
        ("+1234", PhoneProblem::TooShort(4)),
        ("+1234567890123456", PhoneProblem::TooLong(16)),
        ("08123456789012345", PhoneProblem::TooLong(18)),
        ("+0812345678", PhoneProblem::NeedsCountryCode),
    ] {
        assert_eq!(
            normalize_phone(input, cc.as_ref()),
            Err(problem),
            "{input:?}"
        );
    }
    for bad in ["", "0", "1234", "6a", "+"] {
        assert_eq!(
            bad.parse::<CountryCode>(),
            Err(PhoneProblem::BadCountryCode)
        );
    }
}

#[tokio::test]
async fn the_request_scope_carries_the_country_code_and_the_session_overrides_it() {
    let parsed = with_country_code(indonesia(), async {
        let before = parse_phone("08123456789").unwrap().to_string();
        let mut account = Account::new(wa_store::AccountId::from_bytes([1; 16]), "s", "t", 0);
        account.country_code = "44".into();
        use_session_country_code(&account);
        let after = parse_recipient("07700900123@c.us", "chatId")
            .unwrap()
            .to_string();
        (before, after)
    })
    .await;
    assert_eq!(parsed.0, "628123456789@s.whatsapp.net");
    assert_eq!(parsed.1, "447700900123@s.whatsapp.net");
    // Outside any scope: no default.
    assert!(parse_phone("08123456789").is_err());
}

#[test]
fn refusals_keep_the_contract_body_and_name_the_reason() {
    let e = parse_recipient("12", "chatId").unwrap_err();
    assert_eq!(e.to_string(), "could not parse chatId");
    assert_eq!(e.details(), None, "the contract's body: no extra key");
    let ApiError::BadPhone { problem, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*problem, PhoneProblem::TooShort(2));
    assert!(problem.to_string().starts_with("2 digits"));
    assert_eq!(e.status_and_text().0, axum::http::StatusCode::BAD_REQUEST);
}
