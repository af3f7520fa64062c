//! The group routes (CONTRACTS §A.7) on the real binary against wa-sim: every route's success
//! shape (whatsmeow's GroupInfo, `{"Details"}`, `{"InviteLink"}`) checked against what the sim
//! holds, and the documented errors.

use serde_json::{json, Value};
use wa_protocol::binary::Jid;
use wa_sim::SimServer;
use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const ME: &str = "15550142001";
const ANA: &str = "15550142002";
const BIA: &str = "15550142003";

fn error_of(status: u16, body: &Value) -> (u16, &str) {
    assert_eq!(body["code"], status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    (status, body["error"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn group_routes_end_to_end() {
    let sim = start_sim(&[ME, ANA, BIA]).await;
    let mut served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.add_idle_account("idle", "idle-token").await;
    let me = served.link_account(&sim, ME, 4201).await;
    let token = me.token.as_str();

    // Auth and session errors.
    let (status, body) = served.request("GET", "/group/list", &[], None).await;
    assert_eq!(error_of(status, &body), (401, "unauthorized"));
    let (status, body) = served.user("idle-token", "GET", "/group/list", None).await;
    assert_eq!(error_of(status, &body), (500, "no session"));

    let group = create(&served, token, &sim).await;
    info_and_list(&served, token, &group).await;
    name_and_topic(&served, token, &group, &sim).await;
    participants_and_links(&served, token, &group, &sim).await;
    leave(&served, token, &group, &sim).await;
}

async fn create(served: &Served, token: &str, sim: &SimServer) -> String {
    // create: validation first.
    for (payload, text) in [
        (json!({"participants": [ANA]}), "missing Name in Payload"),
        (json!({"name": "Team"}), "missing Participants in Payload"),
        (
            json!({"name": "Team", "participants": ["abc"]}),
            "could not parse Participant Phone",
        ),
    ] {
        let (status, body) = served
            .user(token, "POST", "/group/create", Some(&payload.to_string()))
            .await;
        assert_eq!(error_of(status, &body), (400, text));
    }
    let (status, body) = served
        .user(token, "POST", "/group/create", Some(r#"{"name": 5}"#))
        .await;
    assert_eq!(error_of(status, &body), (400, "could not decode Payload"));

    let (status, body) = served
        .user(
            token,
            "POST",
            "/group/create",
            Some(&json!({"Name": "Team", "Participants": [format!("+{ANA}")]}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    let info = &body["data"];
    let group = info["JID"].as_str().expect("JID").to_owned();
    assert!(group.ends_with("@g.us"), "{info}");
    assert_eq!(info["Name"], "Team");
    assert!(
        info["GroupCreated"]
            .as_str()
            .unwrap_or_default()
            .ends_with('Z'),
        "{info}"
    );
    assert_eq!(info["TopicSetAt"], "0001-01-01T00:00:00Z");
    let participants = info["Participants"].as_array().expect("Participants");
    let ana = participants
        .iter()
        .find(|p| {
            [&p["JID"], &p["PhoneNumber"]]
                .iter()
                .any(|j| j.as_str().unwrap_or_default().starts_with(ANA))
        })
        .unwrap_or_else(|| panic!("Ana is a participant: {info}"));
    assert_eq!(ana["IsAdmin"], false);
    assert!(
        participants.iter().any(|p| p["IsSuperAdmin"] == true),
        "{info}"
    );
    let jid: Jid = group.parse().expect("a group JID");
    assert_eq!(
        sim.group(&jid).expect("the sim has the group").subject,
        "Team"
    );

    group
}

async fn info_and_list(served: &Served, token: &str, group: &str) {
    // info: query, body, errors.
    let (status, body) = served
        .user(token, "GET", &format!("/group/info?groupJID={group}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["JID"], group);
    assert_eq!(body["data"]["Name"], "Team");
    let (status, body) = served
        .user(
            token,
            "GET",
            "/group/info",
            Some(&json!({"GroupJID": group}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["JID"], group);
    let (status, body) = served.user(token, "GET", "/group/info", None).await;
    assert_eq!(error_of(status, &body), (400, "missing groupJID parameter"));
    let (status, body) = served
        .user(token, "GET", &format!("/group/info?groupJID={ANA}"), None)
        .await;
    assert_eq!(error_of(status, &body), (400, "could not parse Group JID"));

    // list.
    let (status, body) = served.user(token, "GET", "/group/list", None).await;
    assert_eq!(status, 200, "{body}");
    let groups = body["data"]["Groups"].as_array().expect("Groups");
    assert!(groups.iter().any(|g| g["JID"] == group), "{body}");
}

async fn name_and_topic(served: &Served, token: &str, group: &str, sim: &SimServer) {
    let jid: Jid = group.parse().expect("a group JID");
    // name.
    let (status, body) = served
        .user(
            token,
            "POST",
            "/group/name",
            Some(&json!({"GroupJID": group}).to_string()),
        )
        .await;
    assert_eq!(error_of(status, &body), (400, "missing Name in Payload"));
    let (status, body) = served
        .user(
            token,
            "POST",
            "/group/name",
            Some(&json!({"groupjid": group, "name": "Team 2"}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"Details": "Group Name set successfully"})
    );
    assert_eq!(sim.group(&jid).expect("group").subject, "Team 2");

    // topic: validation, then the description set on the sim and shown by info.
    for (payload, text) in [
        (json!({"GroupJID": group}), "missing Topic in Payload"),
        (
            json!({"GroupJID": ANA, "Topic": "About"}),
            "could not parse Group JID",
        ),
    ] {
        let (status, body) = served
            .user(token, "POST", "/group/topic", Some(&payload.to_string()))
            .await;
        assert_eq!(error_of(status, &body), (400, text));
    }
    let (status, body) = served
        .user(
            "idle-token",
            "POST",
            "/group/topic",
            Some(&json!({"GroupJID": group, "Topic": "About"}).to_string()),
        )
        .await;
    assert_eq!(error_of(status, &body), (500, "no session"));
    for text in ["Trail maps", "Trail maps, v2"] {
        let (status, body) = served
            .user(
                token,
                "POST",
                "/group/topic",
                Some(&json!({"groupjid": group, "topic": text}).to_string()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true);
        assert_eq!(
            body["data"],
            json!({"Details": "Group Topic set successfully"})
        );
        let held = sim
            .group(&jid)
            .and_then(|g| g.topic)
            .expect("the sim holds it");
        assert_eq!(held.text, text);
        let (status, body) = served
            .user(token, "GET", &format!("/group/info?groupJID={group}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let info = &body["data"];
        assert_eq!(info["Topic"], text, "{info}");
        assert_eq!(info["TopicID"], held.id.as_str(), "{info}");
        assert!(
            info["TopicSetBy"]
                .as_str()
                .unwrap_or_default()
                .starts_with(ME),
            "{info}"
        );
        let set_at = info["TopicSetAt"].as_str().unwrap_or_default();
        assert!(
            set_at.ends_with('Z') && set_at != "0001-01-01T00:00:00Z",
            "{info}"
        );
    }
}

async fn leave(served: &Served, token: &str, group: &str, sim: &SimServer) {
    let jid: Jid = group.parse().expect("a group JID");
    // leave.
    let (status, body) = served
        .user(
            token,
            "POST",
            "/group/leave",
            Some(r#"{"GroupJID": "nope"}"#),
        )
        .await;
    assert_eq!(error_of(status, &body), (400, "could not parse Group JID"));
    let (status, body) = served
        .user(
            token,
            "POST",
            "/group/leave",
            Some(&json!({"GroupJID": group}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"Details": "Group left successfully"}));
    let left = sim.group(&jid).expect("group");
    assert!(
        !left.participants.iter().any(|p| p.jid.user_part() == ME
            || p.phone_number.as_ref().is_some_and(|n| n.user_part() == ME)),
        "{left:?}"
    );
}

async fn participants_and_links(served: &Served, token: &str, group: &str, sim: &SimServer) {
    let jid: Jid = group.parse().expect("a group JID");
    for (payload, text) in [
        (
            json!({"GroupJID": group, "Phone": [BIA]}),
            "missing Action in Payload",
        ),
        (
            json!({"GroupJID": group, "Phone": [BIA], "Action": "kick"}),
            "invalid Action in Payload",
        ),
        (
            json!({"GroupJID": group, "Action": "add"}),
            "missing Phone in Payload",
        ),
    ] {
        let (status, body) = served
            .user(
                token,
                "POST",
                "/group/updateparticipants",
                Some(&payload.to_string()),
            )
            .await;
        assert_eq!(error_of(status, &body), (400, text));
    }
    for action in ["add", "promote"] {
        let (status, body) = served
            .user(
                token,
                "POST",
                "/group/updateparticipants",
                Some(&json!({"GroupJID": group, "Phone": [BIA], "Action": action}).to_string()),
            )
            .await;
        assert_eq!(status, 200, "{action}: {body}");
        assert_eq!(
            body["data"],
            json!({"Details": "Group Participants updated successfully"})
        );
    }
    let info = sim.group(&jid).expect("group");
    let bia = info
        .participants
        .iter()
        .find(|p| {
            p.jid.user_part() == BIA
                || p.phone_number
                    .as_ref()
                    .is_some_and(|n| n.user_part() == BIA)
        })
        .unwrap_or_else(|| panic!("Bia was added: {info:?}"));
    assert!(bia.role.is_admin(), "{info:?}");

    let path = format!("/group/invitelink?groupJID={group}");
    let (status, body) = served.user(token, "GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    let first = body["data"]["InviteLink"]
        .as_str()
        .expect("InviteLink")
        .to_owned();
    assert!(first.starts_with("https://chat.whatsapp.com/"), "{first}");
    let (status, body) = served
        .user(token, "GET", &format!("{path}&reset=true"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["data"]["InviteLink"], first.as_str());
    let (status, body) = served
        .user(token, "GET", &format!("{path}&reset=maybe"), None)
        .await;
    assert_eq!(
        error_of(status, &body),
        (400, "invalid reset parameter, must be true or false")
    );
}
