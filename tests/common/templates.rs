//! Helpers for the template tests: an SMS-only intent and what dispatch sent for it.

use serde_json::{Value, json};

use super::{TestApp, example, messages};

/// A meter visit by SMS only, to one recipient, with its own external id.
pub fn sms_visit(external_id: &str) -> Value {
    let mut request = example("meter_visit");
    request["external_id"] = json!(external_id);
    let mut recipient = request["recipients"][0].clone();
    recipient["channels"] = json!(["sms"]);
    request["recipients"] = json!([recipient]);
    request
}

/// The SMS text and the template label of the intent's only message.
pub async fn sent_sms(app: &TestApp, request: &Value) -> (String, String) {
    let response = app.post_intent(request).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let intent = app.wait_settled(&id).await;
    let message = &messages(&intent)[0];
    assert_eq!(message["status"], "sent", "{message}");
    let file = app
        .outbox()
        .join(message["gateway_message_id"].as_str().unwrap());
    let sms: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    (
        sms["text"].as_str().unwrap().to_owned(),
        message["template"].as_str().unwrap().to_owned(),
    )
}
