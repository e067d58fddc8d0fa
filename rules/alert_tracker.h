#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "vigie/v1/vigie.pb.h"

// The life of alerts: findings of successive evaluations become PENDING
// and FIRING alerts, updates of their severity, and RESOLVED (or, for one
// that never fired, INACTIVE) alerts. Pure functions
// (the caller stores the alerts and the time); thread-safe.

namespace vigie::rules {

// Stable id of an alert's (rule, model, attribute): 16 lowercase hex digits
// of FNV-1a 64 over the three fields, each preceded by its length as 8
// little-endian bytes (so that ("ab", "c") and ("a", "bc") differ). The same
// on every process and machine, unlike absl::Hash, which is seeded per
// process: a restarted server finds its alerts again.
std::string Fingerprint(absl::string_view rule_id, absl::string_view model_id,
                        absl::string_view attribute);

// An alert to store (and maybe notify).
struct AlertChange {
  vigie::v1::Alert alert;
  // True when the alert started firing, changed severity or resolved: the
  // changes worth a notification. False for a refresh of a firing alert's
  // measurements (value, interval, p-value, samples, message, ...).
  bool transition = false;
};

// Applies `findings` (one evaluation of `policy`'s rules over `window`) to
// the `current` alerts (latest alert per fingerprint, in any state), at
// wall-clock time `now`, as Prometheus does with `for` and
// `keep_firing_for` (counted in evaluations). Per finding, with F its
// fingerprint and R its rule:
// - a breach (a severity), F neither PENDING nor FIRING: F's
//   breaching_evaluations is 1; it FIRES at once if R's `for` is 1
//   (started_at = updated_at = now; a transition), else it is PENDING
//   (started_at = updated_at = now; not a transition).
// - a breach, F PENDING: one more breaching evaluation; it FIRES once they
//   reach `for` (a transition), else stays PENDING (its start kept).
// - a breach, F FIRING with another severity: the new severity and values,
//   updated_at = now; a transition. With the same severity: refreshed
//   measurements, timestamps unchanged, not a transition, and returned only
//   when a field other than the window changed (a moving window alone is
//   no news). healthy_evaluations goes back to 0.
// - healthy, F PENDING: INACTIVE (it never fired), updated_at = now.
// - healthy, F FIRING: one more healthy evaluation; past R's
//   `keep_firing_for` of them, RESOLVED with the finding's values and its
//   last severity, updated_at = resolved_at = now (a transition); until
//   then still FIRING as it was, only the count changed.
// - healthy otherwise: nothing.
// Every field of a new or refreshed alert is filled from the finding, its
// rule and `policy` (a rule missing from `policy` leaves the citation fields
// empty and counts as `for` 1, `keep_firing_for` 0).
//
// `counts` says whether this evaluation is one that `for` and
// `keep_firing_for` count (the caller makes one every
// Policy::evaluation_interval); one that is not (a query that wants fresh
// values) may start a count at 1 but never advances one, so that polling
// cannot make an alert fire or resolve sooner.
std::vector<AlertChange> TrackAlerts(
    const std::vector<Finding>& findings, const Policy& policy,
    const absl::flat_hash_map<std::string, vigie::v1::Alert>& current,
    const vigie::v1::TimeWindow& window, absl::Time now, bool counts = true);

// Closes the open alerts of `model_id` that an evaluation no longer
// produces a finding for (`evaluated` holds the fingerprints it did): their
// rule left the policy, stopped applying to the model or the attribute, or
// the attribute has no events in the window any more. A FIRING alert is
// RESOLVED (keeping its severity and values; `reason` ends its message), a
// PENDING one INACTIVE, both at `now`. Without this they would stay open
// for ever, and Alertmanager would keep them firing.
std::vector<AlertChange> RetireAlerts(
    absl::string_view model_id,
    const absl::flat_hash_set<std::string>& evaluated,
    const absl::flat_hash_map<std::string, vigie::v1::Alert>& current,
    absl::Time now, absl::string_view reason);

}  // namespace vigie::rules
