//! Tests of the messaging stanzas: round trips through the wire codec, nodes written from the
//! sketches in `messaging.md`, and malformed input.

mod ack;
mod group;
mod group_topic;
mod message;
mod notification;
mod receipt;
mod totality;
