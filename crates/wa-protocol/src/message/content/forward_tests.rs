//! The forwarded flag of a text (`Text::forwarded`, CONTRACTS §A.4 `IsForwarded`), against the
//! field numbers of whatsmeow's `ContextInfo` (`proto/e2e.proto`).

use prost::Message as _;

use super::*;

/// CONTRACTS §A.4 `IsForwarded`: `contextInfo` (17) of an `extendedTextMessage` with
/// `forwardingScore`=21 and `isForwarded`=22 (whatsmeow WAWebProtobufsE2E.proto `ContextInfo`),
/// checked byte by byte; a plain text that is forwarded is no longer a `conversation`.
#[test]
fn forwarded_text_sets_is_forwarded_22_and_forwarding_score_21() {
    let content = Content::Text(Text {
        text: "fw".into(),
        forwarded: Some(1),
        ..Text::default()
    });
    let m = content.to_message();
    assert!(m.conversation.is_none());
    let bytes = m.encode_to_vec();
    // ExtendedTextMessage (field 6): text=1 "fw", contextInfo=17 (key 0x8a 0x01) {
    // forwardingScore=21 (key 0xa8 0x01) 1, isForwarded=22 (key 0xb0 0x01) true }.
    let ctx = [0xa8, 0x01, 1, 0xb0, 0x01, 1];
    let mut ext = vec![0x0a, 2, b'f', b'w', 0x8a, 0x01, ctx.len() as u8];
    ext.extend_from_slice(&ctx);
    let mut want = vec![0x32, ext.len() as u8];
    want.extend_from_slice(&ext);
    assert_eq!(bytes, want);
    assert_eq!(Content::from_message(&m), Ok(content));
    // isForwarded without a score reads as a score of 0; isForwarded=false is not forwarded.
    let mut bare = m.clone();
    let ctx = bare
        .extended_text_message
        .as_mut()
        .and_then(|x| x.context_info.as_mut())
        .expect("context");
    ctx.forwarding_score = None;
    let Ok(Content::Text(t)) = Content::from_message(&bare) else {
        panic!("text");
    };
    assert_eq!(t.forwarded, Some(0));
    let ctx = bare
        .extended_text_message
        .as_mut()
        .and_then(|x| x.context_info.as_mut())
        .expect("context");
    ctx.is_forwarded = Some(false);
    let Ok(Content::Text(t)) = Content::from_message(&bare) else {
        panic!("text");
    };
    assert_eq!(t.forwarded, None);
}
