use super::*;

fn fact(n: i64) -> Fact {
    Fact::MessageAttempt {
        channel: "sms".into(),
        attempt: n,
        outcome: "sent".into(),
        template: Some("v1".into()),
        gateway: Some("outbox".into()),
        gateway_message_id: Some(format!("sms/00/{n}.json")),
        content_sha256: Some(sha256_hex(format!("Текст {n}").as_bytes())),
        request_sha256: None,
        response_sha256: None,
        error: None,
        received_when_sent: false,
    }
}

fn chain(n: i64) -> (Vec<Row>, Head) {
    let mut chain = Chain::after(Head::genesis());
    let rows = (0..n)
        .map(|i| {
            let sealed = chain.append(1_800_000_000_000 + i, Some("i".into()), None, fact(i));
            Row {
                seq: sealed.entry.seq,
                body: sealed.body,
                hash: sealed.hash,
            }
        })
        .collect();
    (rows, chain.head().clone())
}

fn walk(rows: &[Row], head: &Head) -> Result<(), Break> {
    let mut walker = Walker::default();
    rows.iter().try_for_each(|r| walker.feed(r))?;
    walker.finish(head)
}

#[test]
fn the_canonical_form_sorts_keys_and_has_no_spaces() {
    let (rows, _) = chain(1);
    let body = &rows[0].body;
    assert!(
        body.starts_with(r#"{"at":1800000000000,"data":{"attempt":0,"channel":"sms","#),
        "{body}"
    );
    assert!(body.contains(r#""error":null,"#));
    assert!(
        body.ends_with(&format!(r#""prev":"{GENESIS}","seq":1}}"#)),
        "{body}"
    );
    assert!(!body.contains(": ") && !body.contains(", "));
}

#[test]
fn an_entry_sealed_from_its_early_form_has_the_canonical_bytes() {
    let facts = [
        fact(1),
        Fact::Cancelled {
            reason: "не нужно: \"вручено\"\n\u{1F600} \\ \u{7f}".into(),
        },
        Fact::Escalated { legal_step: None },
        Fact::PersonalDataPurged {
            parts: vec!["names".into(), "phones".into()],
            messages: 0,
        },
    ];
    let mut chain = Chain::after(Head::genesis());
    for (i, fact) in facts.into_iter().enumerate() {
        let intent_id = (i % 2 == 0).then(|| "i".to_owned());
        let message_id = (i % 3 == 0).then(|| format!("m{i}"));
        let sealed = chain.seal(Unsealed::new(7, intent_id, message_id, fact));
        assert_eq!(sealed.body, canonical(&sealed.entry));
        assert_eq!(sealed.hash, sha256_hex(sealed.body.as_bytes()));
    }
}

#[test]
fn entries_round_trip_through_their_canonical_form() {
    let (rows, _) = chain(3);
    for row in rows {
        let entry: Entry = serde_json::from_str(&row.body).unwrap();
        assert_eq!(canonical(&entry), row.body);
    }
}

#[test]
fn received_when_sent_is_written_only_when_true_so_older_entries_keep_their_bytes() {
    let (rows, _) = chain(1);
    assert!(!rows[0].body.contains("received_when_sent"));
    let mut deemed = fact(1);
    if let Fact::MessageAttempt {
        received_when_sent, ..
    } = &mut deemed
    {
        *received_when_sent = true;
    }
    let sealed = Chain::after(Head::genesis()).append(7, None, None, deemed);
    assert!(sealed.body.contains(r#""received_when_sent":true"#));
    let entry: Entry = serde_json::from_str(&sealed.body).unwrap();
    assert_eq!(canonical(&entry), sealed.body);
}

#[test]
fn an_untouched_chain_verifies() {
    let (rows, head) = chain(5);
    assert_eq!(walk(&rows, &head), Ok(()));
    assert_eq!(walk(&[], &Head::genesis()), Ok(()));
}

#[test]
fn an_edited_body_is_found() {
    let (mut rows, head) = chain(5);
    rows[2].body = rows[2].body.replace("sms/00/2.json", "sms/00/9.json");
    assert_eq!(walk(&rows, &head), Err(Break::Edited { seq: 3 }));
}

#[test]
fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    let (mut rows, head) = chain(5);
    rows[2].body = rows[2].body.replace("sms/00/2.json", "sms/00/9.json");
    rows[2].hash = sha256_hex(rows[2].body.as_bytes());
    assert_eq!(walk(&rows, &head), Err(Break::Unlinked { seq: 4 }));
}

#[test]
fn a_deleted_entry_is_found() {
    let (mut rows, head) = chain(5);
    rows.remove(1);
    assert_eq!(
        walk(&rows, &head),
        Err(Break::Missing {
            expected: 2,
            found: 3
        })
    );
}

#[test]
fn a_deleted_tail_is_found_by_the_head() {
    let (mut rows, head) = chain(5);
    rows.truncate(3);
    assert_eq!(walk(&rows, &head), Err(Break::Head { last: 3, head: 5 }));
}

#[test]
fn swapped_entries_are_found() {
    let (mut rows, head) = chain(5);
    let (a, b) = (rows[1].clone(), rows[2].clone());
    rows[1].body = b.body;
    rows[1].hash = b.hash;
    rows[2].body = a.body;
    rows[2].hash = a.hash;
    assert_eq!(
        walk(&rows, &head),
        Err(Break::Misplaced { seq: 2, claims: 3 })
    );
}

#[test]
fn an_inserted_entry_is_found() {
    let (rows, head) = chain(4);
    // A forged entry sealed after entry 2, with the later rows renumbered around it.
    let mut forger = Chain::after(Head {
        seq: 2,
        hash: rows[1].hash.clone(),
    });
    let forged = forger.append(1, None, None, fact(99));
    let mut tampered = rows[..2].to_vec();
    tampered.push(Row {
        seq: 3,
        body: forged.body,
        hash: forged.hash,
    });
    tampered.extend(rows[2..].iter().cloned().map(|mut r| {
        r.seq += 1;
        r
    }));
    // Row 4 now holds the old entry 3.
    assert_eq!(
        walk(&tampered, &head),
        Err(Break::Misplaced { seq: 4, claims: 3 })
    );
}

#[test]
fn a_rewritten_chain_misses_its_checkpoint() {
    let (rows, _) = chain(4);
    let checkpoints = [(2, rows[1].hash.clone())].into_iter().collect();
    // Everything after entry 1 rewritten consistently, head included.
    let mut forger = Chain::after(Head {
        seq: 1,
        hash: rows[0].hash.clone(),
    });
    let mut forged = vec![rows[0].clone()];
    for i in 1..4 {
        let s = forger.append(7, None, None, fact(100 + i));
        forged.push(Row {
            seq: s.entry.seq,
            body: s.body,
            hash: s.hash,
        });
    }
    let mut walker = Walker::with_checkpoints(checkpoints);
    let result = forged.iter().try_for_each(|r| walker.feed(r));
    assert_eq!(result, Err(Break::Checkpoint { seq: 2 }));
}

#[test]
fn ranges_compress_sorted_indexes() {
    assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), vec![[0, 3], [5, 6], [7, 9]]);
    assert!(ranges(&[]).is_empty());
}
