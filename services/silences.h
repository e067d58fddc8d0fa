#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/state_store.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {

// Whether every matcher of `silence` matches `alert` (see vigie.v1.Matcher:
// equality on a named field, or on a scope key for any other name). Says
// nothing of time.
bool SilenceMatches(const vigie::v1::Silence& silence,
                    const vigie::v1::Alert& alert);

// PENDING before starts_at, ACTIVE in [starts_at, ends_at), EXPIRED after.
vigie::v1::SilenceState SilenceStateAt(const vigie::v1::Silence& silence,
                                       absl::Time now);

// The silences, modelled on Alertmanager's: created with matchers and a
// time range, expired early by hand, kept (expired) for kExpiredRetention
// after they end so that a listing shows what muted what, then deleted.
// Each change is written to the state store before it shows, so a silence
// a call returned survives a restart. Thread-safe; matching an alert is
// O(silences x matchers).
class Silences {
 public:
  static constexpr absl::Duration kExpiredRetention = absl::Hours(5 * 24);

  // Loads the silences kept in `store`, which must outlive this.
  static absl::StatusOr<std::unique_ptr<Silences>> Load(
      storage::StateStore* store);

  // kInvalidArgument for no matcher with a value, an empty matcher name, an
  // unknown severity, no created_by, or an end not after both `now` and
  // the start. The new silence, with its id and state.
  absl::StatusOr<vigie::v1::Silence> Create(
      const vigie::v1::CreateSilenceRequest& request, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends silence `id` at `now` (a pending one never starts). kNotFound for
  // an unknown id, kFailedPrecondition for one already expired.
  absl::StatusOr<vigie::v1::Silence> Expire(absl::string_view id,
                                            absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Pending and active silences (and expired ones if asked), latest-ending
  // first, each with its state at `now`.
  std::vector<vigie::v1::Silence> List(bool include_expired,
                                       absl::Time now) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ids of the silences active at `now` that match `alert`, sorted.
  std::vector<std::string> Muting(const vigie::v1::Alert& alert,
                                  absl::Time now) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The first start or end of a silence after `now`: when Muting may next
  // change. InfiniteFuture if none.
  absl::Time NextChange(absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the silences that ended more than kExpiredRetention before
  // `now`.
  absl::Status Collect(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit Silences(storage::StateStore* store) : store_(store) {}

  storage::StateStore* const store_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, vigie::v1::Silence> silences_
      ABSL_GUARDED_BY(mu_);
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigie::services
