#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "vigie/v1/vigie.pb.h"

// The life of alerts: findings of successive evaluations become FIRING
// alerts, updates of their severity, and RESOLVED alerts. Pure functions
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
// wall-clock time `now`. Per finding, with F its fingerprint:
// - a severity, no FIRING alert for F: a new FIRING alert, started_at =
//   updated_at = now; transition.
// - a severity, F FIRING with another severity: the alert with the new
//   severity and values, updated_at = now; transition.
// - the same severity as F FIRING: the alert with refreshed measurements,
//   timestamps unchanged, not a transition; returned only when a field
//   other than the window changed (a moving window alone is no news).
// - healthy, F FIRING: the alert RESOLVED with the finding's values and its
//   last severity, updated_at = resolved_at = now; transition.
// - healthy, F not FIRING: nothing.
// Every field of a returned alert is filled from the finding, its rule and
// `policy` (a rule missing from `policy` leaves the citation fields empty).
std::vector<AlertChange> TrackAlerts(
    const std::vector<Finding>& findings, const Policy& policy,
    const absl::flat_hash_map<std::string, vigie::v1::Alert>& current,
    const vigie::v1::TimeWindow& window, absl::Time now);

}  // namespace vigie::rules
