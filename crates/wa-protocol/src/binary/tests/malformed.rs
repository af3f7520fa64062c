//! Malformed input: one test per class, asserting the specific variant.

use super::*;

// ---------------------------------------------------------------------------------------
// Malformed input: one test per class, asserting the specific variant.
// ---------------------------------------------------------------------------------------

#[test]
fn malformed_empty_frame() {
    assert_eq!(unmarshal(&[], &lim()), Err(DecodeError::EmptyFrame));
    assert_eq!(
        unmarshal(&[0], &lim()),
        Err(DecodeError::Truncated { offset: 0 })
    );
}

#[test]
fn malformed_truncated() {
    // <stream:error code=…> with the value's packed header missing.
    assert_eq!(
        decode(&h("F8 03 9D 70 FF"), &lim()),
        Err(DecodeError::Truncated { offset: 5 })
    );
    // A node header claiming more items than there are bytes.
    assert!(matches!(
        decode(&h("F8 03 9D 70"), &lim()),
        Err(DecodeError::LengthExceedsInput {
            offset: 0,
            len: 3,
            remaining: 2
        })
    ));
    // Truncated LIST_16 size / double-byte token / FB_JID device.
    assert!(matches!(
        decode(&h("F9 00"), &lim()),
        Err(DecodeError::Truncated { .. })
    ));
    assert!(matches!(
        decode(&h("F8 01 EC"), &lim()),
        Err(DecodeError::Truncated { offset: 3 })
    ));
    assert!(matches!(
        decode(&h("F8 02 19 F6 FF 03 55 55 55 00"), &lim()),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn malformed_unassigned_tag() {
    for tag in 0xF0..=0xF4u8 {
        assert_eq!(
            decode(&[0xF8, 0x01, tag], &lim()),
            Err(DecodeError::UnassignedTag { tag, offset: 2 })
        );
    }
}

#[test]
fn malformed_oversized_binary32() {
    // A 4 GiB BINARY_32 length must be rejected before allocating.
    assert_eq!(
        decode(&h("F8 02 19 FE FF FF FF FF 00"), &lim()),
        Err(DecodeError::LengthExceedsInput {
            offset: 3,
            len: 0xFFFF_FFFF,
            remaining: 1
        })
    );
    // Same for BINARY_20 (only 20 bits count) and BINARY_8.
    assert!(matches!(
        decode(&h("F8 02 19 FD FF FF FF"), &lim()),
        Err(DecodeError::LengthExceedsInput { len: 0xF_FFFF, .. })
    ));
    assert!(matches!(
        decode(&h("F8 02 19 FC 05 01"), &lim()),
        Err(DecodeError::LengthExceedsInput { len: 5, .. })
    ));
    // A child list claiming more children than the input could hold.
    assert!(matches!(
        decode(&h("F8 02 19 F9 FF FF F8 01 19"), &lim()),
        Err(DecodeError::LengthExceedsInput { .. })
    ));
}

fn nested(levels: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 1..levels {
        v.extend_from_slice(&[0xF8, 0x02, 0x19, 0xF8, 0x01]);
    }
    v.extend_from_slice(&[0xF8, 0x01, 0x19]);
    v
}

#[test]
fn malformed_depth_200() {
    assert!(matches!(
        decode(&nested(200), &lim()),
        Err(DecodeError::DepthExceeded { max: 128, .. })
    ));
    assert!(decode(&nested(128), &lim()).is_ok());
    assert!(matches!(
        decode(&nested(129), &lim()),
        Err(DecodeError::DepthExceeded { max: 128, .. })
    ));
    let deep = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    assert!(decode(&nested(200), &deep).is_ok());
    // The deepest tree the decoder will produce can be re-encoded, shown and compared
    // (those are recursive) on a test thread's stack, even in debug builds.
    let bytes = nested(HARD_MAX_DEPTH);
    let node = decode(&bytes, &deep).expect("HARD_MAX_DEPTH levels decode");
    assert_eq!(encode(&node).expect("re-encodes"), bytes);
    assert_eq!(node.clone(), node);
    assert!(node.to_string().len() > HARD_MAX_DEPTH * 4);
    assert!(matches!(
        decode(&nested(HARD_MAX_DEPTH + 1), &deep),
        Err(DecodeError::DepthExceeded {
            max: HARD_MAX_DEPTH,
            ..
        })
    ));
}

#[test]
fn malformed_bad_zlib() {
    assert!(matches!(
        unmarshal(&h("02 00 01 02 03"), &lim()),
        Err(DecodeError::BadZlib { .. })
    ));
    assert!(matches!(
        unmarshal(&h("02"), &lim()),
        Err(DecodeError::BadZlib { .. })
    ));
    // Truncated stream.
    let full = h("02 78 9c fb c1 2a c9 f1 bf 59 5a cb 9e 45 04 00 18 19 03 3d");
    assert!(matches!(
        unmarshal(&full[..full.len() - 6], &lim()),
        Err(DecodeError::BadZlib { .. })
    ));
}

#[test]
fn malformed_zlib_bomb() {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 8 << 20]).expect("compress");
    let mut frame = vec![FLAG_COMPRESSED];
    frame.extend(enc.finish().expect("compress"));
    assert!(frame.len() < 20_000);
    let small = Limits {
        max_decompressed: 64 << 10,
        ..Limits::default()
    };
    assert_eq!(
        unmarshal(&frame, &small),
        Err(DecodeError::DecompressedTooLarge { limit: 64 << 10 })
    );

    // Exactly at the cap is fine.
    let body = encode(&sample_message_stanza()).expect("encodes");
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&body).expect("compress");
    let mut frame = vec![FLAG_COMPRESSED];
    frame.extend(enc.finish().expect("compress"));
    let exact = Limits {
        max_decompressed: body.len(),
        ..Limits::default()
    };
    assert_eq!(
        unmarshal(&frame, &exact).expect("decodes at the cap"),
        sample_message_stanza()
    );
    let under = Limits {
        max_decompressed: body.len() - 1,
        ..Limits::default()
    };
    assert!(matches!(
        unmarshal(&frame, &under),
        Err(DecodeError::DecompressedTooLarge { .. })
    ));
}

#[test]
fn malformed_trailing_bytes() {
    assert_eq!(
        decode(&h("F8 01 19 00 00"), &lim()),
        Err(DecodeError::TrailingBytes {
            offset: 3,
            count: 2
        })
    );
}

#[test]
fn malformed_non_string_key() {
    // Key is a JID.
    assert_eq!(
        decode(&h("F8 03 19 FA 00 03 29"), &lim()),
        Err(DecodeError::NonStringKey { offset: 3 })
    );
    // Key is LIST_EMPTY.
    assert_eq!(
        decode(&h("F8 03 19 00 29"), &lim()),
        Err(DecodeError::NonStringKey { offset: 3 })
    );
}

#[test]
fn malformed_invalid_nibble() {
    assert_eq!(
        decode(&h("F8 01 FF 01 1C"), &lim()),
        Err(DecodeError::InvalidNibble {
            value: 0xC,
            offset: 4
        })
    );
    // A pad nibble that is not the last of an odd-length string.
    assert!(matches!(
        decode(&h("F8 01 FF 01 F1"), &lim()),
        Err(DecodeError::InvalidNibble { value: 0xF, .. })
    ));
    // Odd flag with no data.
    assert_eq!(
        decode(&h("F8 01 FF 80"), &lim()),
        Err(DecodeError::InvalidPacked { offset: 2 })
    );
}

#[test]
fn malformed_list_header() {
    for bytes in ["F8 00", "00", "19", "F9 00 00"] {
        assert_eq!(
            decode(&h(bytes), &lim()),
            Err(DecodeError::InvalidListHeader { offset: 0 }),
            "{bytes}"
        );
    }
    assert_eq!(
        decode(&h("F8 05 19"), &lim()),
        Err(DecodeError::LengthExceedsInput {
            offset: 0,
            len: 5,
            remaining: 1
        })
    );
}

#[test]
fn malformed_tag_value_and_utf8() {
    assert_eq!(
        decode(&h("F8 01 00"), &lim()),
        Err(DecodeError::InvalidTag { offset: 2 })
    );
    assert_eq!(
        decode(&h("F8 01 FC 00"), &lim()),
        Err(DecodeError::InvalidTag { offset: 2 })
    );
    assert_eq!(
        decode(&h("F8 01 FA 00 03"), &lim()),
        Err(DecodeError::InvalidTag { offset: 2 })
    );
    assert_eq!(
        decode(&h("F8 01 FC 01 FF"), &lim()),
        Err(DecodeError::InvalidUtf8 { offset: 2 })
    );
    assert_eq!(
        decode(&h("F8 03 19 08 F8 01"), &lim()),
        Err(DecodeError::InvalidAttrValue { offset: 4 })
    );
    // Non-UTF-8 bytes are fine as content.
    assert_eq!(
        decode(&h("F8 02 19 FC 01 FF"), &lim()),
        Ok(Node::new("iq").with_bytes(vec![0xFF]))
    );
}

#[test]
fn malformed_jids() {
    // FB_JID whose server is not msgr.
    assert!(matches!(
        decode(&h("F8 02 19 F6 FF 03 55 55 55 00 01 03"), &lim()),
        Err(DecodeError::InvalidJid {
            reason: "FB_JID server is not msgr",
            ..
        })
    ));
    // INTEROP_JID whose server is not interop.
    assert!(matches!(
        decode(&h("F8 02 19 F5 FF 03 55 55 55 00 01 00 02 03"), &lim()),
        Err(DecodeError::InvalidJid { .. })
    ));
    // JID_PAIR without server.
    assert!(matches!(
        decode(&h("F8 02 19 FA FF 03 55 55 55 00"), &lim()),
        Err(DecodeError::InvalidJid {
            reason: "missing server",
            ..
        })
    ));
    // Nested JID as user, invalid user characters, invalid server name.
    assert!(matches!(
        decode(&h("F8 02 19 F7 00 01 FA 00 03"), &lim()),
        Err(DecodeError::InvalidJid { .. })
    ));
    assert!(matches!(
        decode(&h("F8 02 19 FA FC 01 40 03"), &lim()),
        Err(DecodeError::InvalidJid {
            reason: "invalid characters in user",
            ..
        })
    ));
    assert!(matches!(
        decode(&h("F8 02 19 FA 00 FC 01 40"), &lim()),
        Err(DecodeError::InvalidJid {
            reason: "invalid server name",
            ..
        })
    ));
}

#[test]
fn malformed_list_limits() {
    let small = Limits {
        max_list: 2,
        max_attrs: 1,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&h("F8 02 19 F8 03 F8 01 19 F8 01 19 F8 01 19"), &small),
        Err(DecodeError::ListTooLong { len: 3, max: 2, .. })
    ));
    assert!(matches!(
        decode(&h("F8 05 19 08 29 04 29"), &small),
        Err(DecodeError::ListTooLong { len: 2, max: 1, .. })
    ));
}

#[test]
fn error_messages_are_informative() {
    let e = decode(&h("F8 02 19 FE FF FF FF FF"), &lim()).expect_err("must fail");
    assert_eq!(
        e.to_string(),
        "item at offset 3 needs at least 4294967295 bytes but only 0 remain"
    );
    assert_eq!(
        DecodeError::UnassignedTag {
            tag: 0xF0,
            offset: 2
        }
        .to_string(),
        "unassigned tag byte 0xF0 at offset 2"
    );
    let e = encode(&Node::new("x").with_attr("to", Jid::device("1", 300, Server::Lid)))
        .expect_err("must fail");
    assert_eq!(
        e.to_string(),
        "JID 1:300@lid cannot be encoded: device does not fit AD_JID (max 255)"
    );
}
