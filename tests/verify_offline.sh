#!/bin/sh
# Checks a Vestnik proof bundle offline, with jq and sha256sum only — the recipe of the
# README's "Proofs" section, run as it stands by tests/proofs.rs.
#
#   verify_offline.sh BUNDLE_DIR [LEDGER.jsonl]
#
# BUNDLE_DIR is the unpacked ZIP (bundle.json, content/, receipts/, evidence/).
# LEDGER.jsonl, if given, is `vestnik ledger export`: the whole chain is then walked too,
# and the bundle's entries must be in it. Exit 0 when everything holds; otherwise the
# first failure is printed and the exit status is 1.
set -eu
dir=$1
ledger=${2:-}
b="$dir/bundle.json"
fail() { echo "FAIL: $*" >&2; exit 1; }
sha() { sha256sum | cut -c1-64; }

# 1. Each entry hashes to its hash: SHA-256 of its canonical form (RFC 8785 = jq -cS),
#    and sits at the position it claims.
jq -c '.ledger.entries[]' "$b" | while IFS= read -r item; do
  seq=$(printf '%s' "$item" | jq -r .seq)
  want=$(printf '%s' "$item" | jq -r .hash)
  got=$(printf '%s' "$item" | jq -cjS .entry | sha)
  [ "$want" = "$got" ] || fail "ledger entry $seq: its content hashes to $got, not $want"
  [ "$(printf '%s' "$item" | jq .entry.seq)" = "$seq" ] || fail "ledger entry $seq claims another position"
done

# 2. Consecutive entries link: entry n+1 carries the hash of entry n.
broken=$(jq -r '.ledger.entries as $e | range(1; $e | length)
  | select($e[.].seq == $e[. - 1].seq + 1 and $e[.].entry.prev != $e[. - 1].hash) | $e[.].seq' "$b")
[ -z "$broken" ] || fail "ledger entry $broken does not link to the entry before it"

# 3. Each stored message is the exact bytes whose hash the ledger recorded when it was sent.
jq -r --arg dir "$dir" '. as $b | .recipients[].messages[] | select(.content.file) | . as $m
  | ([$b.ledger.entries[].entry | select(.kind == "message_attempt" and .message_id == $m.id
      and .data.outcome == "sent") | .data.content_sha256] | last // "not-in-ledger") as $h
  | "\($h)  \($dir)/\(.content.file)"' "$b" > "$dir/.content.sha256"
[ ! -s "$dir/.content.sha256" ] || sha256sum --quiet -c "$dir/.content.sha256" || fail "a stored message differs from what the ledger recorded"

# 4. Each raw gateway report is the one whose hash the ledger recorded on receipt.
jq -r --arg dir "$dir" '. as $b | .recipients[].messages[].receipts[] | select(.raw.file) | . as $r
  | ([$b.ledger.entries[].entry | select(.kind == "receipt_recorded" and .data.receipt_id == $r.id)
      | .data.raw_sha256] | last // "not-in-ledger") as $h
  | "\($h)  \($dir)/\(.raw.file)"' "$b" > "$dir/.receipts.sha256"
[ ! -s "$dir/.receipts.sha256" ] || sha256sum --quiet -c "$dir/.receipts.sha256" || fail "a stored report differs from what the ledger recorded"

# 5. Deadlines and verdicts follow from the ledger's facts: the deadline is the one its
#    entry recorded; "delivered" needs a delivered report on a legal-notice message, or
#    its sending where the ledger says it is deemed received when sent (Decree 442), on
#    time exactly when that moment is not after the deadline's last second.
problems=$(jq -r '. as $b | .recipients[] | . as $r
  | ([$r.messages[] | select(.legal_step != null) | .id]) as $legal
  | ([$b.ledger.entries[] | select(.seq == $r.deadline.ledger_seq) | .entry.data.deadline_at] | first) as $d
  | ([($b.ledger.entries[].entry | select(.kind == "receipt_recorded" and .data.status == "delivered"
      and .data.applied and (.message_id as $id | $legal | any(.[]; . == $id)))
      | (.data.provider_time // .data.received_at)),
     ($b.ledger.entries[].entry | select(.kind == "message_attempt" and .data.outcome == "sent"
      and .data.received_when_sent == true and (.message_id as $id | $legal | any(.[]; . == $id)))
      | .at)] | min) as $t
  | if $r.deadline != null and $d != $r.deadline.at_ms then "recipient \($r.idx): deadline is not the recorded one"
    elif ($r.verdict | startswith("delivered")) and $t == null then "recipient \($r.idx): \($r.verdict) without a delivery report in the ledger"
    elif ($r.verdict | startswith("delivered")) and (($t < (($d / 1000 | floor) + 1) * 1000) != ($r.verdict == "delivered_on_time")) then "recipient \($r.idx): \($r.verdict) contradicts delivery at \($t), deadline \($d)"
    elif ($r.verdict | startswith("delivered") | not) and $t != null then "recipient \($r.idx): \($r.verdict) although the ledger has a delivery"
    else empty end' "$b")
[ -z "$problems" ] || fail "$problems"

# 6. A purge is itself in the ledger; what it removed is listed, the hashes stay.
if [ "$(jq '.purged != null' "$b")" = true ]; then
  jq -e '[.ledger.entries[].entry.kind] | index("personal_data_purged")' "$b" >/dev/null \
    || fail "the bundle says purged but the ledger has no purge entry"
  echo "purged: $(jq -r '.purged.parts | join(", ")' "$b") at $(jq -r .purged.at "$b")"
fi

# 7. With the exported ledger: walk the whole chain, check it ends at its head, and that
#    every entry of the bundle is in it.
if [ -n "$ledger" ]; then
  prev=0000000000000000000000000000000000000000000000000000000000000000
  expect=1
  jq -c 'select(.entry)' "$ledger" > "$dir/.chain"
  while IFS= read -r item; do
    seq=$(printf '%s' "$item" | jq -r .seq)
    hash=$(printf '%s' "$item" | jq -r .hash)
    [ "$seq" = "$expect" ] || fail "the ledger export skips from entry $((expect - 1)) to $seq"
    [ "$(printf '%s' "$item" | jq -cjS .entry | sha)" = "$hash" ] || fail "exported entry $seq does not hash to $hash"
    [ "$(printf '%s' "$item" | jq -r .entry.prev)" = "$prev" ] || fail "exported entry $seq does not link to entry $((seq - 1))"
    prev=$hash
    expect=$((seq + 1))
  done < "$dir/.chain"
  [ "$(jq -r 'select(.head) | .head.hash' "$ledger")" = "$prev" ] || fail "the exported chain does not end at its head"
  jq -r '.ledger.entries[] | "\(.seq) \(.hash)"' "$b" | while read -r seq hash; do
    [ "$(jq -s --argjson s "$seq" --arg h "$hash" 'any(.[]; .seq == $s and .hash == $h)' "$dir/.chain")" = true ] \
      || fail "bundle entry $seq is not in the exported ledger"
  done
  echo "chain: $((expect - 1)) entries, head $prev"
fi

echo "OK: $(jq '.ledger.entries | length' "$b") ledger entries, $(wc -l < "$dir/.content.sha256") messages, $(wc -l < "$dir/.receipts.sha256") reports checked"
