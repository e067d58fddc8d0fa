#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/state_store.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {

// Who is on which firing alert. An acknowledgement holds while its alert
// fires with the severity and start it had when acknowledged: once the
// alert resolves (a later firing has another start) or changes severity,
// it no longer shows, whether or not the record was deleted yet. That
// makes clearing it a matter of state, never of catching a notification,
// and a restart cannot revive one. Records that stopped holding are
// deleted from the store by Collect. Thread-safe.
class Acknowledgements {
 public:
  // Loads those kept in `store`, which must outlive this.
  static absl::StatusOr<std::unique_ptr<Acknowledgements>> Load(
      storage::StateStore* store);

  // Records, durably, that `by` acknowledged `alert` at `now`, replacing an
  // earlier acknowledgement of it. kInvalidArgument for an empty `by`;
  // kFailedPrecondition unless the alert is FIRING.
  absl::Status Record(const vigie::v1::Alert& alert, absl::string_view by,
                      absl::string_view comment, absl::Time now)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);
  // Sets `alert`'s acknowledged_* fields from the acknowledgement that
  // holds for it, and clears them if none does. O(1).
  void Apply(vigie::v1::Alert* alert) const ABSL_LOCKS_EXCLUDED(mu_);
  // Drops the acknowledgement of `alert`'s fingerprint from memory if it
  // no longer holds for `alert` (its latest state), and queues its record
  // for Collect. Never blocks on the disk.
  void Release(const vigie::v1::Alert& alert) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether Release queued records for Collect.
  bool HasReleased() const ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the records Release queued.
  absl::Status Collect() ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

 private:
  explicit Acknowledgements(storage::StateStore* store) : store_(store) {}

  storage::StateStore* const store_;
  // Serialises the store writes, so that Collect never deletes the record
  // of an alert acknowledged again meanwhile. Taken before mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, state::v1::AcknowledgementState> held_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::string> released_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigie::services
