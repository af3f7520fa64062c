//! Validation of the chat bodies against CONTRACTS §A.4/§A.5's texts.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::json::decode;

fn text_of(e: ApiError) -> String {
    e.to_string()
}

#[test]
fn send_text_requires_phone_then_body() {
    let b: SendTextBody = decode(br#"{"Body":"hi"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "missing Phone in Payload");
    let b: SendTextBody = decode(br#"{"Phone":"5511999990001"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "missing Body in Payload");
    let b: SendTextBody = decode(br#"{"Phone":"abc","Body":"x"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "could not parse Phone");
}

#[test]
fn send_text_with_reply_mentions_and_caller_id() {
    let b: SendTextBody = decode(
        br#"{"phone":"+5511999990001","body":"hi","Id":"MYID1",
            "QuotedText":"earlier","ContextInfo":{"StanzaId":"3EB0AA","Participant":"5511999990002",
            "MentionedJID":["5511999990003@s.whatsapp.net"],"IsForwarded":true}}"#,
    )
    .unwrap();
    let plan = b.plan().unwrap();
    assert_eq!(plan.to.to_string(), "5511999990001@s.whatsapp.net");
    assert_eq!(plan.id.unwrap().as_str(), "MYID1");
    let Content::Text(t) = plan.content else {
        panic!("not text")
    };
    let reply = t.reply.unwrap();
    assert_eq!(reply.id.as_str(), "3EB0AA");
    assert_eq!(
        reply.sender.unwrap().to_string(),
        "5511999990002@s.whatsapp.net"
    );
    assert_eq!(
        reply.quoted.unwrap().conversation.as_deref(),
        Some("earlier")
    );
    assert_eq!(t.mentions.len(), 1);
    assert_eq!(t.forwarded, Some(1), "IsForwarded: forwarded once");
}

#[test]
fn context_info_fields_come_in_pairs() {
    let b: SendTextBody =
        decode(br#"{"Phone":"5511999990001","Body":"x","ContextInfo":{"StanzaID":"3EB0"}}"#)
            .unwrap();
    assert_eq!(
        text_of(b.plan().unwrap_err()),
        "missing Participant in ContextInfo"
    );
    let b: SendLocationBody = decode(
        br#"{"Phone":"5511999990001","Latitude":1.5,"Longitude":2.5,
            "ContextInfo":{"Participant":"5511999990002"}}"#,
    )
    .unwrap();
    assert_eq!(
        text_of(b.plan().unwrap_err()),
        "missing StanzaID in ContextInfo"
    );
}

#[test]
fn location_and_contact_fields() {
    let b: SendLocationBody = decode(br#"{"Phone":"5511999990001","Longitude":2.5}"#).unwrap();
    assert_eq!(
        text_of(b.plan().unwrap_err()),
        "missing Latitude in Payload"
    );
    let b: SendLocationBody = decode(br#"{"Phone":"5511999990001","Latitude":2.5}"#).unwrap();
    assert_eq!(
        text_of(b.plan().unwrap_err()),
        "missing Longitude in Payload"
    );
    let b: SendLocationBody =
        decode(br#"{"Phone":"5511999990001","Latitude":-23.5,"Longitude":-46.6,"Name":"SP"}"#)
            .unwrap();
    let Content::Location(l) = b.plan().unwrap().content else {
        panic!("not a location")
    };
    assert_eq!(l.name.as_deref(), Some("SP"));
    let b: SendContactBody = decode(br#"{"Phone":"5511999990001","Vcard":"BEGIN"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "missing Name in Payload");
    let b: SendContactBody = decode(br#"{"Phone":"5511999990001","Name":"A"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "missing Vcard in Payload");
}

#[test]
fn edit_and_delete_target_our_message() {
    let b: TargetBody = decode(br#"{"Phone":"5511999990001","Body":"new"}"#).unwrap();
    assert_eq!(text_of(b.edit().unwrap_err()), "missing Id in Payload");
    assert_eq!(text_of(b.revoke().unwrap_err()), "missing Id in Payload");
    let b: TargetBody = decode(br#"{"Phone":"5511999990001","Id":"3EB0AA"}"#).unwrap();
    assert_eq!(text_of(b.edit().unwrap_err()), "missing Body in Payload");
    let Content::Revoke(r) = b.revoke().unwrap().content else {
        panic!("not a revoke")
    };
    assert!(r.target.from_me);
    assert_eq!(r.target.id.as_str(), "3EB0AA");
}

#[test]
fn react_prefix_and_remove() {
    let b: ReactBody = decode(br#"{"Phone":"abc","Body":"x","Id":"1"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "could not parse Group JID");
    let b: ReactBody =
        decode(br#"{"Phone":"5511999990001","Body":"remove","Id":"me:3EB0AA"}"#).unwrap();
    let (plan, id) = b.plan().unwrap();
    assert_eq!(id.as_str(), "3EB0AA");
    let Content::Reaction(r) = plan.content else {
        panic!("not a reaction")
    };
    assert!(r.target.from_me);
    assert_eq!(r.emoji, "");
    let b: ReactBody =
        decode(r#"{"Phone":"5511999990001","Body":"👍","Id":"3EB0BB"}"#.as_bytes()).unwrap();
    let (plan, _) = b.plan().unwrap();
    let Content::Reaction(r) = plan.content else {
        panic!("not a reaction")
    };
    assert!(!r.target.from_me);
    assert_eq!(r.emoji, "👍");
}

#[test]
fn markread_needs_ids_and_a_chat() {
    let b: MarkReadBody = decode(br#"{"ChatPhone":"5511999990001"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "missing Id in Payload");
    let b: MarkReadBody = decode(br#"{"Id":["3EB0AA"]}"#).unwrap();
    assert_eq!(
        text_of(b.plan().unwrap_err()),
        "missing ChatPhone in Payload"
    );
    let b: MarkReadBody =
        decode(br#"{"Id":["3EB0AA","3EB0BB"],"Chat":"5511999990001@s.whatsapp.net"}"#).unwrap();
    let (chat, sender, ids) = b.plan().unwrap();
    assert_eq!(chat.to_string(), "5511999990001@s.whatsapp.net");
    assert!(sender.is_none());
    assert_eq!(ids.len(), 2);
}

#[test]
fn chat_presence_states() {
    let b: ChatPresenceBody = decode(br#"{"Phone":"5511999990001"}"#).unwrap();
    assert_eq!(text_of(b.plan().unwrap_err()), "missing State in Payload");
    let b: ChatPresenceBody =
        decode(br#"{"Phone":"5511999990001","State":"composing","Media":"audio"}"#).unwrap();
    assert_eq!(b.plan().unwrap().1, ChatStateKind::Recording);
    let b: ChatPresenceBody = decode(br#"{"Phone":"5511999990001","State":"typing"}"#).unwrap();
    assert!(b.plan().is_err());
}

#[test]
fn sent_data_keeps_gos_key_order() {
    let json = serde_json::to_string(&SentData {
        details: "Sent",
        id: "3EB0AA".into(),
        timestamp: 1_717_776_749,
    })
    .unwrap();
    assert_eq!(
        json,
        r#"{"Details":"Sent","Id":"3EB0AA","Timestamp":1717776749}"#
    );
}
