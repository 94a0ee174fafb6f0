//! The template editor in a real browser: headless Chromium driven through chromedriver
//! (WebDriver, fantoccini). An operator signs in with a token, breaks a template, sees the
//! error, mends it with new wording, saves, activates, and the next intent's SMS in the
//! outbox reads the new wording. `.ci/run` installs `chromium chromium-driver`.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::templates::{sent_sms, sms_visit};
use common::{Backend, spawn_app};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use vestnik::auth::Role;

both_backends! {
    an_operator_edits_saves_and_activates_a_template_in_the_browser;
}

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver; .ci/run does)");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}),
        );
        let started = Instant::now();
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&self.url)
                .await
            {
                Ok(client) => return client,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the JavaScript expression `condition` is true in the page.
async fn until(browser: &Client, what: &str, condition: &str) {
    let started = Instant::now();
    loop {
        let value = browser
            .execute(&format!("return Boolean({condition});"), vec![])
            .await
            .unwrap();
        if value == Value::Bool(true) {
            return;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let errors = browser
                .execute(
                    "return (document.getElementById('errors')||{}).textContent + ' | ' + (document.getElementById('status')||{}).textContent;",
                    vec![],
                )
                .await
                .unwrap();
            panic!("never {what} ({condition}); page says: {errors}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Replaces the text of the editor's `textarea` by typing, as an operator would.
async fn retype(browser: &Client, css: &str, text: &str) {
    let area = browser.find(Locator::Css(css)).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys(text).await.unwrap();
}

async fn an_operator_edits_saves_and_activates_a_template_in_the_browser(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token_for("operator-olga", Role::Operator).await;
    let driver = Driver::start();
    let browser = driver.browser().await;

    browser
        .goto(&format!("{}/ui/templates", app.base))
        .await
        .unwrap();
    browser
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    browser
        .find(Locator::Css("#sign-in button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &browser,
        "the list shows the seeded versions",
        "document.querySelector('[data-template=\"meter_visit/sms\"]').textContent === 'v1'",
    )
    .await;
    browser
        .find(Locator::Css("a[href='/ui/templates/meter_visit/sms']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The token stays for the tab (sessionStorage); the editor loads the active text.
    until(
        &browser,
        "the editor loads v1",
        "document.getElementById('part-text').value.includes('ориентировочно')",
    )
    .await;
    until(
        &browser,
        "the SMS counter shows the parts",
        "document.getElementById('sms-counter').textContent.includes('частей')",
    )
    .await;
    let original: String = browser
        .execute("return document.getElementById('part-text').value;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();

    let broken = original.replace("{{event.responsible.full_name}}", "");
    retype(&browser, "#part-text", &broken).await;
    until(
        &browser,
        "the missing mandatory field is reported",
        "document.getElementById('errors').textContent.includes('event.responsible.full_name')",
    )
    .await;
    until(
        &browser,
        "saving is refused while invalid",
        "document.getElementById('save').disabled",
    )
    .await;

    let mended = original.replace("ориентировочно", "примерно");
    retype(&browser, "#part-text", &mended).await;
    until(
        &browser,
        "the error goes away",
        "document.getElementById('errors').dataset.valid === 'yes' && !document.getElementById('save').disabled",
    )
    .await;
    until(
        &browser,
        "the preview shows the new wording",
        "document.getElementById('preview-text').textContent.includes('примерно')",
    )
    .await;
    browser
        .find(Locator::Css("#comment"))
        .await
        .unwrap()
        .send_keys("«примерно» вместо «ориентировочно»")
        .await
        .unwrap();
    browser
        .find(Locator::Css("#save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &browser,
        "version 2 is listed",
        "document.querySelector('#versions tr[data-version=\"2\"] button.activate') !== null",
    )
    .await;
    browser
        .find(Locator::Css(
            "#versions tr[data-version='2'] button.activate",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &browser,
        "version 2 is active",
        "document.getElementById('active-version').textContent === 'v2'",
    )
    .await;
    browser.close().await.unwrap();

    let (text, label) = sent_sms(&app, &sms_visit("visit-after-editor")).await;
    assert!(text.contains("примерно"), "{text}");
    assert_eq!(label, "meter_visit/sms/ru@v2");
    app.stop().await;
}
